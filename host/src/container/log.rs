//! A container's log: its output as JSON lines in its directory (docker's json-file format), for
//! `sbx logs`. Whoever runs the container copies its output there: the monitor of a detached one,
//! and `sbx run` / `start -a` of one that stays (shown on sbx's own stdout and stderr as well).

use super::attach::Hub;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};

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

/// One stream of the container's output on its way into the log.
pub struct Stream {
    pub name: &'static str,
    pending: Vec<u8>,
}

impl Stream {
    pub fn new(name: &'static str) -> Stream {
        Stream { name, pending: Vec::new() }
    }

    /// Logs the whole lines of what was read.
    pub fn add(&mut self, log: &mut File, read: &[u8]) {
        let whole = lines(&mut self.pending, read);
        write_lines(log, self.name, whole);
    }

    /// Logs a last line without its newline.
    pub fn finish(&mut self, log: &mut File) {
        if !self.pending.is_empty() {
            let rest = String::from_utf8_lossy(&self.pending).into_owned();
            self.pending.clear();
            write_lines(log, self.name, vec![rest]);
        }
    }
}

/// Copies the container's output (its two pipes, or its terminal) into the log until the container
/// closes them; each stream also to its `echo` (sbx's own stdout or stderr) when given, until that
/// closes, and to the clients of the `hub` attached to it, whose input it serves meanwhile.
pub fn pump(outputs: Vec<(OwnedFd, &'static str, Option<File>)>, log: &mut File, mut hub: Option<&mut Hub>) {
    struct Open {
        file: File,
        stream: Stream,
        echo: Option<File>,
        open: bool,
    }
    let mut streams: Vec<Open> = outputs
        .into_iter()
        .map(|(fd, name, echo)| Open { file: File::from(fd), stream: Stream::new(name), echo, open: true })
        .collect();
    let mut buf = [0u8; 16 * 1024];
    while streams.iter().any(|s| s.open) {
        let open: Vec<usize> = (0..streams.len()).filter(|i| streams[*i].open).collect();
        let hub_fds = hub.as_deref().map(Hub::fds).unwrap_or_default();
        let mut fds: Vec<PollFd> = open
            .iter()
            .map(|i| streams[*i].file.as_fd())
            .chain(hub_fds.iter().copied())
            .map(|fd| PollFd::new(fd, PollFlags::POLLIN))
            .collect();
        if poll(&mut fds, PollTimeout::NONE).is_err() {
            continue;
        }
        let ready: Vec<bool> = fds.iter().map(|f| f.revents().is_some_and(|r| !r.is_empty())).collect();
        drop((fds, hub_fds));
        if let Some(hub) = hub.as_deref_mut() {
            hub.serve(&ready[open.len()..]);
        }
        for (i, _) in open.into_iter().zip(ready).filter(|(_, r)| *r) {
            let s = &mut streams[i];
            match s.file.read(&mut buf) {
                Ok(0) | Err(_) => {
                    s.open = false;
                    s.stream.finish(log);
                }
                Ok(n) => {
                    if s.echo.as_mut().is_some_and(|e| e.write_all(&buf[..n]).is_err()) {
                        s.echo = None; // a closed terminal or pipe: the log goes on
                    }
                    s.stream.add(log, &buf[..n]);
                    if let Some(hub) = hub.as_deref_mut() {
                        hub.send(if s.stream.name == "stderr" { 2 } else { 1 }, &buf[..n]);
                    }
                }
            }
        }
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
}
