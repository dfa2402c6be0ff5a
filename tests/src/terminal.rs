//! A pseudo-terminal for tests of `sbx run -it` and `sbx exec -it`: sbx runs with the terminal's
//! other side as its stdin, stdout, stderr and controlling terminal, as in a user's shell; the test
//! types into it, resizes it and reads what sbx shows.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

pub struct Terminal {
    master: File,
    slave: OwnedFd,
}

/// The terminal's settings as bytes, to compare before and after.
pub type Settings = Vec<u8>;

impl Terminal {
    pub fn open(rows: u16, cols: u16) -> Terminal {
        let (mut master, mut slave) = (0, 0);
        let size = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: openpty fills the two live ints and reads the live `size`; no name is asked for.
        let ret = unsafe { libc::openpty(&mut master, &mut slave, std::ptr::null_mut(), std::ptr::null(), &size) };
        assert_eq!(ret, 0, "openpty: {}", std::io::Error::last_os_error());
        // SAFETY: openpty just made both descriptors; each goes to exactly one owner here.
        unsafe {
            libc::fcntl(master, libc::F_SETFD, libc::FD_CLOEXEC);
            libc::fcntl(slave, libc::F_SETFD, libc::FD_CLOEXEC);
            Terminal { master: File::from_raw_fd(master), slave: OwnedFd::from_raw_fd(slave) }
        }
    }

    /// Starts `cmd` in a session of its own with this terminal as its controlling terminal and
    /// stdin, stdout and stderr.
    pub fn spawn(&self, mut cmd: Command) -> Child {
        let slave = self.slave.as_raw_fd();
        // SAFETY: between fork and exec the closure only makes async-signal-safe syscalls.
        unsafe {
            cmd.pre_exec(move || {
                libc::setsid();
                libc::ioctl(slave, libc::TIOCSCTTY, 0);
                for fd in 0..3 {
                    libc::dup2(slave, fd);
                }
                Ok(())
            });
        }
        cmd.spawn().expect("spawning in the terminal")
    }

    pub fn settings(&self) -> Settings {
        // SAFETY: termios is plain data for which all zeros is valid.
        let mut t: libc::termios = unsafe { std::mem::zeroed() };
        // SAFETY: tcgetattr fills the live `t`.
        assert_eq!(unsafe { libc::tcgetattr(self.slave.as_raw_fd(), &mut t) }, 0);
        // SAFETY: the bytes of `t`, a plain-data struct that lives across the borrow.
        let bytes = unsafe { std::slice::from_raw_parts((&t as *const libc::termios).cast::<u8>(), size_of_val(&t)) };
        bytes.to_vec()
    }

    /// Sets the window size (the kernel tells the terminal's foreground process group).
    pub fn resize(&self, rows: u16, cols: u16) {
        let size = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
        // SAFETY: TIOCSWINSZ reads the live `size`.
        assert_eq!(unsafe { libc::ioctl(self.master.as_raw_fd(), libc::TIOCSWINSZ, &size) }, 0);
    }

    pub fn type_text(&self, text: &str) {
        (&self.master).write_all(text.as_bytes()).expect("typing");
    }

    /// Reads what appears until `until` is in it (Ok) or `within` passes (Err with what appeared).
    pub fn read_until(&self, until: &str, within: Duration) -> Result<String, String> {
        let deadline = Instant::now() + within;
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let text = String::from_utf8_lossy(&seen).into_owned();
            if text.contains(until) {
                return Ok(text);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(text);
            }
            let mut pfd = libc::pollfd { fd: self.master.as_raw_fd(), events: libc::POLLIN, revents: 0 };
            // SAFETY: poll reads and fills the one live pollfd.
            if unsafe { libc::poll(&mut pfd, 1, left.as_millis().min(1000) as i32) } > 0 {
                match (&self.master).read(&mut buf) {
                    Ok(n) if n > 0 => seen.extend_from_slice(&buf[..n]),
                    _ => return Err(text),
                }
            }
        }
    }
}
