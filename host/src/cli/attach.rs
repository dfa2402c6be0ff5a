//! `sbx attach [--no-stdin] [--sig-proxy=BOOL] CONTAINER`: a running container's output from now on,
//! stdout to stdout and stderr to stderr, until it ends; exits with its exit code. A detached
//! container's monitor serves it ([`crate::container::attach`]): with `-i` what sbx reads goes to
//! the container's stdin, and with `-t` sbx's terminal is put in raw mode and Ctrl-P Ctrl-Q
//! (docker's keys, or `--detach-keys`) detaches. A container that an `sbx run` runs in the foreground is followed in
//! its log, output only. Signals sbx gets go to the container (docker's `--sig-proxy`, on by
//! default); `--sig-proxy=false` lets Ctrl-C detach.

use super::logs::{Shown, follow};
use crate::container::attach::{self, detach_scan, read_frame};

/// The parsed `--detach-keys` (a named type: clap takes a bare Vec for a repeated flag).
type DetachKeys = Vec<u8>;
use crate::container::log::LOG;
use crate::container::terminal::RawMode;
use crate::container::{signals, state};
use crate::image::Store;
use clap::Args;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Do not attach stdin.
    #[arg(long)]
    pub no_stdin: bool,
    /// The keys that detach from a container with a terminal: characters or ctrl-X, comma-separated.
    #[arg(long, value_name = "KEYS", default_value = attach::DETACH_KEYS, value_parser = attach::parse_detach_keys)]
    pub detach_keys: DetachKeys,
    /// Pass the signals sbx gets on to the container.
    #[arg(long, default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
    pub sig_proxy: bool,
    pub container: String,
}

pub fn attach(store: &Store, args: AttachArgs) -> i32 {
    let (dir, record) = match state::find(store, &args.container) {
        Ok(found) => found,
        Err(e) => return super::refuse_or_fail(&e, e.is_refusal()),
    };
    let pid = match record.pid {
        Some(pid) if state::is_running(&dir) => pid,
        _ => {
            let message = format!("cannot attach to a stopped container {}: start it first", record.name);
            return super::refuse_or_fail(message, true);
        }
    };
    let stream = match attach::connect(&dir) {
        Ok(stream) => Some(stream),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return super::fail(format!("cannot attach to {}: {e}", record.name)),
    };
    if args.sig_proxy {
        signals::forward_to(pid);
    }
    let detached = match stream {
        Some(stream) => {
            let input = record.open_stdin && !args.no_stdin;
            let terminal = state::load_spec(&dir).is_some_and(|s| s.terminal);
            through_monitor(stream, input, terminal.then_some(args.detach_keys))
        }
        None => match from_log(&dir) {
            Ok(()) => false,
            Err(message) => {
                signals::stop();
                return super::fail(format!("{}: {message}", record.name));
            }
        },
    };
    signals::stop();
    if detached {
        return 0;
    }
    // Its sbx recorded the end before it let go of the container.
    match state::ContainerRecord::load(&dir) {
        Some(r) => r.exit_code.unwrap_or(0),
        None => 0, // a --rm container, gone with its record
    }
}

/// Shows what the monitor sends until the container ends, sending stdin to it when `input` (with a
/// terminal, until its detach keys are typed); true when the user detached.
fn through_monitor(stream: UnixStream, input: bool, detach_keys: Option<Vec<u8>>) -> bool {
    let raw = (input && detach_keys.is_some()).then(RawMode::enter).flatten();
    let detached = Arc::new(AtomicBool::new(false));
    if input && let Ok(writer) = stream.try_clone() {
        let detached = detached.clone();
        std::thread::spawn(move || send_input(writer, detach_keys.as_deref(), &detached));
    }
    let mut reader = BufReader::new(stream);
    // A closed stdout or stderr (`sbx attach c | head`) ends the output quietly.
    while let Ok(Some((stream, bytes))) = read_frame(&mut reader) {
        let written = match stream {
            2 => std::io::stderr().write_all(&bytes),
            _ => std::io::stdout().write_all(&bytes).and_then(|()| std::io::stdout().flush()),
        };
        if written.is_err() {
            break;
        }
    }
    drop(raw);
    detached.load(Ordering::SeqCst)
}

/// Copies sbx's stdin to the monitor until it ends, or the detach keys (given with a terminal) are
/// typed.
fn send_input(mut to: UnixStream, detach_keys: Option<&[u8]>, detached: &AtomicBool) {
    let (mut stdin, mut buf, mut matched) = (std::io::stdin().lock(), [0u8; 16 * 1024], 0);
    loop {
        let n = match stdin.read(&mut buf) {
            Ok(0) | Err(_) => {
                // The container's stdin stays open for whoever attaches next.
                let _ = to.shutdown(Shutdown::Write);
                return;
            }
            Ok(n) => n,
        };
        let (typed, detach) = match detach_keys {
            Some(keys) => detach_scan(keys, &mut matched, &buf[..n]),
            None => (buf[..n].to_vec(), false),
        };
        if to.write_all(&typed).is_err() {
            return;
        }
        if detach {
            detached.store(true, Ordering::SeqCst);
            let _ = to.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Follows the container's log from its end until the container ends.
fn from_log(dir: &Path) -> Result<(), String> {
    let file = std::fs::File::open(dir.join(LOG)).and_then(|mut f| f.seek(SeekFrom::End(0)).map(|_| f));
    let file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err("it keeps no log (a --rm container run in the foreground): its output goes to the terminal that runs it".into());
        }
        Err(e) => return Err(format!("cannot read its output: {e}")),
    };
    follow(&mut BufReader::new(file), String::new(), dir, &Shown::default());
    Ok(())
}
