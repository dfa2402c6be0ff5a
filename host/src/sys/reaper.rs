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

/// What the init shows as its command line (`ps`, /proc/1/cmdline).
const TITLE: &[u8] = b"sbx-init\0";

/// Overwrites the command line the init inherited from sbx (its host path and every argument of
/// `sbx run`) with [`TITLE`], and blanks the environment it inherited (/proc/1/environ), so
/// nothing of the host shows in the container. The arguments' bytes are zeroed and the last one
/// made non-zero: the kernel then reads the command line up to the first NUL (as for
/// setproctitle), which is the title. Best effort: nothing changes if /proc/self/stat cannot be
/// read.
fn retitle() {
    let mut buf = [0u8; 1024];
    // SAFETY: open(2) of a NUL-terminated literal path; read(2) into the live stack buffer, at
    // most its length; close(2) of the descriptor just opened.
    let n = unsafe {
        let fd = libc::open(c"/proc/self/stat".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
        if fd < 0 {
            return;
        }
        let n = libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
        libc::close(fd);
        n
    };
    let stat = &buf[..n.max(0) as usize];
    // SAFETY: each area is this process's as the kernel reports it (arguments, environment):
    // mapped, writable (on the initial stack) and no longer read by anything in this process.
    let area = |(start, end): (usize, usize)| unsafe { std::slice::from_raw_parts_mut(start as *mut u8, end - start) };
    if let Some(env) = area_of(stat, 50) {
        area(env).fill(0);
    }
    if let Some(args) = area_of(stat, 48).filter(|(start, end)| end - start > TITLE.len()) {
        let args = area(args);
        args.fill(0);
        args[..TITLE.len()].copy_from_slice(TITLE);
        args[args.len() - 1] = b' ';
    }
}

/// The area whose start and end are fields `field` and `field + 1` of a /proc/PID/stat line
/// (48: the arguments, 50: the environment). Pure.
fn area_of(stat: &[u8], field: usize) -> Option<(usize, usize)> {
    // The name (field 2) is in parentheses and may hold spaces: count from after the last ')'.
    let after = &stat[stat.iter().rposition(|b| *b == b')')? + 1..];
    let mut fields = after.split(|b| *b == b' ').filter(|f| !f.is_empty());
    let number = |f: &[u8]| std::str::from_utf8(f).ok()?.trim().parse::<usize>().ok();
    let start = number(fields.nth(field - 3)?)?;
    let end = number(fields.next()?)?;
    (start < end).then_some((start, end))
}

fn reap(child: libc::pid_t, all: &libc::sigset_t) -> ! {
    // SAFETY: closes descriptors nothing in this process uses any more, and names it with a
    // NUL-terminated literal.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
        libc::prctl(libc::PR_SET_NAME, c"sbx-init".as_ptr());
    }
    retitle();
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_argument_area_is_read_after_the_name() {
        let mut line = String::from("42 (a) b) c) S");
        for field in 4..=52 {
            line.push_str(&format!(
                " {}",
                match field {
                    48 => 1000,
                    49 => 1200,
                    _ => field,
                }
            ));
        }
        assert_eq!(area_of(line.as_bytes(), 48), Some((1000, 1200)));
        assert_eq!(area_of(line.as_bytes(), 50), Some((50, 51)));
        assert_eq!(area_of(b"42 (short) S 1 2", 48), None);
        let own = std::fs::read("/proc/self/stat").unwrap();
        assert!(area_of(&own, 48).is_some() && area_of(&own, 50).is_some());
    }
}
