//! `sbx cp`: files between a container and the host, either way, as docker copies them. The
//! container's side is its root as it runs (`/proc/PID/root`, with its volumes and mounts) or, when
//! it does not run, its layers mounted in a mount namespace of this process (writable for a copy
//! in, its run lock held meanwhile so it cannot start). Every path of the container is resolved
//! beneath its root (openat2 `RESOLVE_IN_ROOT`: its symlinks lead nowhere outside it), and what is
//! copied goes through the tar writer and the unpacker, which follow no link: a copy out reads
//! links as links, a copy in never writes through one.

use super::commit::{CopyAs, write_copy};
use super::export::{ExportError, View};
use super::state::{self, FindError, Live};
use crate::image::Store;
use crate::layer::unpack::{UnpackError, unpack_plain};
use rustix::fs::{Mode, OFlags, ResolveFlags};
use std::ffi::CString;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// One side of a copy, as docker reads `cp`'s arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `-`: a tar stream on stdin or stdout.
    Stream,
    Host(PathBuf),
    Container {
        query: String,
        path: String,
    },
}

/// `CONTAINER:PATH`, `-`, or a host path (one that starts with `/` or `.`, or has no `:` before
/// any `/`). Pure.
pub fn endpoint(arg: &str) -> Endpoint {
    if arg == "-" {
        return Endpoint::Stream;
    }
    match arg.split_once(':') {
        Some((query, path)) if !query.is_empty() && !arg.starts_with(['/', '.']) && !query.contains('/') => {
            Endpoint::Container { query: query.to_string(), path: path.to_string() }
        }
        _ => Endpoint::Host(PathBuf::from(arg)),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error(transparent)]
    Find(#[from] FindError),
    #[error(transparent)]
    View(#[from] ExportError),
    #[error("could not find the file {path} in container {container}")]
    NotInContainer { container: String, path: String },
    #[error("could not find {0} on the host")]
    NotOnHost(PathBuf),
    #[error("cannot copy directory {0} to a file: give a directory, or a path that does not exist")]
    DirectoryToFile(String),
    #[error("the destination directory {0} does not exist: make it first")]
    NoDirectory(String),
    #[error("a tar stream on stdin is unpacked into a directory, and {0} is not one")]
    StreamToFile(String),
    #[error("cp copies between a container and the host: give one side as CONTAINER:PATH")]
    NoContainer,
    #[error("cp does not copy between two containers: copy to the host, then into the other")]
    TwoContainers,
    #[error("container {0} stopped or started while cp looked at it; try again")]
    Changed(String),
    #[error("cannot copy: {what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("cannot copy: {0}")]
    Unpack(#[from] UnpackError),
}

impl CopyError {
    /// What the user named is not there or cannot be copied so (docker's exit 1).
    pub fn is_refusal(&self) -> bool {
        match self {
            CopyError::Find(f) => f.is_refusal(),
            CopyError::View(_) | CopyError::Io { .. } | CopyError::Unpack(_) => false,
            _ => true,
        }
    }
}

fn io(what: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> CopyError {
    let what = what.to_string();
    move |source| CopyError::Io { what, source }
}

/// What is found at a path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Missing,
    File,
    Dir,
}

/// Where a copy lands: the directory it is unpacked in, and the name its top entry takes there
/// (empty: the source directory's contents go into it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landing {
    pub dir: String,
    pub name: String,
}

/// The last component of a path (`a/b/` is `b`); empty for `/`. Pure.
fn base(path: &str) -> &str {
    path.trim_end_matches('/').rsplit('/').next().unwrap_or("")
}

fn parent(path: &str) -> String {
    match path.trim_end_matches('/').rsplit_once('/') {
        Some(("", _)) => "/".into(),
        Some((p, _)) => p.into(),
        None => ".".into(),
    }
}

/// A directory source whose contents, not itself, are copied: `dir/.` (docker's rule), or `/`.
/// Pure.
pub fn contents_only(src: &str) -> bool {
    src.ends_with("/.") || src == "." || base(src).is_empty()
}

/// docker's rules for where source `src` (a directory or not) lands at `dest`, which is `found`.
/// Pure.
pub fn landing(src: &str, src_is_dir: bool, dest: &str, found: Found) -> Result<Landing, CopyError> {
    let src_name = || base(src.trim_end_matches("/.")).to_string();
    match found {
        Found::Dir => Ok(Landing {
            dir: dest.to_string(),
            name: if src_is_dir && contents_only(src) { String::new() } else { src_name() },
        }),
        Found::File if src_is_dir => Err(CopyError::DirectoryToFile(src.to_string())),
        Found::Missing if dest.ends_with('/') && !src_is_dir => Err(CopyError::NoDirectory(dest.to_string())),
        Found::File | Found::Missing => Ok(Landing { dir: parent(dest), name: base(dest).to_string() }),
    }
}

const IN_ROOT: ResolveFlags = ResolveFlags::IN_ROOT.union(ResolveFlags::NO_MAGICLINKS);

/// `path` of the container resolved beneath `root` (following its links inside it), opened as
/// `flags` says; None when nothing is there.
fn open_in(root: BorrowedFd, path: &str, flags: OFlags) -> Result<Option<OwnedFd>, std::io::Error> {
    let rel = path.trim_start_matches('/');
    let rel = if rel.is_empty() { "." } else { rel };
    match rustix::fs::openat2(root, rel, flags | OFlags::CLOEXEC, Mode::empty(), IN_ROOT) {
        Ok(fd) => Ok(Some(fd)),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn found_in(root: BorrowedFd, path: &str) -> Result<Found, std::io::Error> {
    Ok(match open_in(root, path, OFlags::PATH)? {
        None => Found::Missing,
        Some(fd) if rustix::fs::fstat(&fd)?.st_mode & libc::S_IFMT == libc::S_IFDIR => Found::Dir,
        Some(_) => Found::File,
    })
}

/// A container's root, open, and what keeps it so.
struct Root {
    fd: OwnedFd,
    /// The ids of the container's root on the host.
    root_ids: (u32, u32),
    _view: Option<View>,
    _stopped: Option<File>,
}

/// The root of the container `query` names: the running one's own, or its layers mounted
/// (writable when `write`). Call it while sbx is single-threaded.
fn open_root(store: &Store, query: &str, write: bool) -> Result<(Root, String), CopyError> {
    let (dir, record) = state::find(store, query)?;
    let root_ids = record.idmap.map_or((0, 0), |m| (m.uid, m.gid));
    let name = record.name.clone();
    let dir_file = File::open(&dir).map_err(io(dir.display()))?;
    // Its run lock: held, it does not run and cannot start while the copy goes on.
    if rustix::fs::flock(&dir_file, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok() {
        let view = if write { View::mount_writable(store, &dir, &record)? } else { View::mount(store, &dir, &record)? };
        let fd = rustix::fs::open(view.path(), OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| io(view.path().display())(e.into()))?;
        return Ok((Root { fd, root_ids, _view: Some(view), _stopped: Some(dir_file) }, name));
    }
    let pid = record.pid.ok_or_else(|| CopyError::Changed(name.clone()))?;
    let proc_root = format!("/proc/{pid}/root");
    let fd = rustix::fs::open(&proc_root, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|_| CopyError::Changed(name.clone()))?;
    // The pid was still the container's when its root was opened: it still runs as that pid.
    let again = state::ContainerRecord::load(&dir).and_then(|r| r.pid);
    if again != Some(pid) || state::live(&dir, &record) == Live::Stopped {
        return Err(CopyError::Changed(name));
    }
    Ok((Root { fd, root_ids, _view: None, _stopped: None }, name))
}

/// The directory `fd` as a path the unpacker opens (it reopens the same directory).
fn fd_path(fd: BorrowedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// Writes the tar of `item` in `dir` (or of `dir` itself) as `top` to a pipe that `unpack` reads.
fn through_pipe<T>(
    dir: OwnedFd,
    item: Option<&CString>,
    top: &str,
    owner: Option<(u32, u32)>,
    unpack: impl FnOnce(std::io::PipeReader) -> Result<T, CopyError>,
) -> Result<T, CopyError> {
    let (read, write) = std::io::pipe().map_err(io("a pipe"))?;
    std::thread::scope(|s| {
        let writer = s.spawn(move || {
            write_copy(dir, item.map(|c| c.as_c_str()), top, CopyAs { owner, ..CopyAs::default() }, write)
        });
        let unpacked = unpack(read);
        let written = writer.join().unwrap_or_else(|_| Err(std::io::Error::other("the copy's writer panicked")));
        let value = unpacked?;
        written.map_err(io("reading the source"))?;
        Ok(value)
    })
}

/// The source `path` of `root` as (its directory, its name; none when it is that directory).
fn source_in(root: BorrowedFd, path: &str) -> Result<Option<(OwnedFd, Option<CString>, bool)>, std::io::Error> {
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY;
    if contents_only(path) {
        return Ok(open_in(root, path, dir_flags)?.map(|fd| (fd, None, true)));
    }
    let Some(dir) = open_in(root, &parent(path), dir_flags)? else { return Ok(None) };
    let name = CString::new(base(path)).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?;
    match rustix::fs::statat(&dir, name.as_c_str(), rustix::fs::AtFlags::SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some((dir, Some(name), st.st_mode & libc::S_IFMT == libc::S_IFDIR))),
        Err(rustix::io::Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// [`source_in`], with `follow` (`cp -L`) a link that the path names followed to what it points
/// at, resolved beneath `root` as every path is: the target's content, copied under the link's name.
fn source_following(
    root: BorrowedFd,
    path: &str,
    follow: bool,
) -> Result<Option<(OwnedFd, Option<CString>, bool)>, std::io::Error> {
    let mut path = path.to_string();
    for _ in 0..40 {
        let found = source_in(root, &path)?;
        let Some((dir, Some(name), false)) = found.as_ref().filter(|_| follow) else { return Ok(found) };
        match rustix::fs::readlinkat(dir, name.as_c_str(), Vec::new()) {
            Ok(target) => {
                let target = target.to_string_lossy().into_owned();
                path = if target.starts_with('/') { target } else { format!("{}/{target}", parent(&path)) };
            }
            Err(rustix::io::Errno::INVAL) => return Ok(found), // not a link
            Err(e) => return Err(e.into()),
        }
    }
    Err(std::io::Error::from_raw_os_error(libc::ELOOP))
}

/// `sbx cp CONTAINER:SRC DEST|-`. `archive` keeps the files' owners; otherwise this process's
/// user owns what is made.
pub fn copy_out(
    store: &Store,
    query: &str,
    src: &str,
    dest: &Endpoint,
    archive: bool,
    follow: bool,
) -> Result<(), CopyError> {
    let (root, container) = open_root(store, query, false)?;
    let missing = || CopyError::NotInContainer { container: container.clone(), path: src.to_string() };
    let (dir, item, is_dir) = source_following(root.fd.as_fd(), src, follow).map_err(io(src))?.ok_or_else(missing)?;
    let owner = (!archive).then(|| (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw()));
    let top = if is_dir && item.is_none() { String::new() } else { base(src).to_string() };
    match dest {
        Endpoint::Stream => {
            let out = std::io::BufWriter::new(std::io::stdout().lock());
            write_copy(dir, item.as_deref(), &top, CopyAs { owner, ..CopyAs::default() }, out)
                .map_err(io("writing the tar stream"))
        }
        Endpoint::Host(path) => {
            let text = path.to_string_lossy();
            let found = match std::fs::metadata(path) {
                Ok(m) if m.is_dir() => Found::Dir,
                Ok(_) => Found::File,
                Err(_) => Found::Missing,
            };
            let landing = landing(src, is_dir, &text, found)?;
            if !Path::new(&landing.dir).is_dir() {
                return Err(CopyError::NoDirectory(landing.dir));
            }
            let target = Path::new(&landing.dir);
            through_pipe(dir, item.as_ref(), &landing.name, owner, |r| Ok(unpack_plain(r, target)?)).map(drop)
        }
        Endpoint::Container { .. } => Err(CopyError::TwoContainers),
    }
}

/// `sbx cp SRC|- CONTAINER:DEST`. Without `archive`, the container's root owns what is made.
pub fn copy_in(
    store: &Store,
    src: &Endpoint,
    query: &str,
    dest: &str,
    archive: bool,
    follow: bool,
) -> Result<(), CopyError> {
    let (root, container) = open_root(store, query, true)?;
    let owner = (!archive).then_some(root.root_ids);
    let found = found_in(root.fd.as_fd(), dest).map_err(io(dest))?;
    let open_dir = |path: &str| -> Result<OwnedFd, CopyError> {
        let missing = || CopyError::NoDirectory(format!("{path} in container {container}"));
        let fd =
            open_in(root.fd.as_fd(), path, OFlags::RDONLY | OFlags::DIRECTORY).map_err(|e| match e.raw_os_error() {
                Some(libc::ENOTDIR) => missing(),
                _ => io(path)(e),
            })?;
        fd.ok_or_else(missing)
    };
    match src {
        Endpoint::Stream => {
            if found != Found::Dir {
                return Err(CopyError::StreamToFile(dest.to_string()));
            }
            let dir = open_dir(dest)?;
            unpack_plain(std::io::stdin().lock(), &fd_path(dir.as_fd()))?;
            Ok(())
        }
        Endpoint::Host(path) => {
            let text = path.to_string_lossy().into_owned();
            let meta = match follow {
                true => std::fs::metadata(path),
                false => std::fs::symlink_metadata(path),
            };
            let is_dir = meta.map_err(|_| CopyError::NotOnHost(path.clone()))?.is_dir();
            let landing = landing(&text, is_dir, dest, found)?;
            let target = open_dir(&landing.dir)?;
            let host_root = rustix::fs::open("/", OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
                .map_err(|e| io("/")(e.into()))?;
            let absolute = std::path::absolute(path).map_err(io(&text))?;
            let (dir, item, _) = source_following(host_root.as_fd(), &absolute.to_string_lossy(), follow)
                .map_err(io(&text))?
                .ok_or_else(|| CopyError::NotOnHost(path.clone()))?;
            let into = fd_path(target.as_fd());
            through_pipe(dir, item.as_ref(), &landing.name, owner, |r| Ok(unpack_plain(r, &into)?)).map(drop)
        }
        Endpoint::Container { .. } => Err(CopyError::TwoContainers),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names of a tar stream's entries.
    fn names(tar: &[u8]) -> Vec<String> {
        tar::Archive::new(tar).entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect()
    }

    #[test]
    fn arguments_name_a_container_a_stream_or_a_host_path() {
        let c = |q: &str, p: &str| Endpoint::Container { query: q.into(), path: p.into() };
        assert_eq!(endpoint("web:/etc/hosts"), c("web", "/etc/hosts"));
        assert_eq!(endpoint("web:rel"), c("web", "rel"));
        assert_eq!(endpoint("-"), Endpoint::Stream);
        for host in ["/tmp/a:b", "./x:y", "dir/a:b", "file", ":x"] {
            assert_eq!(endpoint(host), Endpoint::Host(host.into()), "{host}");
        }
    }

    #[test]
    fn where_a_copy_lands_follows_dockers_rules() {
        let l = |dir: &str, name: &str| Ok::<_, String>(Landing { dir: dir.into(), name: name.into() });
        let run = |src, is_dir, dest, found| landing(src, is_dir, dest, found).map_err(|e| e.to_string());
        // A file: into a directory under its own name, or as the destination's name.
        assert_eq!(run("/etc/hosts", false, "/tmp", Found::Dir), l("/tmp", "hosts"));
        assert_eq!(run("/etc/hosts", false, "/tmp/h", Found::Missing), l("/tmp", "h"));
        assert_eq!(run("/etc/hosts", false, "/tmp/h", Found::File), l("/tmp", "h"));
        assert!(run("/etc/hosts", false, "/tmp/new/", Found::Missing).unwrap_err().contains("does not exist"));
        // A directory: into an existing one under its name, its contents with `/.`, or made.
        assert_eq!(run("/etc", true, "/tmp", Found::Dir), l("/tmp", "etc"));
        assert_eq!(run("/etc/", true, "/tmp", Found::Dir), l("/tmp", "etc"));
        assert_eq!(run("/etc/.", true, "/tmp", Found::Dir), l("/tmp", ""));
        assert_eq!(run("/", true, "/tmp", Found::Dir), l("/tmp", ""));
        assert_eq!(run("/etc", true, "/tmp/e", Found::Missing), l("/tmp", "e"));
        assert_eq!(run("/etc/.", true, "rel", Found::Missing), l(".", "rel"));
        assert!(run("/etc", true, "/tmp/f", Found::File).unwrap_err().contains("to a file"));
    }

    #[test]
    fn what_is_sent_is_named_as_it_lands_and_links_stay_links() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::create_dir(tmp.path().join("d")).unwrap();
        std::fs::write(tmp.path().join("d/f"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc/shadow", tmp.path().join("d/l")).unwrap();
        let root = rustix::fs::open(tmp.path(), OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        let send = |path: &str, top: &str| {
            let (dir, item, _) = source_in(root.as_fd(), path).unwrap().unwrap();
            let mut out = Vec::new();
            write_copy(dir, item.as_deref(), top, CopyAs { owner: Some((0, 0)), ..CopyAs::default() }, &mut out)
                .unwrap();
            names(&out)
        };
        assert_eq!(send("/d", "new"), ["new/", "new/f", "new/l"]);
        assert_eq!(send("/d/.", ""), ["f", "l"]);
        assert_eq!(send("d/f", "g"), ["g"]);
        assert!(source_in(root.as_fd(), "/nope/x").unwrap().is_none());
        // The link is not followed out of the root (to the host's /etc).
        let (dir, item, is_dir) = source_in(root.as_fd(), "/d/l").unwrap().unwrap();
        assert!(!is_dir && item.is_some());
        let mut out = Vec::new();
        write_copy(dir, item.as_deref(), "l", CopyAs::default(), &mut out).unwrap();
        let mut archive = tar::Archive::new(out.as_slice());
        let entry = archive.entries().unwrap().next().unwrap().unwrap();
        assert_eq!(entry.header().entry_type(), tar::EntryType::Symlink);
        assert_eq!(entry.link_name().unwrap().unwrap().to_str(), Some("/etc/shadow"));
    }
}
