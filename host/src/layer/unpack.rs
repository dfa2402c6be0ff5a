//! Unpacks one layer tarball into an empty directory of its own, turning OCI whiteouts into
//! overlayfs ones (0:0 character devices, the `trusted.overlay.opaque` and `user.overlay.opaque`
//! xattrs) and recording an index of the entries. Nothing outside the directory can be created,
//! changed or followed: see [`super::fsops`]. Any entry that would need it refuses the whole
//! layer, naming the entry. The index is written out as the entries go by (a layer of millions of
//! entries does not grow sbx's memory with it), and a layer holds at most as many entries as its
//! limits say. What a layer may cost in bytes is bounded in front of the tar reader (see
//! [`super::guard`]).

use super::entry::{self, EntryKind, IndexEntry, PathError, Role};
use super::fsops::{self, WalkError};
use super::guard;
use super::index;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{FchmodatFlags, Mode, SFlag, UtimensatFlags, fchmod, fchmodat, futimens, mknodat, utimensat};
use nix::sys::time::TimeSpec;
use nix::unistd::{Gid, Uid, fchown, fchownat, linkat, symlinkat};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("cannot read the layer tarball: {0}")]
    Read(#[source] io::Error),
    #[error("entry '{entry}' {reason}")]
    Entry { entry: String, reason: String },
    #[error("cannot open the layer directory {0}: {1}")]
    Dest(PathBuf, Errno),
}

#[derive(Debug, Default)]
pub struct UnpackReport {
    /// How many entries the index holds.
    pub entries: usize,
    /// Sum of the sizes of the regular files.
    pub unpacked_size: u64,
}

/// Extended attributes a layer may carry. `trusted.overlay.*` and `user.overlay.*` (which an
/// overlay in a user namespace reads instead) would let a layer forge overlayfs metadata
/// (redirects, metacopy, opaque directories), so they and every other namespace are left out.
fn is_allowed_xattr(name: &str) -> bool {
    (name.starts_with("user.") && !name.starts_with("user.overlay.")) || name == "security.capability"
}

/// An opaque directory is marked for both kinds of overlay: mounted by host root (`trusted.`) and
/// in a container's user namespace (`userxattr`: `user.`).
const OPAQUE_XATTRS: [&str; 2] = ["trusted.overlay.opaque", "user.overlay.opaque"];

/// A read error, or the guard's refusal of an entry (see [`super::guard`]).
fn read_error(e: io::Error) -> UnpackError {
    match e.get_ref().and_then(|inner| inner.downcast_ref::<guard::Refused>()) {
        Some(r) => UnpackError::Entry { entry: r.entry.clone(), reason: r.reason.clone() },
        None => UnpackError::Read(e),
    }
}

/// Unpacks the tar stream `reader` into `dest`, which must exist and be empty, and writes the
/// index of its entries to `index` (see [`super::index`]).
pub fn unpack<R: Read>(reader: R, dest: &Path, index: &Path, max_entries: usize) -> Result<UnpackReport, UnpackError> {
    unpack_as(reader, dest, index, max_entries, false)
}

/// Unpacks the tar stream `reader` into the directory `dest`, which may hold files (replaced by
/// the stream's of the same name, directories merged), as `sbx cp` copies: no index, no limit,
/// and `.wh.` names refused rather than read as a layer's deletions. Paths are walked as a
/// layer's are: never through a symlink, never out of `dest`.
pub fn unpack_plain<R: Read>(reader: R, dest: &Path) -> Result<UnpackReport, UnpackError> {
    unpack_as(reader, dest, Path::new("/dev/null"), usize::MAX, true)
}

fn unpack_as<R: Read>(
    reader: R,
    dest: &Path,
    index: &Path,
    max_entries: usize,
    plain: bool,
) -> Result<UnpackReport, UnpackError> {
    let root = File::open(dest)
        .map(OwnedFd::from)
        .map_err(|e| UnpackError::Dest(dest.to_path_buf(), Errno::from_raw(e.raw_os_error().unwrap_or(0))))?;
    let index_error =
        |e: io::Error| UnpackError::Dest(index.to_path_buf(), Errno::from_raw(e.raw_os_error().unwrap_or(0)));
    let out = index::Writer::new(File::create(index).map_err(index_error)?).map_err(index_error)?;
    let mut unpacker = Unpacker {
        root,
        report: UnpackReport::default(),
        dirs: Vec::new(),
        parent: None,
        index: out,
        max_entries,
        plain,
    };
    let mut archive = tar::Archive::new(reader);
    for item in archive.entries().map_err(read_error)? {
        let mut item = item.map_err(read_error)?;
        let raw = item.path_bytes().into_owned();
        unpacker
            .entry(&mut item)
            .map_err(|reason| UnpackError::Entry { entry: String::from_utf8_lossy(&raw).into_owned(), reason })?;
    }
    unpacker.finish()?;
    unpacker.index.finish().map_err(index_error)?;
    Ok(unpacker.report)
}

struct Unpacker {
    root: OwnedFd,
    report: UnpackReport,
    /// Directories whose mtime is set at the end (adding children changes it).
    dirs: Vec<(PathBuf, i64)>,
    /// The last parent directory opened: entries come grouped by directory, so this saves a walk,
    /// and a directory just made is the parent of the entries that follow it (so a tree nested
    /// thousands deep is opened one level at a time, not walked from the root for each entry).
    parent: Option<(PathBuf, OwnedFd)>,
    index: index::Writer,
    max_entries: usize,
    /// Files, not a layer: `.wh.` names are refused (see [`unpack_plain`]).
    plain: bool,
}

type EntryResult = Result<(), String>;

fn os(what: &str, errno: Errno) -> String {
    format!("cannot be unpacked: {what}: {errno}")
}

fn path_error(e: PathError) -> String {
    e.to_string()
}

fn walk_error(e: WalkError) -> String {
    e.to_string()
}

fn split(path: &Path) -> (&Path, &OsStr) {
    (path.parent().unwrap_or(Path::new("")), path.file_name().unwrap_or_default())
}

impl Unpacker {
    fn parent_fd(&mut self, dir: &Path) -> Result<BorrowedFd<'_>, String> {
        let opened = match &self.parent {
            Some((p, _)) if p == dir => None,
            Some((p, fd)) if dir.starts_with(p) => {
                let below = dir.strip_prefix(p).expect("checked");
                Some(fsops::open_dir(fd.as_fd(), below, true).map_err(walk_error)?)
            }
            _ => Some(fsops::open_dir(self.root.as_fd(), dir, true).map_err(walk_error)?),
        };
        if let Some(fd) = opened {
            self.parent = Some((dir.to_path_buf(), fd));
        }
        Ok(self.parent.as_ref().map(|(_, fd)| fd.as_fd()).expect("parent was just set"))
    }

    fn entry<R: Read>(&mut self, item: &mut tar::Entry<R>) -> EntryResult {
        let header = item.header();
        let Some(kind) = entry::kind_of(header.entry_type()) else {
            return Ok(()); // pax global headers and the like carry no file
        };
        let path = entry::normalize(&item.path_bytes()).map_err(path_error)?;
        let mode = header.mode().map_err(|e| format!("has a bad mode: {e}"))? & 0o7777;
        let uid = header.uid().map_err(|e| format!("has a bad uid: {e}"))? as u32;
        let gid = header.gid().map_err(|e| format!("has a bad gid: {e}"))? as u32;
        let mtime = header.mtime().unwrap_or(0) as i64;
        let dev = nix::sys::stat::makedev(
            header.device_major().ok().flatten().unwrap_or(0).into(),
            header.device_minor().ok().flatten().unwrap_or(0).into(),
        );
        let size = if kind == EntryKind::File { item.size() } else { 0 };
        let link = item.link_name_bytes().map(|l| l.into_owned());
        let mut record = IndexEntry {
            path: path.to_string_lossy().into_owned(),
            kind,
            mode,
            uid,
            gid,
            size,
            link: link.as_ref().map(|l| String::from_utf8_lossy(l).into_owned()),
        };
        let meta = Meta { mode, uid, gid, mtime };
        let role = entry::role(&path);
        if self.plain && matches!(role, Role::Whiteout(_) | Role::Opaque(_)) {
            return Err("is named as overlayfs's deletions are (.wh.), which sbx does not copy".into());
        }
        match role {
            Role::Ignored => return Ok(()),
            Role::Whiteout(target) => {
                self.whiteout(&target)?;
                record.path = target.to_string_lossy().into_owned();
                record.kind = EntryKind::Whiteout;
            }
            Role::Opaque(dir) => {
                let fd = fsops::open_dir(self.root.as_fd(), &dir, true).map_err(walk_error)?;
                for name in OPAQUE_XATTRS {
                    match fsops::set_xattr(fd.as_fd(), name, b"y") {
                        // A rootless sbx may not set trusted.* xattrs; its overlays read user.*.
                        Err(Errno::EPERM) if name.starts_with("trusted.") => {}
                        other => other.map_err(|e| os("setting the opaque xattr", e))?,
                    }
                }
                record.path = dir.to_string_lossy().into_owned();
                record.kind = EntryKind::OpaqueWhiteout;
            }
            Role::Plain if path.as_os_str().is_empty() => {
                if kind != EntryKind::Dir {
                    return Err("names the layer root but is not a directory".into());
                }
                let root = fsops::open_dir(self.root.as_fd(), Path::new(""), false).map_err(walk_error)?;
                meta.apply_fd(root.as_fd())?;
                self.dirs.push((path, mtime));
            }
            Role::Plain => {
                let xattrs = xattrs(item);
                match kind {
                    EntryKind::Dir => self.dir(&path, meta, &xattrs)?,
                    EntryKind::File => self.file(&path, meta, item, &xattrs)?,
                    EntryKind::Symlink => self.symlink(&path, meta, link.as_deref())?,
                    EntryKind::Hardlink => self.hardlink(&path, link.as_deref())?,
                    EntryKind::CharDevice | EntryKind::BlockDevice | EntryKind::Fifo => {
                        self.node(&path, kind, meta, dev)?
                    }
                    EntryKind::Whiteout | EntryKind::OpaqueWhiteout => {
                        unreachable!("not a tar type")
                    }
                }
                self.report.unpacked_size += size;
            }
        }
        self.report.entries += 1;
        if self.report.entries > self.max_entries {
            return Err(format!("is one entry more than the {} a layer may hold", self.max_entries));
        }
        self.index.push(&record).map_err(|e| format!("cannot be recorded in the index: {e}"))
    }

    /// Clears `name` in its parent so a new inode can be made there, unless both are directories.
    fn make_room(&mut self, path: &Path, keep_dir: bool) -> Result<BorrowedFd<'_>, String> {
        let (dir, name) = split(path);
        let existing = fsops::kind_at(self.parent_fd(dir)?, name).map_err(|e| os("stat", e))?;
        if existing.is_some() && !(keep_dir && existing == Some(SFlag::S_IFDIR)) {
            fsops::remove_at(self.parent_fd(dir)?, name).map_err(|e| os("removing what was there", e))?;
            if existing == Some(SFlag::S_IFDIR) {
                // The cached parent may have been inside the tree just removed.
                self.parent = None;
            }
        }
        self.parent_fd(dir)
    }

    fn whiteout(&mut self, target: &Path) -> EntryResult {
        let parent = self.make_room(target, false)?;
        let name = split(target).1;
        mknodat(parent, name, SFlag::S_IFCHR, Mode::empty(), 0).map_err(|e| os("making the whiteout", e))
    }

    fn dir(&mut self, path: &Path, meta: Meta, xattrs: &[(String, Vec<u8>)]) -> EntryResult {
        let parent = self.make_room(path, true)?;
        let name = split(path).1;
        match nix::sys::stat::mkdirat(parent, name, Mode::from_bits_truncate(0o700)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(os("mkdir", e)),
        }
        let fd = openat(
            parent,
            name,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| os("open", e))?;
        meta.apply_fd(fd.as_fd())?;
        set_xattrs(fd.as_fd(), xattrs)?;
        self.dirs.push((path.to_path_buf(), meta.mtime));
        self.parent = Some((path.to_path_buf(), fd));
        Ok(())
    }

    fn file<R: Read>(&mut self, path: &Path, meta: Meta, content: &mut R, xattrs: &[(String, Vec<u8>)]) -> EntryResult {
        let parent = self.make_room(path, false)?;
        let name = split(path).1;
        let flags = OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = openat(parent, name, flags, Mode::from_bits_truncate(0o600)).map_err(|e| os("create", e))?;
        let mut file = File::from(fd);
        io::copy(content, &mut file).map_err(|e| format!("cannot be read or written: {e}"))?;
        meta.apply_fd(file.as_fd())?;
        set_xattrs(file.as_fd(), xattrs)?;
        let t = TimeSpec::new(meta.mtime, 0);
        futimens(file.as_fd(), &t, &t).map_err(|e| os("setting times", e))
    }

    fn symlink(&mut self, path: &Path, meta: Meta, target: Option<&[u8]>) -> EntryResult {
        let target = target.ok_or("is a symlink without a target")?;
        let parent = self.make_room(path, false)?;
        let name = split(path).1;
        // The target is stored as text and never followed here; inside the container it resolves
        // against the container's own root.
        symlinkat(OsStr::from_bytes(target), parent, name).map_err(|e| os("symlink", e))?;
        meta.chown_at(parent, name)?;
        let t = TimeSpec::new(meta.mtime, 0);
        utimensat(parent, name, &t, &t, UtimensatFlags::NoFollowSymlink).map_err(|e| os("setting times", e))
    }

    fn hardlink(&mut self, path: &Path, target: Option<&[u8]>) -> EntryResult {
        let raw = target.ok_or("is a hardlink without a target")?;
        let target = entry::normalize(raw)
            .map_err(|e| format!("is a hardlink to '{}', which {e}", String::from_utf8_lossy(raw)))?;
        if target == path || target.as_os_str().is_empty() {
            return Err(format!("is a hardlink to '{}', which is not a file", target.display()));
        }
        let (target_dir, target_name) = split(&target);
        let target_parent = fsops::open_dir(self.root.as_fd(), target_dir, false).map_err(|e| match e {
            WalkError::Missing(_) => {
                format!("is a hardlink to '{}', which this layer does not contain", target.display())
            }
            e => format!("is a hardlink to '{}', which {e}", target.display()),
        })?;
        let parent = self.make_room(path, false)?;
        let name = split(path).1;
        linkat(target_parent.as_fd(), target_name, parent, name, AtFlags::empty()).map_err(|e| match e {
            Errno::ENOENT => format!("is a hardlink to '{}', which this layer does not contain", target.display()),
            Errno::EPERM => format!("is a hardlink to '{}', which is a directory", target.display()),
            e => os("link", e),
        })
    }

    fn node(&mut self, path: &Path, kind: EntryKind, meta: Meta, dev: u64) -> EntryResult {
        let parent = self.make_room(path, false)?;
        let name = split(path).1;
        let sflag = match kind {
            EntryKind::CharDevice => SFlag::S_IFCHR,
            EntryKind::BlockDevice => SFlag::S_IFBLK,
            _ => SFlag::S_IFIFO,
        };
        mknodat(parent, name, sflag, Mode::from_bits_truncate(0o600), dev).map_err(|e| os("mknod", e))?;
        meta.chown_at(parent, name)?;
        // Not a symlink (just made), so following is harmless; chmod after chown keeps special bits.
        fchmodat(parent, name, Mode::from_bits_truncate(meta.mode), FchmodatFlags::FollowSymlink)
            .map_err(|e| os("chmod", e))
    }

    /// Sets directory times last, as adding children changed them. A directory that a later
    /// entry replaced with something else is simply gone by now.
    fn finish(&mut self) -> Result<(), UnpackError> {
        self.parent = None;
        for (path, mtime) in self.dirs.iter().rev() {
            let Ok(fd) = fsops::open_dir(self.root.as_fd(), path, false) else {
                continue;
            };
            let t = TimeSpec::new(*mtime, 0);
            futimens(fd.as_fd(), &t, &t).map_err(|e| UnpackError::Entry {
                entry: path.to_string_lossy().into_owned(),
                reason: os("setting times", e),
            })?;
        }
        Ok(())
    }
}

#[derive(Clone, Copy)]
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
}

impl Meta {
    /// Owner of `name` in `parent`, not following it if it is a symlink.
    fn chown_at(&self, parent: BorrowedFd, name: &OsStr) -> EntryResult {
        let (uid, gid) = (Some(Uid::from_raw(self.uid)), Some(Gid::from_raw(self.gid)));
        fchownat(parent, name, uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(|e| os("chown", e))
    }

    /// Owner first: chown clears setuid and setgid, so the mode goes on after it.
    fn apply_fd(&self, fd: BorrowedFd) -> EntryResult {
        fchown(fd, Some(Uid::from_raw(self.uid)), Some(Gid::from_raw(self.gid))).map_err(|e| os("chown", e))?;
        fchmod(fd, Mode::from_bits_truncate(self.mode)).map_err(|e| os("chmod", e))
    }
}

fn xattrs<R: Read>(item: &mut tar::Entry<R>) -> Vec<(String, Vec<u8>)> {
    let Ok(Some(exts)) = item.pax_extensions() else {
        return Vec::new();
    };
    exts.filter_map(Result::ok)
        .filter_map(|ext| {
            let name = ext.key().ok()?.strip_prefix("SCHILY.xattr.")?;
            is_allowed_xattr(name).then(|| (name.to_string(), ext.value_bytes().to_vec()))
        })
        .collect()
}

fn set_xattrs(fd: BorrowedFd, xattrs: &[(String, Vec<u8>)]) -> EntryResult {
    for (name, value) in xattrs {
        fsops::set_xattr(fd, name, value).map_err(|e| os(&format!("setting xattr {name}"), e))?;
    }
    Ok(())
}
