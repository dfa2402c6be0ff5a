//! `-t`, the parent's side: the container's process opens its terminal in the container's own
//! /dev/pts and sends the master side back over a socket pair ([`pair`], [`receive`]); sbx then
//! copies between it and the user's terminal ([`while_attached`]) in raw mode, passing on window size
//! changes, or the monitor copies it into the log.

use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::socket::{self, AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType};
use nix::sys::termios::{self, SetArg, Termios};
use std::fs::File;
use std::io::{IoSliceMut, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};

/// The socket pair the master comes back on: (sbx's end, the child's end).
pub fn pair() -> std::io::Result<(OwnedFd, OwnedFd)> {
    Ok(socket::socketpair(AddressFamily::Unix, SockType::SeqPacket, None, SockFlag::SOCK_CLOEXEC)?)
}

/// Receives the master the child sent (after the child reported that it runs).
pub fn receive(socket: &OwnedFd) -> std::io::Result<OwnedFd> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!(libc::c_int);
    let msg = socket::recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)?;
    for cmsg in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg
            && let Some(fd) = fds.first()
        {
            // SAFETY: SCM_RIGHTS gave this process a new descriptor that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(*fd) });
        }
    }
    Err(std::io::Error::other("the container's process did not send its terminal"))
}

pub fn is_terminal(fd: BorrowedFd) -> bool {
    termios::tcgetattr(fd).is_ok()
}

/// The window size of sbx's own terminal (stdin's, else stdout's): (rows, columns), or (0, 0).
pub fn size() -> (u16, u16) {
    [0, 1].into_iter().find_map(size_of_fd).unwrap_or((0, 0))
}

fn size_of_fd(fd: i32) -> Option<(u16, u16)> {
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    // SAFETY: ioctl(2) fills `ws`, a live winsize; a descriptor that is not a terminal is an error.
    (unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 && ws.ws_row > 0).then_some((ws.ws_row, ws.ws_col))
}

/// The master the SIGWINCH handler resizes.
static MASTER: AtomicI32 = AtomicI32::new(-1);

extern "C" fn resize(_: libc::c_int) {
    let master = MASTER.load(Ordering::Relaxed);
    let mut ws = libc::winsize { ws_row: 0, ws_col: 0, ws_xpixel: 0, ws_ypixel: 0 };
    for fd in [0, 1] {
        // SAFETY: ioctl(2) on `ws`, a live winsize on this stack; async-signal-safe.
        if unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut ws) } == 0 {
            // SAFETY: as above; `master` is the terminal sbx relays, or -1 (an error, harmless).
            unsafe { libc::ioctl(master, libc::TIOCSWINSZ, &ws) };
            return;
        }
    }
}

/// sbx's terminal in raw mode (keys go to the container as typed; it echoes them); restored when
/// dropped.
pub struct RawMode(Termios);

impl RawMode {
    /// None when stdin is not a terminal.
    pub fn enter() -> Option<RawMode> {
        let stdin = std::io::stdin();
        let saved = termios::tcgetattr(stdin.as_fd()).ok()?;
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw).ok()?;
        Some(RawMode(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, &self.0);
    }
}

/// Runs `wait` (for process `pid`) with its terminal, when it has one, attached to sbx's: the
/// terminal's output to stdout (and to the container's `log` when given), and with `stdin` stdin
/// to it (sbx's terminal in raw mode), until the process ended and its output was shown. One thread, polling: `sbx exec` has joined the
/// container's PID namespace, where sbx can make no more threads.
pub fn while_attached<T>(
    master: Option<OwnedFd>,
    pid: i32,
    stdin: bool,
    log: Option<&mut File>,
    wait: impl FnOnce() -> T,
) -> T {
    if let Some(master) = master {
        let process = rustix::process::Pid::from_raw(pid).expect("a child's pid is positive");
        let ended = rustix::process::pidfd_open(process, rustix::process::PidfdFlags::empty());
        if let Err(e) = &ended {
            eprintln!("sbx: warning: cannot watch process {pid}: {}", std::io::Error::from(*e));
        }
        if let Ok(ended) = ended {
            let master = File::from(master);
            MASTER.store(master.as_raw_fd(), Ordering::Relaxed);
            if is_terminal(std::io::stdin().as_fd()) || is_terminal(std::io::stdout().as_fd()) {
                use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};
                let action = SigAction::new(SigHandler::Handler(resize), SaFlags::SA_RESTART, SigSet::empty());
                // SAFETY: the handler reads an atomic and makes two ioctls, all async-signal-safe.
                let _ = unsafe { sigaction(Signal::SIGWINCH, &action) };
            }
            let raw = if stdin { RawMode::enter() } else { None };
            relay(&master, &ended, stdin, log);
            drop(raw);
            MASTER.store(-1, Ordering::Relaxed);
        }
    }
    wait()
}

fn ready(f: Option<&PollFd>) -> bool {
    f.and_then(PollFd::revents).is_some_and(|r| !r.is_empty())
}

/// Copies until the process ended and the terminal's output stops: at its end (EIO: every holder
/// of the other side closed it) or after a short silence (background processes of an exec may
/// keep it open).
fn relay(mut master: &File, ended: &OwnedFd, mut input: bool, mut log: Option<&mut File>) {
    let mut logged = super::log::Stream::new("stdout");
    let (mut stdin, mut stdout) = (std::io::stdin().lock(), std::io::stdout().lock());
    let mut buf = [0u8; 16 * 1024];
    let mut exited = false;
    loop {
        let mut fds = vec![PollFd::new(master.as_fd(), PollFlags::POLLIN)];
        if !exited {
            fds.push(PollFd::new(ended.as_fd(), PollFlags::POLLIN));
            if input {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLIN));
            }
        }
        let timeout = if exited { PollTimeout::from(100u16) } else { PollTimeout::NONE };
        match poll(&mut fds, timeout) {
            Ok(0) => break,
            Ok(_) => {}
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => break,
        }
        let (output, end, typed) = (ready(fds.first()), ready(fds.get(1)), ready(fds.get(2)));
        drop(fds);
        if output {
            match master.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let Some(log) = log.as_deref_mut() {
                        logged.add(log, &buf[..n]);
                    }
                    if stdout.write_all(&buf[..n]).and_then(|()| stdout.flush()).is_err() {
                        break;
                    }
                }
            }
        }
        exited |= end;
        if typed {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => input = false,
                Ok(n) => {
                    if master.write_all(&buf[..n]).is_err() {
                        input = false;
                    }
                }
            }
        }
    }
    if let Some(log) = log {
        logged.finish(log);
    }
}
