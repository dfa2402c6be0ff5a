//! Signals sbx gets while it waits for a container's process in the foreground, passed on to that
//! process (docker's --sig-proxy; runc's `run` does the same).

use std::sync::atomic::{AtomicI32, Ordering};

/// The pid signals go to; 0 once it ended.
static TARGET: AtomicI32 = AtomicI32::new(0);

/// The signals passed on.
const FORWARDED: [i32; 6] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2];

extern "C" fn forward(sig: libc::c_int) {
    let pid = TARGET.load(Ordering::Relaxed);
    if pid > 0 {
        // SAFETY: kill(2) is async-signal-safe and takes two integers.
        unsafe { libc::kill(pid, sig) };
    }
}

/// From now on the signals above go to `pid` instead of ending sbx.
pub fn forward_to(pid: i32) {
    TARGET.store(pid, Ordering::Relaxed);
    for sig in FORWARDED {
        let handler = nix::sys::signal::SigHandler::Handler(forward);
        let action = nix::sys::signal::SigAction::new(
            handler,
            nix::sys::signal::SaFlags::SA_RESTART,
            nix::sys::signal::SigSet::empty(),
        );
        let sig = nix::sys::signal::Signal::try_from(sig).expect("classic signals");
        // SAFETY: the handler only reads an atomic and calls kill(2), both async-signal-safe.
        let _ = unsafe { nix::sys::signal::sigaction(sig, &action) };
    }
}

/// The process ended: a signal that comes now is not sent to a pid that may be reused.
pub fn stop() {
    TARGET.store(0, Ordering::Relaxed);
}
