//! Acting on a running container from another sbx: `kill` (a signal to its process), `stop`
//! (SIGTERM, then SIGKILL after a grace period, as docker), `wait` (until it ends). Whether it runs
//! is its run lock, held by the sbx or monitor that runs it.

use super::state::{self, FindError};
use crate::image::Store;
use std::time::Duration;

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
}

/// The number of a signal given as `KILL`, `SIGKILL` or `9`.
pub fn signal_number(text: &str) -> Result<i32, ControlError> {
    let bad = || ControlError::BadSignal(text.to_string());
    if let Ok(n) = text.parse::<i32>() {
        return if (1..=64).contains(&n) { Ok(n) } else { Err(bad()) };
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    name.parse::<nix::sys::signal::Signal>().map(|s| s as i32).map_err(|_| bad())
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
    send(&record.name, record.pid, signal)?;
    if signal == libc::SIGKILL {
        // As docker's: a killed container has ended, and its end is recorded, when kill returns
        // (so `kill X && rm X` works).
        state::wait_stopped(&dir, None);
    }
    Ok(record.name)
}

/// SIGTERM, then SIGKILL if it still runs after `grace`; returns once it ended. A container that
/// does not run is already stopped.
pub fn stop(store: &Store, query: &str, grace: Duration) -> Result<String, ControlError> {
    let (dir, record) = state::find(store, query)?;
    if !state::is_running(&dir) {
        return Ok(record.name);
    }
    send(&record.name, record.pid, libc::SIGTERM)?;
    if !state::wait_stopped(&dir, Some(grace)) {
        // It may have ended between the check and the kill.
        let _ = send(&record.name, record.pid, libc::SIGKILL);
        state::wait_stopped(&dir, None);
    }
    Ok(record.name)
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
