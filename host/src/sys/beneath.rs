//! The real operations on the container's root: the overlay that makes it, its pivot, and every
//! operation on a [`Target`]: each path is resolved by openat2 beneath the container's root
//! descriptor ([`Links`] says how its symlinks are treated), and the operation then works on
//! the descriptor it resolved to (mkdirat, the new mount API's move_mount onto an `O_PATH`
//! descriptor...), so no path is ever resolved a second time. Runs in the child: no allocation.

use super::{FsOption, Links, SysResult, Target};
use nix::errno::Errno;
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};
use rustix::fs::{FileType, Mode, OFlags, ResolveFlags};
use rustix::mount::{
    FsMountFlags, FsOpenFlags, MountAttrFlags, MoveMountFlags, OpenTreeFlags, UnmountFlags, fsconfig_create,
    fsconfig_set_flag, fsconfig_set_string, fsmount, fsopen, move_mount, open_tree,
};
use std::ffi::{CStr, CString};

fn errno(e: rustix::io::Errno) -> Errno {
    Errno::from_raw(e.raw_os_error())
}

/// A descriptor the caller keeps open (the root, a detached mount from the parent).
fn borrow<'a>(fd: i32) -> BorrowedFd<'a> {
    // SAFETY: the plan's descriptors stay open for the whole of the child's setup (the parent
    // holds them until the child reports; the root is closed only by exec).
    unsafe { BorrowedFd::borrow_raw(fd) }
}

/// openat2 fails with EAGAIN when a rename or a mount anywhere raced a `..` it resolved; a few
/// retries get through (another container of a shared volume may keep renaming).
const RETRIES: usize = 128;

fn resolve(root: BorrowedFd, path: &CStr, links: Links, flags: OFlags) -> Result<OwnedFd, Errno> {
    let how = match links {
        Links::InRoot => ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        Links::Refused => ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS,
    };
    let mut tries = 0;
    loop {
        match rustix::fs::openat2(root, path, flags | OFlags::CLOEXEC, Mode::empty(), how) {
            Err(rustix::io::Errno::AGAIN) if tries < RETRIES => tries += 1,
            other => return other.map_err(errno),
        }
    }
}

fn same_file(a: BorrowedFd, b: BorrowedFd) -> Result<bool, Errno> {
    let (a, b) = (rustix::fs::fstat(a).map_err(errno)?, rustix::fs::fstat(b).map_err(errno)?);
    Ok(a.st_dev == b.st_dev && a.st_ino == b.st_ino)
}

/// `at` resolved for a mount on it. A path that resolves to the root itself (an image's `/data ->
/// ..`) is refused with EXDEV: a mount there would cover the whole container, and a `..` at the
/// root would then step into it.
fn mount_point(root: BorrowedFd, at: &Target, flags: OFlags) -> Result<OwnedFd, Errno> {
    let fd = resolve(root, &at.path, at.links, OFlags::PATH | flags)?;
    if same_file(root, fd.as_fd())? {
        return Err(Errno::EXDEV);
    }
    Ok(fd)
}

fn parent(root: BorrowedFd, at: &Target) -> Result<OwnedFd, Errno> {
    resolve(root, &at.parent, at.links, OFlags::PATH | OFlags::DIRECTORY)
}

fn attach(tree: BorrowedFd, target: BorrowedFd) -> SysResult {
    let flags = MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH | MoveMountFlags::MOVE_MOUNT_T_EMPTY_PATH;
    move_mount(tree, c"", target, c"", flags).map_err(errno)
}

/// A new, detached filesystem (fsopen, fsconfig, fsmount).
fn new_fs(fstype: &CStr, options: &[FsOption], attrs: MountAttrFlags) -> Result<OwnedFd, Errno> {
    let fs = fsopen(fstype, FsOpenFlags::FSOPEN_CLOEXEC).map_err(errno)?;
    for (key, value) in options {
        match value {
            Some(v) => fsconfig_set_string(&fs, key.as_c_str(), v.as_c_str()),
            None => fsconfig_set_flag(&fs, key.as_c_str()),
        }
        .map_err(errno)?;
    }
    fsconfig_create(&fs).map_err(errno)?;
    fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, attrs).map_err(errno)
}

/// An overlay of `options` (`lowerdir+`, `upperdir`, `workdir`...) attached nowhere: the
/// descriptor of its root, through which it is read and written, and which it goes with. For
/// sbx's own use of image layers (a build's COPY), in any thread, in no mount namespace of its own.
pub fn detached_overlay(options: &[FsOption]) -> Result<OwnedFd, Errno> {
    new_fs(c"overlay", options, MountAttrFlags::empty())
}

pub fn mkdir_at(root: i32, at: &Target, mode: u32) -> SysResult {
    let root = borrow(root);
    let dir = OFlags::PATH | OFlags::DIRECTORY;
    match resolve(root, &at.path, at.links, dir) {
        Ok(_) => return Ok(()),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    match rustix::fs::mkdirat(parent(root, at)?, at.name.as_c_str(), Mode::from_raw_mode(mode)) {
        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(errno(e)),
    }
    // What is there now must be a directory (a dangling symlink in the way is not).
    resolve(root, &at.path, at.links, dir).map(drop)
}

pub fn touch_at(root: i32, at: &Target) -> SysResult {
    let root = borrow(root);
    match resolve(root, &at.path, at.links, OFlags::PATH) {
        Ok(_) => return Ok(()),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    let flags = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    match rustix::fs::openat(parent(root, at)?, at.name.as_c_str(), flags, Mode::from_raw_mode(0o644)) {
        Ok(_) | Err(rustix::io::Errno::EXIST) => {}
        Err(e) => return Err(errno(e)),
    }
    resolve(root, &at.path, at.links, OFlags::PATH).map(drop)
}

pub fn mknod_at(root: i32, at: &Target, mode: u32, dev: u64) -> SysResult {
    let parent = parent(borrow(root), at)?;
    let (kind, perms) = (FileType::from_raw_mode(mode), Mode::from_raw_mode(mode & 0o7777));
    rustix::fs::mknodat(parent, at.name.as_c_str(), kind, perms, dev).map_err(errno)
}

pub fn symlink_at(root: i32, text: &CStr, at: &Target) -> SysResult {
    let parent = parent(borrow(root), at)?;
    rustix::fs::symlinkat(text, parent, at.name.as_c_str()).map_err(errno)
}

pub fn mount_at(root: i32, at: &Target, fstype: &CStr, options: &[FsOption], attrs: MountAttrFlags) -> SysResult {
    let target = mount_point(borrow(root), at, OFlags::DIRECTORY)?;
    attach(new_fs(fstype, options, attrs)?.as_fd(), target.as_fd())
}

pub fn attach_at(root: i32, fd: i32, at: &Target) -> SysResult {
    let target = mount_point(borrow(root), at, OFlags::empty())?;
    attach(borrow(fd), target.as_fd())
}

/// The target of a mask or a read-only path; None when there is nothing there to change.
fn existing(root: BorrowedFd, at: &Target) -> Result<Option<OwnedFd>, Errno> {
    match mount_point(root, at, OFlags::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::ENOENT | Errno::ENOTDIR) => Ok(None),
        Err(e) => Err(e),
    }
}

pub fn mask_at(root: i32, at: &Target) -> SysResult {
    let root = borrow(root);
    let Some(target) = existing(root, at)? else {
        return Ok(());
    };
    let st = rustix::fs::fstat(&target).map_err(errno)?;
    let cover = if FileType::from_raw_mode(st.st_mode) == FileType::Directory {
        let attrs = MountAttrFlags::MOUNT_ATTR_RDONLY
            | MountAttrFlags::MOUNT_ATTR_NOSUID
            | MountAttrFlags::MOUNT_ATTR_NODEV
            | MountAttrFlags::MOUNT_ATTR_NOEXEC;
        new_fs(c"tmpfs", &[], attrs)?
    } else {
        let null = resolve(root, c"dev/null", Links::Refused, OFlags::PATH)?;
        let flags = OpenTreeFlags::OPEN_TREE_CLONE | OpenTreeFlags::OPEN_TREE_CLOEXEC | OpenTreeFlags::AT_EMPTY_PATH;
        open_tree(&null, c"", flags).map_err(errno)?
    };
    attach(cover.as_fd(), target.as_fd())
}

pub fn read_only_at(root: i32, at: &Target) -> SysResult {
    let Some(target) = existing(borrow(root), at)? else {
        return Ok(());
    };
    let flags = OpenTreeFlags::OPEN_TREE_CLONE
        | OpenTreeFlags::OPEN_TREE_CLOEXEC
        | OpenTreeFlags::AT_EMPTY_PATH
        | OpenTreeFlags::AT_RECURSIVE;
    let tree = open_tree(&target, c"", flags).map_err(errno)?;
    set_read_only(tree.as_fd(), true)?;
    attach(tree.as_fd(), target.as_fd())
}

/// The overlay, attached at `target` (sbx's own path); returns its root, which stays open until exec.
pub fn mount_overlay(
    lowers: &[CString],
    upper: &CStr,
    work: &CStr,
    target: &CStr,
    flags: &[&CStr],
) -> Result<i32, Errno> {
    let fs = fsopen(c"overlay", FsOpenFlags::FSOPEN_CLOEXEC).map_err(errno)?;
    for lower in lowers {
        fsconfig_set_string(&fs, c"lowerdir+", lower.as_c_str()).map_err(errno)?;
    }
    fsconfig_set_string(&fs, c"upperdir", upper).map_err(errno)?;
    fsconfig_set_string(&fs, c"workdir", work).map_err(errno)?;
    for flag in flags {
        fsconfig_set_flag(&fs, *flag).map_err(errno)?;
    }
    fsconfig_create(&fs).map_err(errno)?;
    let mnt = fsmount(&fs, FsMountFlags::FSMOUNT_CLOEXEC, MountAttrFlags::empty()).map_err(errno)?;
    move_mount(&mnt, c"", rustix::fs::CWD, target, MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH).map_err(errno)?;
    Ok(mnt.into_raw_fd())
}

/// The root of the overlay just mounted on `target`, sbx's own path (the container's directory),
/// not the image's.
pub fn open_root(target: &CStr) -> Result<i32, Errno> {
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    Ok(rustix::fs::open(target, flags, Mode::empty()).map_err(errno)?.into_raw_fd())
}

/// Attaches the detached mount `fd` at `target`, a path of sbx's own store.
pub fn attach_host(fd: i32, target: &CStr) -> SysResult {
    let flags = MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH;
    move_mount(borrow(fd), c"", rustix::fs::CWD, target, flags).map_err(errno)
}

/// `root` is the overlay's root, still attached where the parent planned it.
pub fn pivot_root(root: i32) -> SysResult {
    rustix::process::fchdir(borrow(root)).map_err(errno)?;
    // pivot_root(".", ".") stacks the old root on the new one, with no directory needed to hold
    // it; "." as the mount point then names the old root, which is detached at once.
    rustix::process::pivot_root(c".", c".").map_err(errno)?;
    rustix::mount::unmount(c".", UnmountFlags::DETACH).map_err(errno)?;
    rustix::process::chdir(c"/").map_err(errno)
}

pub fn set_root_attrs(root: i32, attrs: MountAttrFlags) -> SysResult {
    let attr = MountAttr { attr_set: attrs.bits().into(), attr_clr: 0, propagation: 0, userns_fd: 0 };
    mount_setattr(borrow(root), false, &attr)
}

/// `struct mount_attr` of mount_setattr(2), which neither libc nor rustix wraps.
#[repr(C)]
pub struct MountAttr {
    pub attr_set: u64,
    pub attr_clr: u64,
    pub propagation: u64,
    pub userns_fd: u64,
}

/// mount_setattr(2) on the mount `fd` refers to, and with `recursive` the mounts below it.
pub fn mount_setattr(fd: BorrowedFd, recursive: bool, attr: &MountAttr) -> SysResult {
    let flags = libc::AT_EMPTY_PATH as libc::c_uint | if recursive { libc::AT_RECURSIVE as libc::c_uint } else { 0 };
    // SAFETY: the path is a NUL-terminated literal and `attr` a live struct of the size passed.
    let ret = unsafe {
        libc::syscall(libc::SYS_mount_setattr, fd.as_raw_fd(), c"".as_ptr(), flags, attr, size_of::<MountAttr>())
    };
    if ret < 0 { Err(Errno::last()) } else { Ok(()) }
}

fn set_read_only(fd: BorrowedFd, recursive: bool) -> SysResult {
    let attr = MountAttr {
        attr_set: MountAttrFlags::MOUNT_ATTR_RDONLY.bits().into(),
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    mount_setattr(fd, recursive, &attr)
}
