//! Rootless sbx: a user who is not root runs sbx inside a user namespace of its own, where the user
//! is root (id 0 is the user's own id) and ids 1..N are the user's ranges of /etc/subuid and
//! /etc/subgid, mapped by the setuid helpers newuidmap and newgidmap (package uidmap). Everything
//! sbx does from there (unpacking layers with their owners, mounting, making the container's
//! namespaces) it does as that root, whose capabilities count only in that namespace.
//!
//! What needs the host's root is refused: cgroups (resource limits, the device cgroup, stats),
//! `--network host` (no sysfs of the host's network), `--userns=auto`, and images whose files
//! need ids outside the user's range or device nodes.

use super::userns;
use nix::errno::Errno;
use nix::unistd::Pid;
use std::fs::File;
use std::path::PathBuf;
use std::process::Command;

#[derive(Debug, thiserror::Error)]
pub enum RootlessError {
    #[error(
        "rootless sbx needs ranges of ids for the user {user} in /etc/subuid and /etc/subgid (none in {file}); ask root to add them (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 {user})"
    )]
    NoRanges { user: String, file: &'static str },
    #[error("rootless sbx cannot create its user namespace: {0}")]
    Unshare(Errno),
    #[error(
        "rootless sbx cannot map its ids with {helper}: {detail} (install the uidmap package, which has newuidmap and newgidmap)"
    )]
    Map { helper: &'static str, detail: String },
    #[error("cannot join the user namespace of the container (process {pid}): {errno}")]
    Join { pid: i32, errno: Errno },
}

/// Whether this process runs in a user namespace other than the host's (so its root is not the
/// host's root): the uid map is not the identity over every id.
pub fn is_active() -> bool {
    own_uid_map().is_some_and(|map| map.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
}

/// This process's /proc/self/uid_map, read once: it changes only where the process enters a user
/// namespace, which [`enter`] and [`join`] do and then forget what was read. (A run asked it six
/// times.)
fn own_uid_map() -> Option<std::sync::Arc<str>> {
    let mut memo = UID_MAP.lock().unwrap_or_else(|p| p.into_inner());
    if memo.is_none() {
        *memo = Some(std::fs::read_to_string("/proc/self/uid_map").ok().map(Into::into));
    }
    memo.clone().flatten()
}

static UID_MAP: std::sync::Mutex<Option<Option<std::sync::Arc<str>>>> = std::sync::Mutex::new(None);

fn forget_uid_map() {
    *UID_MAP.lock().unwrap_or_else(|p| p.into_inner()) = None;
}

/// Root of the host: what cgroups, host devices and the host's network need.
pub fn is_host_root() -> bool {
    nix::unistd::geteuid().is_root() && !is_active()
}

/// The host's id of this process's effective user: under rootless sbx (where the user is root of
/// its namespace) the id the user has outside, for what is named after it there (a login file).
pub fn host_euid() -> u32 {
    let euid = nix::unistd::geteuid().as_raw();
    own_uid_map().and_then(|map| outside_id(&map, euid)).unwrap_or(euid)
}

/// What `id` of a namespace is outside it, by its uid_map (`INSIDE OUTSIDE COUNT` lines). Pure.
fn outside_id(map: &str, id: u32) -> Option<u32> {
    map.lines().find_map(|line| {
        let f: Vec<u32> = line.split_whitespace().filter_map(|n| n.parse().ok()).collect();
        let [inside, outside, count] = f[..] else { return None };
        (id >= inside && id - inside < count).then(|| outside + (id - inside))
    })
}

/// Where a user's store is: $XDG_DATA_HOME/sbx, or ~/.local/share/sbx (as podman's).
pub fn default_root(env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    env("XDG_DATA_HOME")
        .filter(|d| d.starts_with('/'))
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .map(|base| base.join("sbx"))
}

/// The ranges of the user `name` (or its numeric id, as shadow's tools accept) in a subid file:
/// the first one.
fn range(file: &'static str, name: &str, id: u32) -> Result<(u32, u32), RootlessError> {
    let text = std::fs::read_to_string(file).unwrap_or_default();
    let ranges = userns::parse_ranges(&text, name);
    let ranges = if ranges.is_empty() { userns::parse_ranges(&text, &id.to_string()) } else { ranges };
    ranges.first().copied().ok_or_else(|| RootlessError::NoRanges { user: name.to_string(), file })
}

fn map_with(helper: &'static str, pid: Pid, own: u32, (start, count): (u32, u32)) -> Result<(), RootlessError> {
    let out = Command::new(helper)
        .args([pid.to_string(), "0".into(), own.to_string(), "1".into(), "1".into()])
        .args([start.to_string(), count.to_string()])
        .output()
        .map_err(|e| RootlessError::Map { helper, detail: e.to_string() })?;
    if out.status.success() {
        return Ok(());
    }
    Err(RootlessError::Map { helper, detail: String::from_utf8_lossy(&out.stderr).trim().to_string() })
}

/// Moves this process, which must still be single-threaded, into a new user namespace (and a
/// mount namespace of its own) where the user is root. A child left in the host's namespace
/// writes the maps with newuidmap and newgidmap, since only those setuid helpers may map the
/// user's ranges.
pub fn enter() -> Result<(), RootlessError> {
    let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
    let name = nix::unistd::User::from_uid(uid).ok().flatten().map_or_else(|| uid.to_string(), |u| u.name);
    let uids = range("/etc/subuid", &name, uid.as_raw())?;
    let gids = range("/etc/subgid", &name, uid.as_raw())?;
    let parent = nix::unistd::getpid();
    let (ready_r, ready_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(RootlessError::Unshare)?;
    // SAFETY: sbx is single-threaded here (enter runs before anything starts a thread), so the
    // child may run ordinary code: it reads a pipe, runs newuidmap and newgidmap, and exits.
    let mapper = match unsafe { nix::unistd::fork() }.map_err(RootlessError::Unshare)? {
        nix::unistd::ForkResult::Child => {
            drop(ready_w);
            let mut byte = [0u8];
            let unshared = nix::unistd::read(&ready_r, &mut byte) == Ok(1);
            let mapped = unshared
                && map_with("newuidmap", parent, uid.as_raw(), uids)
                    .and_then(|()| map_with("newgidmap", parent, gid.as_raw(), gids))
                    .map_err(|e| eprintln!("sbx: {e}"))
                    .is_ok();
            // SAFETY: _exit ends the child without running the parent's destructors or atexit.
            unsafe { libc::_exit(if mapped { 0 } else { 1 }) };
        }
        nix::unistd::ForkResult::Parent { child } => child,
    };
    drop(ready_r);
    let unshared = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWUSER | nix::sched::CloneFlags::CLONE_NEWNS);
    forget_uid_map();
    if unshared.is_ok() {
        let _ = nix::unistd::write(&ready_w, &[1]);
    }
    drop(ready_w);
    let status = nix::sys::wait::waitpid(mapper, None);
    unshared.map_err(RootlessError::Unshare)?;
    if !matches!(status, Ok(nix::sys::wait::WaitStatus::Exited(_, 0))) {
        return Err(RootlessError::Map { helper: "newuidmap", detail: "see the message above".into() });
    }
    // Mounts made from here (the containers' are in namespaces of their own) stay out of the host.
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .map_err(RootlessError::Unshare)
}

/// Joins the user namespace of the running container `pid` (which the user owns): `sbx exec`
/// of a rootless container, whose namespaces belong to it.
pub fn join(pid: i32) -> Result<(), RootlessError> {
    let err = |errno| RootlessError::Join { pid, errno };
    let ns =
        File::open(format!("/proc/{pid}/ns/user")).map_err(|e| err(Errno::from_raw(e.raw_os_error().unwrap_or(0))))?;
    let joined = nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWUSER).map_err(err);
    forget_uid_map();
    joined
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_of_the_namespace_is_found_outside_by_its_map() {
        let map = "         0       1000          1\n         1     100000      65536\n";
        assert_eq!(outside_id(map, 0), Some(1000));
        assert_eq!(outside_id(map, 1), Some(100000));
        assert_eq!(outside_id(map, 65536), Some(165535));
        assert_eq!(outside_id(map, 65537), None);
        assert_eq!(outside_id("0 0 4294967295\n", 1000), Some(1000));
    }

    #[test]
    fn a_users_store_is_under_its_data_home() {
        let env = |vars: &'static [(&'static str, &'static str)]| {
            move |k: &str| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string())
        };
        assert_eq!(default_root(env(&[("HOME", "/home/a")])), Some("/home/a/.local/share/sbx".into()));
        let both = env(&[("HOME", "/home/a"), ("XDG_DATA_HOME", "/data")]);
        assert_eq!(default_root(both), Some("/data/sbx".into()));
        assert_eq!(default_root(env(&[("XDG_DATA_HOME", "relative")])), None);
    }
}
