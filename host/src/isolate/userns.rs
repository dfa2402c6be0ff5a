//! User namespaces (`--userns=auto`): each container gets a private range of host ids from
//! /etc/subuid and /etc/subgid (the ranges of the user `containers`, as podman's auto mode), its
//! root being the first id of the range. Choosing a free range is pure; writing a process's maps
//! and making a namespace to idmap the image's layers with are the kernel parts.

use nix::errno::Errno;
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// The user whose /etc/subuid and /etc/subgid ranges containers take their ids from.
pub const SUBID_USER: &str = "containers";

/// Ids per container: the whole 16-bit space images use (nobody is 65534).
pub const SIZE: u32 = 65536;

/// Where a container's ids 0..size live on the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct IdMap {
    pub uid: u32,
    pub gid: u32,
    pub size: u32,
}

impl IdMap {
    /// The host id of the container's `uid` (for owners written into the writable layer).
    pub fn host_uid(&self, uid: u32) -> u32 {
        self.uid + uid
    }

    pub fn host_gid(&self, gid: u32) -> u32 {
        self.gid + gid
    }

    /// The container's id of a host `uid`, when the range holds it.
    pub fn container_uid(&self, uid: u32) -> Option<u32> {
        uid.checked_sub(self.uid).filter(|u| *u < self.size)
    }

    pub fn container_gid(&self, gid: u32) -> Option<u32> {
        gid.checked_sub(self.gid).filter(|g| *g < self.size)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum UsernsError {
    #[error(
        "--userns=auto needs ranges of host ids for the user '{SUBID_USER}' in /etc/subuid and /etc/subgid (none in {0}); add a line such as {SUBID_USER}:2147483647:2147483648 to both files"
    )]
    NoRanges(String),
    #[error(
        "--userns=auto: no free range of {SIZE} ids left in the '{SUBID_USER}' ranges of /etc/subuid and /etc/subgid ({used} containers hold one); remove containers or give '{SUBID_USER}' larger ranges"
    )]
    Exhausted { used: usize },
    #[error("cannot write the id map of the container process ({path}): {source}")]
    Map { path: String, source: std::io::Error },
    #[error("cannot create the user namespace that idmaps the image's layers: {0}")]
    Create(Errno),
}

/// The ranges (start, count) of `user` in a subuid or subgid file's text. Lines name the user or,
/// as shadow's tools accept, its numeric id; other lines and malformed ones are skipped.
pub fn parse_ranges(text: &str, user: &str) -> Vec<(u32, u32)> {
    text.lines()
        .filter_map(|line| {
            let mut f = line.trim().split(':');
            let (name, start, count) = (f.next()?, f.next()?, f.next()?);
            (name == user).then_some(())?;
            Some((start.parse().ok()?, count.parse().ok()?))
        })
        .collect()
}

/// The first `SIZE`-id blocks of `ranges` that no range in `used` overlaps, in order.
fn free_starts<'a>(ranges: &'a [(u32, u32)], used: &'a [u32]) -> impl Iterator<Item = u32> + 'a {
    ranges.iter().flat_map(move |&(start, count)| {
        let blocks = count / SIZE;
        (0..blocks).map(move |i| start + i * SIZE).filter(move |s| !used.iter().any(|u| u.abs_diff(*s) < SIZE))
    })
}

/// A range for a new container: the first free block of the uid ranges and of the gid ranges.
pub fn allocate(uids: &[(u32, u32)], gids: &[(u32, u32)], used: &[IdMap]) -> Result<IdMap, UsernsError> {
    let used_uids: Vec<u32> = used.iter().map(|m| m.uid).collect();
    let used_gids: Vec<u32> = used.iter().map(|m| m.gid).collect();
    let uid = free_starts(uids, &used_uids).next();
    let gid = free_starts(gids, &used_gids).next();
    match (uid, gid) {
        (Some(uid), Some(gid)) => Ok(IdMap { uid, gid, size: SIZE }),
        _ => Err(UsernsError::Exhausted { used: used.len() }),
    }
}

/// Reads the ranges of [`SUBID_USER`] from /etc/subuid and /etc/subgid and picks a free one.
pub fn allocate_from_host(used: &[IdMap]) -> Result<IdMap, UsernsError> {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let (uids, gids) = (parse_ranges(&read("/etc/subuid"), SUBID_USER), parse_ranges(&read("/etc/subgid"), SUBID_USER));
    if uids.is_empty() || gids.is_empty() {
        let which = if uids.is_empty() { "/etc/subuid" } else { "/etc/subgid" };
        return Err(UsernsError::NoRanges(which.into()));
    }
    allocate(&uids, &gids, used)
}

/// Writes the uid and gid maps of `pid`, a process in a new user namespace that waits for them.
/// As root, sbx writes them itself (newuidmap is for users without CAP_SETUID).
pub fn write_maps(pid: Pid, map: &IdMap) -> Result<(), UsernsError> {
    write_map_lines(pid, &format!("0 {} {}\n", map.uid, map.size), &format!("0 {} {}\n", map.gid, map.size))
}

/// Writes `uid` and `gid`, the lines of a uid_map and a gid_map (an OCI bundle's mappings), as the
/// maps of `pid`.
pub fn write_map_lines(pid: Pid, uid: &str, gid: &str) -> Result<(), UsernsError> {
    let proc = Path::new("/proc").join(pid.as_raw().to_string());
    for (file, lines) in [("uid_map", uid), ("gid_map", gid)] {
        let path = proc.join(file);
        std::fs::write(&path, lines).map_err(|source| UsernsError::Map { path: path.display().to_string(), source })?;
    }
    Ok(())
}

/// A user namespace with the map `map`, held by its descriptor: what an idmapped mount is made
/// with. A short-lived child makes it (a multi-threaded process cannot unshare one), waits until
/// its maps are written and the namespace is open, and exits.
pub fn namespace_of(map: &IdMap) -> Result<OwnedFd, UsernsError> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(UsernsError::Create)?;
    // SAFETY: a fork-like clone (no stack given): the child runs only the raw syscalls below and
    // _exit, touching no lock another thread of the parent may hold.
    let pid = unsafe { libc::syscall(libc::SYS_clone, libc::CLONE_NEWUSER | libc::SIGCHLD, 0, 0, 0, 0) };
    if pid < 0 {
        return Err(UsernsError::Create(Errno::last()));
    }
    if pid == 0 {
        // The child: waits for the parent to close its end, then goes. Only syscalls here.
        // SAFETY: plain syscalls on descriptors the child has and a byte on its own stack.
        unsafe {
            libc::close(w.as_raw_fd());
            let mut byte = 0u8;
            libc::read(r.as_raw_fd(), (&mut byte as *mut u8).cast(), 1);
            libc::_exit(0);
        }
    }
    drop(r);
    let pid = Pid::from_raw(pid as i32);
    let opened = write_maps(pid, map).and_then(|()| {
        File::open(format!("/proc/{pid}/ns/user"))
            .map(OwnedFd::from)
            .map_err(|e| UsernsError::Create(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))))
    });
    drop(w);
    let _ = nix::sys::wait::waitpid(pid, None);
    opened
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_for_the_user_only() {
        let text = "alice:100000:65536\ncontainers:2147483647:2147483648\nbad line\ncontainers:x:1\ncontainers:10:5\n";
        assert_eq!(parse_ranges(text, "containers"), [(2147483647, 2147483648), (10, 5)]);
        assert!(parse_ranges(text, "bob").is_empty());
    }

    #[test]
    fn each_container_gets_the_first_free_block() {
        let uids = [(100_000, 3 * SIZE)];
        let gids = [(200_000, 3 * SIZE)];
        let first = allocate(&uids, &gids, &[]).unwrap();
        assert_eq!(first, IdMap { uid: 100_000, gid: 200_000, size: SIZE });
        let second = allocate(&uids, &gids, &[first]).unwrap();
        assert_eq!((second.uid, second.gid), (100_000 + SIZE, 200_000 + SIZE));
        // A removed container's block is taken again.
        let third = IdMap { uid: 100_000 + 2 * SIZE, gid: 200_000 + 2 * SIZE, size: SIZE };
        assert_eq!(allocate(&uids, &gids, &[second, third]).unwrap(), first);
        assert!(matches!(allocate(&uids, &gids, &[first, second, third]), Err(UsernsError::Exhausted { used: 3 })));
    }

    #[test]
    fn a_range_smaller_than_a_block_gives_nothing() {
        assert!(allocate(&[(1000, SIZE - 1)], &[(1000, SIZE)], &[]).is_err());
    }

    #[test]
    fn ids_translate_both_ways_within_the_range() {
        let m = IdMap { uid: 100_000, gid: 200_000, size: SIZE };
        assert_eq!((m.host_uid(1000), m.host_gid(5)), (101_000, 200_005));
        assert_eq!(m.container_uid(101_000), Some(1000));
        assert_eq!(m.container_uid(99_999), None);
        assert_eq!(m.container_gid(200_000 + SIZE), None);
    }
}
