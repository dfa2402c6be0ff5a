//! File operations beneath a directory descriptor that cannot reach outside it.
//!
//! Every path is walked one component at a time with `O_NOFOLLOW | O_DIRECTORY` from the root's
//! descriptor; paths were already refused if absolute or holding `..` (see [`super::entry`]). So no
//! symlink is ever followed, whether it was in the tarball or planted by an earlier entry, and every
//! final operation is an `*at` call on a single name relative to a directory we opened ourselves.

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{Mode, SFlag, mkdirat};
use nix::unistd::{UnlinkatFlags, unlinkat};
use std::ffi::OsStr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum WalkError {
    #[error("goes through '{0}', which is a symlink")]
    Symlink(PathBuf),
    #[error("goes through '{0}', which is not a directory")]
    NotDir(PathBuf),
    #[error("needs '{0}', which does not exist in this layer")]
    Missing(PathBuf),
    #[error("'{path}': {errno}")]
    Os { path: PathBuf, errno: Errno },
}

const DIR_FLAGS: OFlag = OFlag::O_RDONLY.union(OFlag::O_DIRECTORY).union(OFlag::O_NOFOLLOW).union(OFlag::O_CLOEXEC);

/// Opens directory `rel` beneath `root`; with `create`, missing directories are made (0755).
pub fn open_dir(root: BorrowedFd, rel: &Path, create: bool) -> Result<OwnedFd, WalkError> {
    let mut cur: Option<OwnedFd> = None;
    let mut walked = PathBuf::new();
    let reopen_root = || openat(root, ".", DIR_FLAGS, Mode::empty());
    for comp in rel.components() {
        let Component::Normal(name) = comp else {
            continue;
        };
        walked.push(name);
        let dir = cur.as_ref().map_or(root, |fd| fd.as_fd());
        if create {
            match mkdirat(dir, name, Mode::from_bits_truncate(0o755)) {
                Ok(()) | Err(Errno::EEXIST) => {}
                Err(errno) => {
                    return Err(WalkError::Os { path: walked, errno });
                }
            }
        }
        cur = Some(openat(dir, name, DIR_FLAGS, Mode::empty()).map_err(|errno| walk_error(dir, name, errno, &walked))?);
    }
    match cur {
        Some(fd) => Ok(fd),
        None => reopen_root().map_err(|errno| WalkError::Os { path: walked, errno }),
    }
}

/// `O_DIRECTORY | O_NOFOLLOW` on a symlink fails with ENOTDIR rather than ELOOP, so a look at
/// what is there tells the user which it was.
fn walk_error(dir: BorrowedFd, name: &OsStr, errno: Errno, walked: &Path) -> WalkError {
    let walked = walked.to_path_buf();
    let is_symlink = kind_at(dir, name) == Ok(Some(SFlag::S_IFLNK));
    match errno {
        Errno::ELOOP => WalkError::Symlink(walked),
        Errno::ENOTDIR if is_symlink => WalkError::Symlink(walked),
        Errno::ENOTDIR => WalkError::NotDir(walked),
        Errno::ENOENT => WalkError::Missing(walked),
        errno => WalkError::Os { path: walked, errno },
    }
}

/// What is at `name` in `dir`, without following a symlink.
pub fn kind_at(dir: BorrowedFd, name: &OsStr) -> Result<Option<SFlag>, Errno> {
    match nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()))),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Removes whatever is at `name` in `dir` (a whole tree for a directory); nothing there is fine.
///
/// At most three descriptors are open at any depth: the walk keeps names, not descriptors, on its
/// way down and comes back up through `..`, so a tree nested deeper than the descriptor limit (a
/// refused layer of 1500 levels, say) is removed as well as a flat one, and each directory is read
/// once.
pub fn remove_at(dir: BorrowedFd, name: &OsStr) -> Result<(), Errno> {
    match kind_at(dir, name)? {
        None => return Ok(()),
        Some(SFlag::S_IFDIR) => {}
        Some(_) => return unlinkat(dir, name, UnlinkatFlags::NoRemoveDir),
    }
    struct Level {
        name: std::ffi::CString,
        subdirs: Vec<std::ffi::CString>,
    }
    let top = std::ffi::CString::new(name.as_bytes()).map_err(|_| Errno::EINVAL)?;
    let mut cur = openat(dir, top.as_c_str(), DIR_FLAGS, Mode::empty())?;
    let mut stack = vec![Level { subdirs: empty_but_subdirs(cur.as_fd())?, name: top }];
    loop {
        let level = stack.last_mut().expect("the walk ends when the stack is empty");
        if let Some(child) = level.subdirs.pop() {
            cur = openat(cur.as_fd(), child.as_c_str(), DIR_FLAGS, Mode::empty())?;
            stack.push(Level { subdirs: empty_but_subdirs(cur.as_fd())?, name: child });
            continue;
        }
        let done = stack.pop().expect("just looked at it");
        if stack.is_empty() {
            drop(cur);
            return unlinkat(dir, done.name.as_c_str(), UnlinkatFlags::RemoveDir);
        }
        let parent = openat(cur.as_fd(), "..", DIR_FLAGS, Mode::empty())?;
        drop(cur);
        unlinkat(parent.as_fd(), done.name.as_c_str(), UnlinkatFlags::RemoveDir)?;
        cur = parent;
    }
}

/// Removes every entry of the directory `dir` that is not a directory; returns the names of those
/// that are.
fn empty_but_subdirs(dir: BorrowedFd) -> Result<Vec<std::ffi::CString>, Errno> {
    let mut listing = nix::dir::Dir::openat(dir, ".", DIR_FLAGS, Mode::empty())?;
    let mut subdirs = Vec::new();
    for entry in listing.iter() {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_bytes() == b"." || name.to_bytes() == b".." {
            continue;
        }
        let is_dir = match entry.file_type() {
            Some(t) => t == nix::dir::Type::Directory,
            None => kind_at(dir, OsStr::from_bytes(name.to_bytes()))? == Some(SFlag::S_IFDIR),
        };
        if is_dir {
            subdirs.push(name.to_owned());
        } else {
            match unlinkat(dir, name, UnlinkatFlags::NoRemoveDir) {
                Ok(()) | Err(Errno::ENOENT) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(subdirs)
}

/// Removes the tree at `path` (nothing there is fine), with [`remove_at`]'s few descriptors.
pub fn remove_tree(path: &Path) -> Result<(), Errno> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(Errno::EINVAL);
    };
    let parent = nix::fcntl::open(parent, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
    remove_at(parent.as_fd(), name)
}

/// Sets an extended attribute on an open file or directory.
pub fn set_xattr(fd: BorrowedFd, name: &str, value: &[u8]) -> Result<(), Errno> {
    rustix::fs::fsetxattr(fd, name, value, rustix::fs::XattrFlags::empty())
        .map_err(|e| Errno::from_raw(e.raw_os_error()))
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    #[error("is {0}, not a regular file")]
    NotRegular(&'static str),
    #[error("holds more than {0} bytes")]
    TooBig(u64),
    #[error("cannot be read: {0}")]
    Os(Errno),
}

/// What a file of this mode is, in words.
pub fn kind_name(mode: u32) -> &'static str {
    match SFlag::from_bits_truncate(mode & SFlag::S_IFMT.bits()) {
        SFlag::S_IFREG => "a regular file",
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFLNK => "a symlink",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFSOCK => "a socket",
        _ => "of an unknown kind",
    }
}

/// The bytes of the regular file `rel` beneath the directory `root`, resolving its symlinks as if
/// `root` were `/` (openat2 RESOLVE_IN_ROOT: a container's `/etc/passwd -> /etc/shadow` or `-> ..`
/// stays in the container). None when there is no such file. Anything but a regular file is
/// refused before it is opened for reading (a FIFO would block, /dev/zero never end), and so is a
/// file of more than `limit` bytes.
pub fn read_in_root(root: BorrowedFd, rel: &Path, limit: u64) -> Result<Option<Vec<u8>>, ReadError> {
    use rustix::fs::{Mode as RMode, OFlags, ResolveFlags};
    use std::io::Read;
    let how = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    let flags = OFlags::PATH | OFlags::CLOEXEC;
    let mut tries = 0;
    let found = loop {
        match rustix::fs::openat2(root, rel, flags, RMode::empty(), how) {
            Err(rustix::io::Errno::AGAIN) if tries < 128 => tries += 1,
            other => break other,
        }
    };
    let path = match found {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => return Ok(None),
        Err(e) => return Err(ReadError::Os(Errno::from_raw(e.raw_os_error()))),
    };
    let os = |e: rustix::io::Errno| ReadError::Os(Errno::from_raw(e.raw_os_error()));
    let st = rustix::fs::fstat(&path).map_err(os)?;
    if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) != SFlag::S_IFREG {
        return Err(ReadError::NotRegular(kind_name(st.st_mode)));
    }
    // Reopened for reading through its own descriptor: no path of the container's is resolved again.
    let reopen = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&path));
    let file = rustix::fs::open(reopen.as_str(), OFlags::RDONLY | OFlags::NOCTTY | OFlags::CLOEXEC, RMode::empty())
        .map_err(os)?;
    let mut bytes = Vec::new();
    std::fs::File::from(file)
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| ReadError::Os(Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))))?;
    if bytes.len() as u64 > limit {
        return Err(ReadError::TooBig(limit));
    }
    Ok(Some(bytes))
}
