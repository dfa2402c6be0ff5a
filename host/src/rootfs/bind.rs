//! Bind mounts are opened by the parent, in the host's view, as detached mount trees (open_tree),
//! and attached by the child after pivot_root at a destination resolved inside the container: a
//! symlink in the image cannot send a mount onto the host, and a source means what the user meant.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

// open_tree(2) and mount_setattr(2); the libc crate has the syscall numbers only.
const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOUNT_ATTR_RDONLY: u64 = 1;
const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BindError {
    #[error("bind mount source {path} does not exist; create it or fix the -v option")]
    Missing { path: PathBuf },
    #[error("cannot open bind mount source {path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error(
        "cannot make an idmapped mount of {path} for --userns=auto: {source} (idmapped mounts need Linux 5.12 and a filesystem that supports them, such as ext4, xfs or btrfs)"
    )]
    Idmap { path: PathBuf, source: std::io::Error },
}

pub struct BindSource {
    pub fd: OwnedFd,
    pub is_dir: bool,
}

/// A detached copy of the mount tree at `source` (recursive), read-only when asked.
pub fn open(source: &Path, read_only: bool) -> Result<BindSource, BindError> {
    let err = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => BindError::Missing { path: source.into() },
        _ => BindError::Open { path: source.into(), source: e },
    };
    let meta = std::fs::metadata(source).map_err(err)?;
    let fd = clone_tree(source, AT_RECURSIVE).map_err(err)?;
    if read_only {
        set_attr(&fd, MountAttr { attr_set: MOUNT_ATTR_RDONLY, attr_clr: 0, propagation: 0, userns_fd: 0 })
            .map_err(err)?;
    }
    Ok(BindSource { fd, is_dir: meta.is_dir() })
}

/// open_tree(OPEN_TREE_CLONE): a detached copy of the mount at `path` (with `AT_RECURSIVE`, of the
/// mounts below it too).
fn clone_tree(path: &Path, recursive: libc::c_uint) -> std::io::Result<OwnedFd> {
    let path = CString::new(path.as_os_str().as_bytes())?;
    let flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | recursive;
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, path.as_ptr(), flags) };
    if fd < 0 { Err(std::io::Error::last_os_error()) } else { Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) }) }
}

fn set_attr(fd: &OwnedFd, attr: MountAttr) -> std::io::Result<()> {
    let flags = libc::AT_EMPTY_PATH as libc::c_uint | AT_RECURSIVE;
    let ret = unsafe {
        libc::syscall(libc::SYS_mount_setattr, fd.as_raw_fd(), c"".as_ptr(), flags, &attr, size_of::<MountAttr>())
    };
    if ret < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
}

/// A detached copy of the mount at `dir` whose owners read through the map of the user namespace
/// `userns` (an idmapped mount): a layer's root-owned files belong to the container's root, whose
/// host id is in the container's range, without a single file being changed on disk.
pub fn open_idmapped(dir: &Path, userns: &OwnedFd) -> Result<OwnedFd, BindError> {
    let err = |source| BindError::Idmap { path: dir.into(), source };
    let fd = clone_tree(dir, 0).map_err(err)?;
    let attr =
        MountAttr { attr_set: MOUNT_ATTR_IDMAP, attr_clr: 0, propagation: 0, userns_fd: userns.as_raw_fd() as u64 };
    set_attr(&fd, attr).map_err(err)?;
    Ok(fd)
}
