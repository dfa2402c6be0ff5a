//! User-mode networking for containers of a user that is not root (and for `--network slirp4netns`
//! as root): `slirp4netns` (Debian's package of that name, what rootless podman uses there) joins
//! the container's namespaces, makes its `tap0` with 10.0.2.100/24 and a default route, and carries
//! its traffic through sockets of the user's own. Published ports are its host forwards, asked for
//! over its API socket. It lives as long as whoever holds the write end of its exit pipe: the
//! process that waits for the container, however that one ends.

use super::NetworkError;
use crate::spec::PublishedPort;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const PROGRAM: &str = "slirp4netns";
/// The container's address, its gateway (the host, as slirp sees it) and slirp's DNS forwarder.
pub const ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 100);
pub const PREFIX: u8 = 24;
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
pub const DNS: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 3);
pub const INTERFACE: &str = "tap0";
/// Its API socket and its log, in the container's directory.
const SOCKET: &str = "slirp4netns.sock";
const LOG: &str = "slirp4netns.log";
/// How long it may take to be ready.
const READY: Duration = Duration::from_secs(10);

/// A running slirp4netns; dropping it ends it.
pub struct Slirp {
    child: Child,
    exit: Option<OwnedFd>,
}

impl Drop for Slirp {
    fn drop(&mut self) {
        // Its exit fd reads end-of-file: it ends at once (killed if it has not within 2 s).
        drop(self.exit.take());
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while matches!(self.child.try_wait(), Ok(None)) && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether slirp4netns is on PATH.
pub fn available() -> bool {
    std::env::var_os("PATH").is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(PROGRAM).is_file()))
}

fn failed(why: impl std::fmt::Display) -> NetworkError {
    NetworkError::Slirp(why.to_string())
}

/// Starts slirp4netns for the container in `dir`, whose network namespace is `netns` (its process
/// paused before it runs), and forwards `ports` (their host ports chosen) to it. slirp4netns gets
/// the namespace as an fd, and stays in sbx's user namespace (a rootless sbx's own, which owns
/// the namespace: see [`super::link::new_netns`]).
pub fn start(netns: BorrowedFd, dir: &Path, ports: &[PublishedPort]) -> Result<Slirp, NetworkError> {
    if !available() {
        return Err(NetworkError::SlirpMissing);
    }
    let (exit_read, exit_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(failed)?;
    let (ready_read, ready_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(failed)?;
    let log = std::fs::File::create(dir.join(LOG)).map_err(failed)?;
    let _ = std::fs::remove_file(dir.join(SOCKET));
    let mut cmd = Command::new(PROGRAM);
    cmd.args(["--configure", "--mtu=65520", "--disable-host-loopback", "--enable-sandbox", "--enable-seccomp"])
        .args(["--exit-fd=3", "--ready-fd=4", "--api-socket", SOCKET, "--netns-type=path", "/proc/self/fd/5"])
        .arg(INTERFACE)
        // A relative socket path: a store's directory can be longer than a socket's path may be.
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone().map_err(failed)?)
        .stderr(log);
    let fds = [exit_read.as_raw_fd(), ready_write.as_raw_fd(), netns.as_raw_fd()];
    // Its sandbox (a new mount namespace where it unmounts the old root) makes only "/" private:
    // run by root in the host's mount namespace, its unmount would reach the host's shared mounts
    // (`ip netns`'s /run/netns/*) by propagation. So root gives it a private namespace first; a
    // user's cannot propagate back (mounts a less privileged namespace copies become slaves).
    let private = nix::unistd::geteuid().is_root();
    // SAFETY: between fork and exec only unshare, mount, fcntl, dup2 and close_range, which are
    // async-signal-safe, on fds this process owns until the spawn returns. The fds are first
    // copied above 3, 4 and 5, so that none is overwritten by another's dup2; the copies dup2
    // makes at 3, 4 and 5 lose close-on-exec.
    unsafe {
        cmd.pre_exec(move || {
            let fail = || Err(std::io::Error::last_os_error());
            if private
                && (libc::unshare(libc::CLONE_NEWNS) < 0
                    || libc::mount(
                        c"none".as_ptr(),
                        c"/".as_ptr(),
                        std::ptr::null(),
                        libc::MS_REC | libc::MS_PRIVATE,
                        std::ptr::null(),
                    ) < 0)
            {
                return fail();
            }
            let high = fds.map(|fd| libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10));
            for (from, to) in high.into_iter().zip(3..) {
                if from < 0 || libc::dup2(from, to) < 0 {
                    return fail();
                }
            }
            // Nothing else: an inherited end of the container's output pipes would keep whoever
            // copies that output waiting for an end-of-file as long as slirp4netns lives.
            if libc::syscall(libc::SYS_close_range, 6u32, u32::MAX, 0u32) < 0 {
                return fail();
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(failed)?;
    drop((exit_read, ready_write));
    let slirp = Slirp { child, exit: Some(exit_write) };
    let mut ready = [0u8; 1];
    let got = crate::sys::wait::readable(&ready_read, READY)
        && std::fs::File::from(ready_read).read(&mut ready).is_ok_and(|n| n == 1);
    if !got || ready[0] != b'1' {
        return Err(failed(why_not(dir)));
    }
    for port in ports {
        forward(dir, port)?;
    }
    Ok(slirp)
}

/// What its log says of why it did not start.
fn why_not(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join(LOG)).unwrap_or_default();
    let last = log.lines().rev().find(|l| !l.starts_with("WARNING") && !l.trim().is_empty()).unwrap_or("");
    match last.contains("/dev/net/tun") {
        true => format!(
            "{last}: a user that is not root needs /dev/net/tun readable and writable by all (mode 0666, as udev makes it)"
        ),
        false if last.is_empty() => "it ended before it was ready, saying nothing".into(),
        false => last.to_string(),
    }
}

/// The request for a host forward of `port`.
fn request(port: &PublishedPort) -> String {
    let host = if port.host_ip.is_empty() { "0.0.0.0" } else { &port.host_ip };
    serde_json::json!({
        "execute": "add_hostfwd",
        "arguments": {
            "proto": port.protocol, "host_addr": host, "host_port": port.host_port, "guest_port": port.container_port,
        },
    })
    .to_string()
}

fn forward(dir: &Path, port: &PublishedPort) -> Result<(), NetworkError> {
    let what = |e: &dyn std::fmt::Display| failed(format!("forwarding host port {}: {e}", port.host_port));
    // Through the directory's fd: its path may be too long for a socket address.
    let d = std::fs::File::open(dir).map_err(|e| what(&e))?;
    let mut s = UnixStream::connect(format!("/proc/self/fd/{}/{SOCKET}", d.as_raw_fd())).map_err(|e| what(&e))?;
    s.write_all(request(port).as_bytes()).map_err(|e| what(&e))?;
    s.shutdown(std::net::Shutdown::Write).map_err(|e| what(&e))?;
    let mut answer = String::new();
    BufReader::new(s).read_line(&mut answer).map_err(|e| what(&e))?;
    let v: serde_json::Value = serde_json::from_str(&answer).map_err(|e| what(&e))?;
    match v.get("error") {
        None => Ok(()),
        Some(e) => Err(what(&e.get("desc").and_then(|d| d.as_str()).unwrap_or("refused"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_asks_for_its_host_address_or_every_address() {
        let p = PublishedPort { host_ip: String::new(), host_port: 8080, container_port: 80, protocol: "tcp".into() };
        let v: serde_json::Value = serde_json::from_str(&request(&p)).unwrap();
        assert_eq!(v["execute"], "add_hostfwd");
        assert_eq!(v["arguments"]["host_addr"], "0.0.0.0");
        assert_eq!(
            (v["arguments"]["host_port"].as_u64(), v["arguments"]["guest_port"].as_u64()),
            (Some(8080), Some(80))
        );
        let p = PublishedPort { host_ip: "127.0.0.1".into(), protocol: "udp".into(), ..p };
        let v: serde_json::Value = serde_json::from_str(&request(&p)).unwrap();
        assert_eq!(
            (v["arguments"]["host_addr"].as_str(), v["arguments"]["proto"].as_str()),
            (Some("127.0.0.1"), Some("udp"))
        );
    }
}
