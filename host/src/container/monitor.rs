//! The monitor of a detached container (as conmon is for podman): `sbx run -d` re-executes sbx in a
//! session of its own as `sbx _monitor ID`; it starts the container with stdout and stderr into
//! pipes (or with a terminal, `-t`), tells the launching sbx whether the start worked, copies the output into the container's
//! log (JSON lines, as docker's json-file driver), waits for the container and records its end. It
//! holds the container's run lock, so `sbx ps` knows the container runs exactly while it lives;
//! if it is killed, the container dies with it (its parent-death signal) and `sbx rm` cleans up.

use super::start::{self, StartOptions};
use super::state;
use crate::image::Store;
use crate::plugin::PluginSet;
use crate::spec::restart;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// The container's log, in its directory.
pub const LOG: &str = "container.log";

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogLine {
    /// The text, with its newline (the last line of a stream may lack one).
    pub log: String,
    /// `stdout` or `stderr`.
    pub stream: String,
    /// RFC 3339, when sbx read it.
    pub time: String,
}

/// Splits what was read from a stream into whole lines, keeping a partial last line in `pending`.
pub fn lines(pending: &mut Vec<u8>, read: &[u8]) -> Vec<String> {
    pending.extend_from_slice(read);
    let mut out = Vec::new();
    while let Some(i) = pending.iter().position(|b| *b == b'\n') {
        let line: Vec<u8> = pending.drain(..=i).collect();
        out.push(String::from_utf8_lossy(&line).into_owned());
    }
    out
}

fn write_lines(log: &mut File, stream: &str, lines: Vec<String>) {
    let time = crate::time::now_rfc3339();
    for line in lines {
        let entry = LogLine { log: line, stream: stream.into(), time: time.clone() };
        // A full disk loses log lines, never the container.
        let _ = writeln!(log, "{}", serde_json::to_string(&entry).expect("serializable"));
    }
}

struct Stream {
    file: File,
    name: &'static str,
    pending: Vec<u8>,
    open: bool,
}

/// Copies the container's output (its two pipes, or its terminal) into the log until the container
/// closes them.
fn pump(outputs: Vec<(OwnedFd, &'static str)>, log: &mut File) {
    let mut streams: Vec<Stream> = outputs
        .into_iter()
        .map(|(fd, name)| Stream { file: File::from(fd), name, pending: Vec::new(), open: true })
        .collect();
    let mut buf = [0u8; 16 * 1024];
    while streams.iter().any(|s| s.open) {
        let open: Vec<usize> = (0..streams.len()).filter(|i| streams[*i].open).collect();
        let mut fds: Vec<PollFd> =
            open.iter().map(|i| PollFd::new(streams[*i].file.as_fd(), PollFlags::POLLIN)).collect();
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let ready: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
        drop(fds);
        for (i, _) in open.into_iter().zip(ready).filter(|(_, r)| *r) {
            let s = &mut streams[i];
            match s.file.read(&mut buf) {
                Ok(0) | Err(_) => {
                    s.open = false;
                    if !s.pending.is_empty() {
                        let rest = String::from_utf8_lossy(&s.pending).into_owned();
                        s.pending.clear();
                        write_lines(log, s.name, vec![rest]);
                    }
                }
                Ok(n) => {
                    let whole = lines(&mut s.pending, &buf[..n]);
                    write_lines(log, s.name, whole);
                }
            }
        }
    }
}

/// The monitor's body; `report` is the pipe to the launching sbx: `ok`, or the error and its exit
/// code. Runs the container, and again as its restart policy says, with docker's backoff between
/// runs (`sbx stop` or `sbx kill` meanwhile ends that). Returns the monitor's exit code.
pub fn run(store: &Store, id: &str, plugins: &PluginSet, report: OwnedFd, rm: bool) -> i32 {
    let mut report = Some(File::from(report));
    let (mut restarts, mut delay) = (0, None);
    loop {
        let began = Instant::now();
        let code = match run_once(store, id, plugins, report.take(), rm) {
            Ok(code) => code,
            Err(code) => return code,
        };
        let Ok((dir, mut record)) = state::find(store, id) else { return code };
        let policy = state::load_spec(&dir).map(|s| s.restart).unwrap_or_default();
        let stopped = state::take_stopped_by_user(&dir);
        if !restart::should_restart(policy, code, restarts, stopped) {
            return code;
        }
        let wait = restart::backoff(delay, began.elapsed());
        delay = Some(wait);
        record.restarting = true;
        if record.save(&dir).is_err() {
            return code;
        }
        // Waits, looking for a stop or a removal meanwhile.
        let until = Instant::now() + wait;
        while Instant::now() < until {
            std::thread::sleep(RESTART_POLL.min(until.saturating_duration_since(Instant::now())));
            if !dir.exists() {
                return code;
            }
            if state::take_stopped_by_user(&dir) {
                record.restarting = false;
                let _ = record.save(&dir);
                return code;
            }
        }
        restarts += 1;
        // Still restarting until the start saves it running.
        let Some(mut now) = state::ContainerRecord::load(&dir) else { return code };
        now.restart_count += 1;
        if now.save(&dir).is_err() {
            return code;
        }
    }
}

/// How often a monitor waiting to restart its container looks for a stop.
const RESTART_POLL: Duration = Duration::from_millis(50);

/// One run of the container: Ok(its exit code), or Err(the monitor's) when it did not start (told
/// to `report` when there is one, else to the monitor's log).
fn run_once(store: &Store, id: &str, plugins: &PluginSet, report: Option<File>, rm: bool) -> Result<i32, i32> {
    let mut report = report;
    let mut tell = |text: String| match report.as_mut() {
        Some(r) => drop(r.write_all(text.as_bytes())),
        None => eprintln!("sbx: {}", text.split_once(' ').map_or(text.as_str(), |(_, m)| m)),
    };
    let (dir, record) = match state::find(store, id) {
        Ok(found) => found,
        Err(e) => {
            tell(format!("125 {e}"));
            return Err(125);
        }
    };
    let log = File::options().create(true).append(true).open(dir.join(LOG));
    let (pipes, mut log) = match (nix::unistd::pipe(), nix::unistd::pipe(), log) {
        (Ok(out), Ok(err), Ok(log)) => ((out, err), log),
        (_, _, Err(e)) => {
            tell(format!("125 cannot open the log of {}: {e}", record.name));
            return Err(125);
        }
        (Err(e), _, _) | (_, Err(e), _) => {
            tell(format!("125 cannot create the output pipes: {e}"));
            return Err(125);
        }
    };
    let ((out_r, out_w), (err_r, err_w)) = pipes;
    let opts =
        StartOptions { rm, stdout: Some(out_w.as_raw_fd()), stderr: Some(err_w.as_raw_fd()), ..Default::default() };
    let mut launched = match start::launch(store, dir, record, opts, None, plugins) {
        Ok(l) => l,
        Err(e) => {
            tell(format!("{} {e}", e.exit_code()));
            return Err(e.exit_code());
        }
    };
    // Only the container holds the write ends now: its exit closes them.
    drop((out_w, err_w));
    if let Some(mut r) = report {
        let _ = r.write_all(b"ok");
    }
    let outputs = match launched.take_terminal() {
        Some(master) => vec![(master, "stdout")],
        None => vec![(out_r, "stdout"), (err_r, "stderr")],
    };
    pump(outputs, &mut log);
    Ok(launched.wait().unwrap_or_else(|e| {
        eprintln!("sbx: {e}");
        e.exit_code()
    }))
}

/// Reads the monitor's report: Ok when the container runs, else (exit code, message).
pub fn read_report(mut from: File) -> Result<(), (i32, String)> {
    let mut text = String::new();
    let _ = from.read_to_string(&mut text);
    if text == "ok" {
        return Ok(());
    }
    match text.split_once(' ') {
        Some((code, message)) => Err((code.parse().unwrap_or(125), message.to_string())),
        None => Err((125, "the container's monitor ended before it started the container".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_cut_into_whole_lines() {
        let mut pending = Vec::new();
        assert_eq!(lines(&mut pending, b"one\ntw"), ["one\n"]);
        assert_eq!(lines(&mut pending, b"o\nthree\n"), ["two\n", "three\n"]);
        assert!(pending.is_empty());
        assert!(lines(&mut pending, b"partial").is_empty());
        assert_eq!(pending, b"partial");
    }

    #[test]
    fn a_report_is_ok_or_an_exit_code_and_message() {
        let (r, w) = nix::unistd::pipe().unwrap();
        File::from(w).write_all(b"127 exec \"nope\": executable file not found in $PATH").unwrap();
        assert_eq!(read_report(File::from(r)), Err((127, "exec \"nope\": executable file not found in $PATH".into())));
        let (r, w) = nix::unistd::pipe().unwrap();
        drop(w);
        assert_eq!(read_report(File::from(r)).unwrap_err().0, 125);
    }
}
