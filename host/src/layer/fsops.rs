//! File operations beneath a directory descriptor that cannot reach outside it.
//!
//! Every path is walked one component at a time from the root's descriptor by cap-std, which
//! opens each beneath the one before (openat2 `RESOLVE_BENEATH` where the kernel has it) and
//! follows no symlink at any of them (`open_dir_nofollow` of a single name); paths were already
//! refused if absolute or holding `..` (see [`super::entry`]). So no symlink is ever followed,
//! whether it was in the tarball or planted by an earlier entry, and every final operation is an
//! `*at` call on a single name relative to a directory we opened ourselves.

use cap_fs_ext::DirExt;
use cap_std::fs::{Dir, DirBuilder, DirBuilderExt};
use cap_std::io_lifetimes::AsFilelike;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{Mode, SFlag};
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

fn errno_of(e: &std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// Opens directory `rel` beneath `root` (for reading, changing and `*at` calls); with `create`,
/// missing directories are made (0755).
pub fn open_dir(root: BorrowedFd, rel: &Path, create: bool) -> Result<OwnedFd, WalkError> {
    let names: Vec<&OsStr> =
        rel.components().filter_map(|c| if let Component::Normal(n) = c { Some(n) } else { None }).collect();
    let Some((last, above)) = names.split_last() else {
        return openat(root, ".", DIR_FLAGS, Mode::empty())
            .map_err(|errno| WalkError::Os { path: PathBuf::new(), errno });
    };
    let start = root.as_filelike_view::<Dir>();
    let mut builder = DirBuilder::new();
    builder.mode(0o755);
    let mut cur: Option<Dir> = None;
    let mut walked = PathBuf::new();
    let make = |dir: &Dir, name: &OsStr, walked: &Path| match dir.create_dir_with(name, &builder) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => {
            Err(WalkError::Os { path: walked.to_path_buf(), errno: errno_of(&e) })
        }
        _ => Ok(()),
    };
    for name in above {
        walked.push(name);
        let dir: &Dir = cur.as_ref().unwrap_or(&start);
        if create {
            make(dir, name, &walked)?;
        }
        let next = dir.open_dir_nofollow(name).map_err(|e| walk_error(dir.as_fd(), name, errno_of(&e), &walked))?;
        cur = Some(next);
    }
    // The last one opened for reading: cap-std's directories are lookup-only (O_PATH), and the
    // unpacker sets owners, modes, times and xattrs through this descriptor.
    walked.push(last);
    let dir: &Dir = cur.as_ref().unwrap_or(&start);
    if create {
        make(dir, last, &walked)?;
    }
    open_subdir(dir.as_fd(), last).map_err(|errno| walk_error(dir.as_fd(), last, errno, &walked))
}

/// The directory `name` in `dir`, opened for reading without following it if it is a symlink:
/// the one step of every walk beneath a root (unpack, diff, commit, removal).
pub fn open_subdir(dir: BorrowedFd, name: &OsStr) -> Result<OwnedFd, Errno> {
    openat(dir, name, DIR_FLAGS, Mode::empty())
}

/// Opening a symlink as a directory without following it fails with ENOTDIR or ELOOP, so a look
/// at what is there tells the user which it was.
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
    let mut cur = open_subdir(dir, name)?;
    let mut stack = vec![Level { subdirs: empty_but_subdirs(cur.as_fd())?, name: top }];
    loop {
        let level = stack.last_mut().expect("the walk ends when the stack is empty");
        if let Some(child) = level.subdirs.pop() {
            cur = open_subdir(cur.as_fd(), OsStr::from_bytes(child.as_bytes()))?;
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
/// that are. `dir` is read itself, from its start (it was just opened): a listing through
/// `opendir` would open it again and stat, fcntl, seek and close that second descriptor, six
/// system calls a directory.
fn empty_but_subdirs(dir: BorrowedFd) -> Result<Vec<std::ffi::CString>, Errno> {
    use rustix::fs::FileType;
    let errno = |e: rustix::io::Errno| Errno::from_raw(e.raw_os_error());
    let mut buf = Vec::with_capacity(32 * 1024);
    let mut listing = rustix::fs::RawDir::new(dir, buf.spare_capacity_mut());
    let mut subdirs = Vec::new();
    while let Some(entry) = listing.next() {
        let entry = entry.map_err(errno)?;
        let name = entry.file_name();
        if name.to_bytes() == b"." || name.to_bytes() == b".." {
            continue;
        }
        let is_dir = match entry.file_type() {
            FileType::Directory => true,
            FileType::Unknown => kind_at(dir, OsStr::from_bytes(name.to_bytes()))? == Some(SFlag::S_IFDIR),
            _ => false,
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
