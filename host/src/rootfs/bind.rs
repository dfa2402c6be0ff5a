//! Bind mounts are opened by the parent, in the host's view, as detached mount trees (open_tree),
//! and attached by the child onto a destination resolved beneath the container's root (see
//! [`super::plan`]): a symlink in the image cannot send a mount onto the host, and a source means
//! what the user meant.

use crate::sys::{MountAttr, mount_setattr};
use rustix::mount::{MountAttrFlags, OpenTreeFlags};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

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
    let fd = clone_tree(source, OpenTreeFlags::AT_RECURSIVE).map_err(err)?;
    if read_only {
        set_attr(&fd, MountAttrFlags::MOUNT_ATTR_RDONLY, None).map_err(err)?;
    }
    Ok(BindSource { fd, is_dir: meta.is_dir() })
}

/// open_tree(OPEN_TREE_CLONE): a detached copy of the mount at `path` (with `AT_RECURSIVE`, of the
/// mounts below it too).
/// A detached copy of the mount at `source` as the mount namespace `mnt_ns` sees it (another
/// container's /dev/shm): open_tree copies only mounts of the caller's namespace, so a thread of
/// its own (with its own root and working directory, which setns changes) enters it for that.
pub fn open_in(mnt_ns: &OwnedFd, source: &Path) -> Result<BindSource, BindError> {
    let err = |e: std::io::Error| BindError::Open { path: source.into(), source: e };
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                nix::sched::unshare(nix::sched::CloneFlags::CLONE_FS)?;
                nix::sched::setns(mnt_ns, nix::sched::CloneFlags::CLONE_NEWNS)?;
                let is_dir = std::fs::metadata(source)?.is_dir();
                Ok(BindSource { fd: clone_tree(source, OpenTreeFlags::AT_RECURSIVE)?, is_dir })
            })
            .join()
            .unwrap_or_else(|_| Err(std::io::Error::other("the thread that opens it panicked")))
            .map_err(err)
    })
}

fn clone_tree(path: &Path, recursive: OpenTreeFlags) -> std::io::Result<OwnedFd> {
    let flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC | recursive;
    Ok(rustix::mount::open_tree(rustix::fs::CWD, path, flags)?)
}

/// Sets `attrs` on the detached tree `fd`; with `userns`, the mapping of that user namespace.
fn set_attr(fd: &OwnedFd, attrs: MountAttrFlags, userns: Option<&OwnedFd>) -> std::io::Result<()> {
    let userns_fd = userns.map_or(0, |u| u.as_raw_fd() as u64);
    let attr = MountAttr { attr_set: attrs.bits().into(), attr_clr: 0, propagation: 0, userns_fd };
    mount_setattr(fd.as_fd(), true, &attr).map_err(std::io::Error::from)
}

/// A detached copy of the mount at `dir` whose owners read through the map of the user namespace
/// `userns` (an idmapped mount): a layer's root-owned files belong to the container's root, whose
/// host id is in the container's range, without a single file being changed on disk.
pub fn open_idmapped(dir: &Path, userns: &OwnedFd) -> Result<OwnedFd, BindError> {
    let err = |source| BindError::Idmap { path: dir.into(), source };
    let fd = clone_tree(dir, OpenTreeFlags::empty()).map_err(err)?;
    set_attr(&fd, MountAttrFlags::MOUNT_ATTR_IDMAP, Some(userns)).map_err(err)?;
    Ok(fd)
}
