//! Acting on a running container from another sbx: `kill` (a signal to its process), `stop`
//! (its stop signal, then SIGKILL after a grace period, as docker), `wait` (until it ends),
//! `pause` and `unpause` (its cgroup's freezer). Whether it runs is its run lock, held by the sbx
//! or monitor that runs it.

use super::state::{self, FindError};
use crate::image::Store;
use crate::isolate::cgroup;
use std::time::Duration;

/// docker's grace period of `stop` when neither `-t` nor `--stop-timeout` gives one.
pub const DEFAULT_STOP_TIMEOUT: u64 = 10;

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error(transparent)]
    Find(#[from] FindError),
    #[error("container {0} is not running")]
    NotRunning(String),
    #[error("unknown signal '{0}': give a name such as TERM, SIGKILL or HUP, or a number")]
    BadSignal(String),
    #[error("cannot signal container {name}: {errno}")]
    Signal { name: String, errno: nix::errno::Errno },
    #[error("container {0} is already paused")]
    AlreadyPaused(String),
    #[error("container {0} is not paused")]
    NotPaused(String),
    #[error(
        "container {0} has no cgroup to freeze (a rootless container has none, nor has one run with --cgroups=disabled): it cannot be paused"
    )]
    NoCgroup(String),
    #[error(transparent)]
    Cgroup(#[from] cgroup::CgroupError),
}

impl ControlError {
    /// What the user asked cannot be done as things stand (docker's exit 1), rather than sbx failing.
    pub fn is_refusal(&self) -> bool {
        match self {
            ControlError::Find(f) => f.is_refusal(),
            ControlError::Signal { .. } | ControlError::Cgroup(_) => false,
            _ => true,
        }
    }
}

/// The number of a signal given as `KILL`, `SIGKILL` or `9`.
pub fn signal_number(text: &str) -> Result<i32, ControlError> {
    crate::spec::signal::number(text).ok_or_else(|| ControlError::BadSignal(text.to_string()))
}

fn send(name: &str, pid: Option<i32>, signal: i32) -> Result<(), ControlError> {
    let pid = pid.ok_or_else(|| ControlError::NotRunning(name.to_string()))?;
    // Any signal number, realtime ones included (nix's Signal names only the classic ones).
    // SAFETY: kill(2) takes two integers and touches no memory of this process.
    let r = unsafe { libc::kill(pid, signal) };
    if r != 0 {
        return Err(ControlError::Signal { name: name.to_string(), errno: nix::errno::Errno::last() });
    }
    Ok(())
}

/// Sends `signal` to the container's process. Returns its name.
pub fn kill(store: &Store, query: &str, signal: i32) -> Result<String, ControlError> {
    let (dir, record) = state::find(store, query)?;
    if !state::is_running(&dir) {
        return Err(ControlError::NotRunning(record.name));
    }
    if [libc::SIGKILL, libc::SIGTERM, libc::SIGINT].contains(&signal) {
        state::mark_stopped_by_user(&dir);
    }
    // Journalled first: the container's end, which its monitor journals, may come before the
    // signal's sender gets to it.
    state::journal(store.root(), &record, "kill", &[("signal", &signal.to_string())]);
    send(&record.name, record.pid, signal)?;
    if signal == libc::SIGKILL {
        // A paused container ends only once thawed (v1's freezer); other signals wait for unpause.
        thaw_after_signal(&record.id);
        // As docker's: a killed container has ended, and its end is recorded, when kill returns
        // (so `kill X && rm X` works).
        state::wait_stopped(&dir, None);
    }
    Ok(record.name)
}

/// A paused container's processes take a signal only once thawed: after `stop`, `kill` with
/// SIGKILL or `rm -f`, which are to end it, it is thawed so that the signal does that.
pub fn thaw_after_signal(id: &str) {
    let dirs = cgroup::existing(id);
    if cgroup::frozen(&dirs) {
        let _ = cgroup::set_frozen(&dirs, false);
    }
}

/// `signal`, else its stop signal (SIGTERM unless `--stop-signal` or the image said another), then SIGKILL if it
/// still runs after `grace` (`-t`; else its `--stop-timeout`, else 10 s); returns once it ended. A
/// container that does not run is already stopped.
pub fn stop(store: &Store, query: &str, grace: Option<Duration>, signal: Option<i32>) -> Result<String, ControlError> {
    let (dir, record) = state::find(store, query)?;
    // Marked first: its restart policy does not start it again, whether it runs or waits for a
    // restart.
    state::mark_stopped_by_user(&dir);
    if !state::is_running(&dir) {
        return Ok(record.name);
    }
    let spec = state::load_spec(&dir);
    let signal =
        signal.or_else(|| spec.as_ref().and_then(|s| s.stop_signal.as_deref()).and_then(crate::spec::signal::number));
    let timeout = spec.and_then(|s| s.stop_timeout).unwrap_or(DEFAULT_STOP_TIMEOUT);
    let grace = grace.unwrap_or(Duration::from_secs(timeout));
    let signal = signal.unwrap_or(libc::SIGTERM);
    // Journalled first: the container's end, which its monitor journals, may come before the
    // signal's sender gets to it.
    state::journal(store.root(), &record, "kill", &[("signal", &signal.to_string())]);
    send(&record.name, record.pid, signal)?;
    thaw_after_signal(&record.id);
    if !state::wait_stopped(&dir, Some(grace)) {
        // It may have ended between the check and the kill.
        let _ = send(&record.name, record.pid, libc::SIGKILL);
        state::wait_stopped(&dir, None);
    }
    state::journal(store.root(), &record, "stop", &[]);
    Ok(record.name)
}

/// Freezes (`freeze`) or thaws every process of a running container. Returns its name.
pub fn pause(store: &Store, query: &str, freeze: bool) -> Result<String, ControlError> {
    let (dir, record) = state::find(store, query)?;
    if !state::is_running(&dir) {
        return Err(ControlError::NotRunning(record.name));
    }
    let dirs = cgroup::existing(&record.id);
    if dirs.is_empty() {
        return Err(ControlError::NoCgroup(record.name));
    }
    match (cgroup::frozen(&dirs), freeze) {
        (true, true) => Err(ControlError::AlreadyPaused(record.name)),
        (false, false) => Err(ControlError::NotPaused(record.name)),
        _ => {
            cgroup::set_frozen(&dirs, freeze)?;
            state::journal(store.root(), &record, if freeze { "pause" } else { "unpause" }, &[]);
            Ok(record.name)
        }
    }
}

/// Waits for the container to end and returns its exit code.
pub fn wait(store: &Store, query: &str) -> Result<i32, ControlError> {
    let (dir, record) = state::find(store, query)?;
    state::wait_stopped(&dir, None);
    let record = state::ContainerRecord::load(&dir).unwrap_or(record);
    Ok(record.exit_code.unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals_by_name_or_number() {
        assert_eq!(signal_number("KILL").unwrap(), 9);
        assert_eq!(signal_number("sigterm").unwrap(), 15);
        assert_eq!(signal_number("1").unwrap(), 1);
        assert!(signal_number("FLY").is_err() && signal_number("0").is_err() && signal_number("99").is_err());
    }
}
