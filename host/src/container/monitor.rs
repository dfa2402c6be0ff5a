//! The monitor of a detached container (as conmon is for podman): `sbx run -d` re-executes sbx in a
//! session of its own as `sbx _monitor ID`; it starts the container with stdout and stderr into
//! pipes (or with a terminal, `-t`), tells the launching sbx whether the start worked, copies the
//! output into the container's log (JSON lines, as docker's json-file driver) and to the clients of
//! its attach socket ([`super::attach`]), whose input it passes to the container's stdin with
//! `-i`, waits for the container and records its end. It
//! holds the container's run lock, so `sbx ps` knows the container runs exactly while it lives;
//! if it is killed, the container dies with it (its parent-death signal) and `sbx rm` cleans up.

use super::start::{self, StartOptions};
use super::state;
use super::{attach, log};
use crate::image::Store;
use crate::plugin::PluginSet;
use crate::spec::restart;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

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
    let log = File::options().create(true).append(true).open(dir.join(log::LOG));
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
    // Made before the container starts, so that `sbx attach` finds it once `sbx run -d` returns.
    let mut hub = match attach::Hub::listen(&dir) {
        Ok(hub) => hub,
        Err(e) => {
            tell(format!("125 cannot listen for attaching clients of {}: {e}", record.name));
            return Err(125);
        }
    };
    // With -i, a pipe the attaching clients write to (its write end the hub's).
    let stdin = match record.open_stdin {
        true => match nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC) {
            Ok(pipe) => Some(pipe),
            Err(e) => {
                tell(format!("125 cannot create the stdin pipe: {e}"));
                return Err(125);
            }
        },
        false => None,
    };
    let opts = StartOptions {
        rm,
        stdin: stdin.as_ref().map(|(r, _)| r.as_raw_fd()),
        stdout: Some(out_w.as_raw_fd()),
        stderr: Some(err_w.as_raw_fd()),
        ..Default::default()
    };
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
    let master = launched.take_terminal();
    if let Some((read, write)) = stdin {
        drop(read); // the container's alone: its end ends the writes
        // With a terminal, what clients type goes to it.
        let to = match &master {
            Some(m) => m.try_clone().ok(),
            None => Some(write),
        };
        if let Some(to) = to {
            hub.set_stdin(File::from(to));
        }
    }
    let outputs = match master {
        Some(master) => vec![(master, "stdout")],
        None => vec![(out_r, "stdout"), (err_r, "stderr")],
    };
    log::pump(outputs.into_iter().map(|(fd, name)| (fd, name, None)).collect(), &mut log, Some(&mut hub));
    let code = launched.wait().unwrap_or_else(|e| {
        eprintln!("sbx: {e}");
        e.exit_code()
    });
    // Clients see the end only once the end is recorded.
    drop(hub);
    Ok(code)
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
    fn a_report_is_ok_or_an_exit_code_and_message() {
        let (r, w) = nix::unistd::pipe().unwrap();
        File::from(w).write_all(b"127 exec \"nope\": executable file not found in $PATH").unwrap();
        assert_eq!(read_report(File::from(r)), Err((127, "exec \"nope\": executable file not found in $PATH".into())));
        let (r, w) = nix::unistd::pipe().unwrap();
        drop(w);
        assert_eq!(read_report(File::from(r)).unwrap_err().0, 125);
    }
}
