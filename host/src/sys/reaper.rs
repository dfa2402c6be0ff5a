//! `--init`: a minimal PID 1 for the container, made by forking the container's own setup process
//! just before its exec, so that no program has to exist in the image. Like the rest of the child's
//! code it only makes syscalls: no allocation, no locks, no printing.

use super::SysResult;
use nix::errno::Errno;
use std::ptr;

/// Forks; returns Ok in the child (which goes on to exec the command); the parent becomes the
/// reaper and never returns.
pub fn fork_init() -> SysResult {
    // SAFETY: sigset_t is plain data for which all zeros is a valid (empty) value.
    let mut all: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let mut before: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: both sets are live locals the calls fill or read.
    unsafe {
        libc::sigfillset(&mut all);
        // Blocked from before the fork: a signal sent to PID 1 meanwhile waits for sigwaitinfo
        // (PID 1 drops signals it has no handler for, but never blocked ones).
        libc::sigprocmask(libc::SIG_BLOCK, &all, &mut before);
    }
    // A raw fork: glibc's fork() would run atfork handlers that take locks another thread of the
    // original parent may have held when it cloned us.
    // SAFETY: a fork-like clone of this single-threaded process; both sides go on with syscalls
    // only (the child to its exec, the parent in `reap`).
    let pid = unsafe { libc::syscall(libc::SYS_clone, libc::SIGCHLD as libc::c_ulong, 0, 0, 0, 0) };
    if pid < 0 {
        let errno = Errno::last();
        // SAFETY: `before` is the live mask saved above.
        unsafe { libc::sigprocmask(libc::SIG_SETMASK, &before, ptr::null_mut()) };
        return Err(errno);
    }
    if pid == 0 {
        // SAFETY: plain syscalls on this process and the live mask `before`.
        unsafe {
            // Its own process group, in the terminal's foreground when there is one (SIGTTOU is
            // still blocked, so tcsetpgrp from the background is allowed): ^C reaches the
            // command once, from the terminal, not also through the init.
            libc::setpgid(0, 0);
            libc::tcsetpgrp(0, libc::getpid());
            libc::sigprocmask(libc::SIG_SETMASK, &before, ptr::null_mut());
        }
        return Ok(());
    }
    reap(pid as libc::pid_t, &all)
}

fn reap(child: libc::pid_t, all: &libc::sigset_t) -> ! {
    // SAFETY: closes descriptors nothing in this process uses any more, and names it with a
    // NUL-terminated literal.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        libc::prctl(libc::PR_SET_NAME, c"sbx-init".as_ptr());
    }
    loop {
        // SAFETY: `all` is a live signal set; no siginfo is asked for.
        let sig = unsafe { libc::sigwaitinfo(all, ptr::null_mut()) };
        if sig != libc::SIGCHLD {
            if sig > 0 {
                // SAFETY: kill(2) takes two integers.
                unsafe { libc::kill(child, sig) };
            }
            continue;
        }
        loop {
            let mut status = 0;
            // SAFETY: `status` is a live int for the kernel to fill.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid <= 0 {
                break;
            }
            if pid == child {
                let code =
                    if libc::WIFSIGNALED(status) { 128 + libc::WTERMSIG(status) } else { libc::WEXITSTATUS(status) };
                // SAFETY: _exit(2) ends the init at once, as the command ended.
                unsafe { libc::_exit(code) };
            }
        }
    }
}
