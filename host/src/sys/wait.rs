//! Waiting with a deadline on a descriptor or a process (through a pidfd, which becomes readable
//! when the process ends), for the parent side: the runtime CLI, hooks, the compiler child.

use std::os::fd::{AsFd, OwnedFd};
use std::time::{Duration, Instant};

/// A pidfd of process `pid`, if it still exists.
pub fn pidfd(pid: i32) -> Option<OwnedFd> {
    rustix::process::pidfd_open(rustix::process::Pid::from_raw(pid)?, rustix::process::PidfdFlags::empty()).ok()
}

/// Waits until `fd` is readable or `limit` passes (signals do not cut it short); true when it is
/// readable.
pub fn readable(fd: impl AsFd, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = nix::poll::PollTimeout::try_from(left.as_millis().min(i32::MAX as u128) as i32)
            .unwrap_or(nix::poll::PollTimeout::MAX);
        let mut fds = [nix::poll::PollFd::new(fd.as_fd(), nix::poll::PollFlags::POLLIN)];
        match nix::poll::poll(&mut fds, timeout) {
            Ok(n) => return n > 0,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return false,
        }
    }
}

/// Waits for process `pid` to end, at most `limit`; true when it has (or when it cannot be
/// watched: it is gone, or the kernel is older than 5.3).
pub fn ended_within(pid: i32, limit: Duration) -> bool {
    match pidfd(pid) {
        Some(fd) => readable(&fd, limit),
        None => true,
    }
}
