//! COPY and ADD: the sources found in their tree are written through an overlay of the image so
//! far (attached nowhere: the descriptor of its root) into a new upper directory, which becomes
//! the step's layer. Destinations resolve in the image as its own paths do (beneath its root,
//! its links followed inside it), missing directories are made, and what is copied goes through
//! the tar writer and the unpacker, which follow no link. Where a source lands follows docker's
//! rules ([`landing`]).

use super::context::{Found, Tree};
use crate::container::commit::{CopyAs, write_copy};
use crate::image::Store;
use crate::image::store::{LayerRef, Staging};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use sha2::{Digest as _, Sha256};
use std::ffi::CString;
use std::io::{BufRead, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// One thing a COPY or ADD writes.
pub enum Item {
    /// A file or directory of its tree, found at `path` there.
    Found(Found),
    /// A heredoc's text, as a file called `name` (its delimiter's word is not known: its
    /// destination names it).
    Text(Vec<u8>),
    /// A local tar archive (plain, gzip or zstd) that ADD unpacks at the destination.
    Archive(Found),
}

/// A COPY or ADD, ready to run: what is written where, and as whom.
pub struct Plan<'a> {
    pub tree: &'a Tree,
    pub items: Vec<Item>,
    /// Absolute, in the image.
    pub dest: String,
    /// Every entry's owner (`--chown`; root for the context's files); none keeps an image's.
    pub owner: Option<(u32, u32)>,
    pub mode: Option<u32>,
}

/// Where an item lands: the directory it is unpacked in and the name it takes there (empty: a
/// directory's contents, or an archive's, go into it). A source directory's contents go into
/// the destination; a file goes into a destination that is a directory (or ends with `/`) under
/// its own name, or else becomes the destination. Pure.
pub fn landing(dest: &str, source_dir: bool, source_name: &str, dest_is_dir: bool) -> (String, String) {
    if source_dir {
        return (dest.to_string(), String::new());
    }
    if dest.ends_with('/') || dest_is_dir {
        return (dest.to_string(), source_name.to_string());
    }
    let trimmed = dest.trim_end_matches('/');
    match trimmed.rsplit_once('/') {
        Some(("", name)) => ("/".into(), name.into()),
        Some((dir, name)) => (dir.into(), name.into()),
        None => ("/".into(), trimmed.into()),
    }
}

/// The compression of an archive ADD may unpack, told by its first bytes; None for a file that is
/// not an archive (copied as it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archive {
    Tar,
    Gzip,
    Zstd,
}

/// Sniffs the start of a file. Err names a compression sbx does not unpack. Pure.
pub fn archive_kind(head: &[u8]) -> Result<Option<Archive>, String> {
    Ok(match head {
        [0x1f, 0x8b, ..] => Some(Archive::Gzip),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some(Archive::Zstd),
        [b'B', b'Z', b'h', ..] => return Err("bzip2".into()),
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => return Err("xz".into()),
        h if h.len() >= 262 && &h[257..262] == b"ustar" => Some(Archive::Tar),
        _ => None,
    })
}

fn item_name(found: &Found) -> String {
    found.path.rsplit('/').next().unwrap_or("").to_string()
}

const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// Whether `path` is a directory in the image open at `root`.
fn is_dir_in(root: BorrowedFd, path: &str) -> bool {
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    rustix::fs::openat2(root, rel, OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty(), IN_ROOT).is_ok()
}

/// Directory `path` of the image open at `root`, made with its missing parents (0755, owned by
/// `owner`) as `mkdir -p` would, resolved beneath the root at every step.
fn make_dir(root: BorrowedFd, path: &str, owner: (u32, u32)) -> Result<OwnedFd, String> {
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let open = |p: &str| rustix::fs::openat2(root, if p.is_empty() { "." } else { p }, flags, Mode::empty(), IN_ROOT);
    let mut so_far = String::new();
    for part in path.split('/').filter(|p| !p.is_empty()) {
        let next = if so_far.is_empty() { part.to_string() } else { format!("{so_far}/{part}") };
        match open(&next) {
            Ok(_) => {}
            Err(rustix::io::Errno::NOENT) => {
                let parent = open(&so_far).map_err(|e| format!("/{so_far}: {e}"))?;
                let name = CString::new(part).map_err(|_| format!("/{next} is not a valid path"))?;
                match rustix::fs::mkdirat(&parent, name.as_c_str(), Mode::from_raw_mode(0o755)) {
                    Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                    Err(e) => return Err(format!("cannot make /{next}: {e}")),
                }
                let (uid, gid) = owner;
                rustix::fs::chownat(
                    &parent,
                    name.as_c_str(),
                    Some(rustix::process::Uid::from_raw(uid)),
                    Some(rustix::process::Gid::from_raw(gid)),
                    rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
                )
                .map_err(|e| format!("cannot own /{next}: {e}"))?;
            }
            Err(rustix::io::Errno::NOTDIR) => return Err(format!("/{next} is not a directory in the image")),
            Err(e) => return Err(format!("/{next}: {e}")),
        }
        so_far = next;
    }
    open(&so_far).map_err(|e| format!("/{so_far}: {e}"))
}

impl Plan<'_> {
    /// Who owns the directories a copy makes: `--chown`'s user, else root.
    fn made_dirs_owner(&self) -> (u32, u32) {
        self.owner.unwrap_or((0, 0))
    }

    /// How the tar of a found item is written: owned and moded as the flags say, with what the
    /// context's ignore rules leave out left out (its tar paths start with `top`); with every time
    /// `mtime` where it is given.
    fn write_found(&self, found: &Found, top: &str, mtime: Option<u64>, out: impl Write) -> std::io::Result<()> {
        let base = found.path.clone();
        let tree = self.tree;
        let exclude = move |tar_path: &str, is_dir: bool| {
            let rest = match top.is_empty() {
                true => Some(format!("/{tar_path}")),
                false => tar_path.strip_prefix(top).map(str::to_string),
            };
            match rest {
                Some(rest) if !rest.is_empty() => {
                    tree.excludes(format!("{base}{rest}").trim_start_matches('/'), is_dir)
                }
                _ => false,
            }
        };
        let how = CopyAs { owner: self.owner, mode: self.mode, exclude: Some(&exclude), mtime };
        match (&found.name, top.is_empty()) {
            // A directory's contents: what it holds, as paths relative to it.
            (Some(name), true) => {
                let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
                let dir = rustix::fs::openat(&found.dir, name.as_c_str(), flags, Mode::empty())?;
                write_copy(dir, None, "", how, out)
            }
            (name, _) => write_copy(found.dir.try_clone()?, name.as_deref(), top, how, out),
        }
    }

    /// A digest of what the step writes (the files' names, modes, owners and contents, and where
    /// they go; not their times, as docker's cache), for the build cache.
    pub fn digest(&self) -> Result<String, String> {
        let mut h = HashWriter(Sha256::new());
        let _ = writeln!(h, "{} {:?} {:?}", self.dest, self.owner, self.mode);
        for item in &self.items {
            match item {
                Item::Found(f) | Item::Archive(f) => {
                    let _ = writeln!(h, "item {}", f.path);
                    self.write_found(f, &item_name(f), Some(0), &mut h)
                        .map_err(|e| format!("reading {}: {e}", f.path))?;
                }
                Item::Text(body) => {
                    let _ = writeln!(h, "text {}", body.len());
                    h.0.update(body);
                }
            }
        }
        Ok(hex::encode(h.0.finalize()))
    }

    /// Writes the items through an overlay of `layers` (bottom first) into a new layer, stored;
    /// `what` names the step in errors.
    pub fn apply(&self, store: &Store, layers: &[PathBuf], what: &str) -> Result<LayerRef, String> {
        let staging = store.stage().map_err(|e| e.to_string())?;
        let (upper, work) = (staging.path().join("upper"), staging.path().join("work"));
        for d in [&upper, &work] {
            std::fs::create_dir(d).map_err(|e| format!("{}: {e}", d.display()))?;
        }
        let root = writable_root(layers, &upper, &work)?;
        for item in &self.items {
            self.write_item(root.as_fd(), item, &staging)?;
        }
        drop(root);
        crate::container::commit::store_layer(store, what, |out| {
            crate::container::commit::write_layer(&upper, None, out)
        })
        .map_err(|e| e.to_string())
    }

    fn write_item(&self, root: BorrowedFd, item: &Item, staging: &Staging) -> Result<(), String> {
        let dest_is_dir = is_dir_in(root, &self.dest);
        match item {
            Item::Found(found) => {
                let (dir, name) = landing(&self.dest, found.is_dir, &item_name(found), dest_is_dir);
                let target = make_dir(root, &dir, self.made_dirs_owner())?;
                pipe_into(&target, |out| self.write_found(found, &name, None, out))
                    .map_err(|e| format!("copying {} to {}: {e}", found.path, self.dest))
            }
            Item::Text(body) => {
                let (dir, name) = landing(&self.dest, false, "", dest_is_dir);
                if name.is_empty() {
                    return Err(format!("a heredoc needs a file name as its destination, not {}", self.dest));
                }
                let file = staging.path().join("heredoc");
                std::fs::write(&file, body).map_err(|e| format!("{}: {e}", file.display()))?;
                let found = Found {
                    dir: rustix::fs::open(
                        staging.path(),
                        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                        Mode::empty(),
                    )
                    .map_err(|e| e.to_string())?,
                    name: Some(c"heredoc".into()),
                    is_dir: false,
                    path: String::new(),
                };
                let target = make_dir(root, &dir, self.made_dirs_owner())?;
                let how = CopyAs {
                    owner: Some(self.made_dirs_owner()),
                    mode: Some(self.mode.unwrap_or(0o644)),
                    exclude: None,
                    mtime: None,
                };
                pipe_into(&target, |out| write_copy(found.dir.try_clone()?, found.name.as_deref(), &name, how, out))
                    .map_err(|e| format!("writing the heredoc to {}: {e}", self.dest))
            }
            Item::Archive(found) => {
                let name = found.name.as_deref().unwrap_or(c".");
                let fd = rustix::fs::openat(&found.dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
                    .map_err(|e| format!("{}: {e}", found.path))?;
                let mut reader = std::io::BufReader::new(std::fs::File::from(fd));
                let head = reader.fill_buf().map_err(|e| format!("{}: {e}", found.path))?.to_vec();
                let stream: Box<dyn Read> = match archive_kind(&head) {
                    Ok(Some(Archive::Gzip)) => Box::new(flate2::bufread::MultiGzDecoder::new(reader)),
                    Ok(Some(Archive::Zstd)) => {
                        Box::new(zstd::stream::read::Decoder::with_buffer(reader).map_err(|e| e.to_string())?)
                    }
                    _ => Box::new(reader),
                };
                let target = make_dir(root, &self.dest, self.made_dirs_owner())?;
                crate::layer::unpack::unpack_plain(stream, &fd_path(target.as_fd()))
                    .map(drop)
                    .map_err(|e| format!("unpacking {}: {e}", found.path))
            }
        }
    }
}

/// Whether the file of `found` is an archive ADD unpacks; Err names a compression it cannot.
pub fn is_archive(found: &Found) -> Result<bool, String> {
    let name = found.name.as_deref().unwrap_or(c".");
    let fd = rustix::fs::openat(&found.dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| format!("{}: {e}", found.path))?;
    let mut head = Vec::with_capacity(512);
    std::fs::File::from(fd).take(512).read_to_end(&mut head).map_err(|e| format!("{}: {e}", found.path))?;
    match archive_kind(&head) {
        Ok(Some(Archive::Tar)) => Ok(true),
        Ok(Some(_)) => Ok(true),
        Ok(None) => Ok(false),
        Err(kind) => Err(format!(
            "{} is a {kind} archive, which sbx does not unpack: use gzip or zstd, or unpack it in a RUN step",
            found.path
        )),
    }
}

/// The root of the image of `layers` (bottom first) with `upper` over it, writable: `upper`
/// itself for no layers, else an overlay attached nowhere.
fn writable_root(layers: &[PathBuf], upper: &Path, work: &Path) -> Result<OwnedFd, String> {
    if layers.is_empty() {
        return rustix::fs::open(upper, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| format!("{}: {e}", upper.display()));
    }
    let c =
        |p: &Path| CString::new(p.as_os_str().as_encoded_bytes()).map_err(|_| format!("{}: not a path", p.display()));
    let mut options = Vec::new();
    for l in crate::container::layers::once_each(layers).iter().rev() {
        options.push((CString::from(c"lowerdir+"), Some(c(l)?)));
    }
    options.push((c"upperdir".into(), Some(c(upper)?)));
    options.push((c"workdir".into(), Some(c(work)?)));
    crate::sys::detached_overlay(&options).map_err(|e| format!("cannot mount the image's layers: {e}"))
}

/// The image of `layers` (bottom first), read-only, as a tree to copy from (`COPY --from`).
pub fn image_tree(store: &Store, layers: &[PathBuf]) -> Result<Tree, String> {
    let open = |p: &Path| {
        rustix::fs::open(p, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| format!("{}: {e}", p.display()))
    };
    match crate::container::layers::once_each(layers).as_slice() {
        [] => {
            let staging = store.stage().map_err(|e| e.to_string())?;
            Tree::empty(staging).map_err(|e| e.to_string())
        }
        [one] => Ok(Tree::image(open(one)?, None)),
        many => {
            let mut options = Vec::new();
            for l in many.iter().rev() {
                let path = CString::new(l.as_os_str().as_encoded_bytes())
                    .map_err(|_| format!("{}: not a path", l.display()))?;
                options.push((CString::from(c"lowerdir+"), Some(path)));
            }
            let mnt =
                crate::sys::detached_overlay(&options).map_err(|e| format!("cannot mount the image's layers: {e}"))?;
            let root =
                rustix::fs::openat(&mnt, c".", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                    .map_err(|e| e.to_string())?;
            Ok(Tree::image(root, Some(Box::new(mnt))))
        }
    }
}

fn fd_path(fd: BorrowedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Unpacks into the directory `target` the tar stream that `write` writes (in a thread of its
/// own, through a pipe).
fn pipe_into(
    target: &OwnedFd,
    write: impl FnOnce(std::io::PipeWriter) -> std::io::Result<()> + Send,
) -> Result<(), String> {
    let (read, out) = std::io::pipe().map_err(|e| e.to_string())?;
    let into = fd_path(target.as_fd());
    std::thread::scope(|s| {
        let writer = s.spawn(move || write(out));
        let unpacked = crate::layer::unpack::unpack_plain(read, &into);
        let written = writer.join().unwrap_or_else(|_| Err(std::io::Error::other("the copy's writer panicked")));
        unpacked.map_err(|e| e.to_string())?;
        written.map_err(|e| e.to_string())
    })
}

/// A `Write` that only hashes.
struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_land_as_dockers_copy_puts_them() {
        let l = |d: &str, n: &str| (d.to_string(), n.to_string());
        // A directory's contents go into the destination, whatever it is.
        assert_eq!(landing("/app", true, "src", false), l("/app", ""));
        // A file goes into a directory (existing, or written with a slash) under its name...
        assert_eq!(landing("/app/", false, "main.rs", false), l("/app/", "main.rs"));
        assert_eq!(landing("/app", false, "main.rs", true), l("/app", "main.rs"));
        // ...or becomes the destination.
        assert_eq!(landing("/app/run.sh", false, "start.sh", false), l("/app", "run.sh"));
        assert_eq!(landing("/motd", false, "x", false), l("/", "motd"));
    }

    #[test]
    fn archives_are_told_by_their_first_bytes() {
        assert_eq!(archive_kind(&[0x1f, 0x8b, 8]), Ok(Some(Archive::Gzip)));
        assert_eq!(archive_kind(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Ok(Some(Archive::Zstd)));
        let mut tar = vec![0u8; 512];
        tar[257..262].copy_from_slice(b"ustar");
        assert_eq!(archive_kind(&tar), Ok(Some(Archive::Tar)));
        assert_eq!(archive_kind(b"#!/bin/sh\necho hi\n"), Ok(None));
        assert!(archive_kind(b"BZh91AY").unwrap_err().contains("bzip2"));
        assert!(archive_kind(&[0xfd, b'7', b'z', b'X', b'Z', 0]).unwrap_err().contains("xz"));
    }
}
