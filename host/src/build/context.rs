//! The trees a COPY or ADD reads from: the build context (a directory, or a tarball unpacked into
//! the store's staging area), with `.dockerignore` / `.containerignore` honoured and nothing read
//! outside it (paths are resolved beneath its root; a `..`, an absolute path or a symlink that
//! leads out is refused by name), or an earlier stage's or an image's files (`COPY --from`),
//! where paths resolve as in the image, beneath its root.

use super::BuildError;
use crate::dockerfile::ignore::Ignore;
use crate::image::Store;
use crate::image::store::Staging;
use rustix::fs::{AtFlags, Mode, OFlags, ResolveFlags};
use std::ffi::CString;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The files a COPY reads.
pub struct Tree {
    root: OwnedFd,
    /// The context's ignore rules; none for an image's files.
    ignore: Option<Ignore>,
    /// Whether this is the build context, whose links must not lead out of it; an image's
    /// absolute links resolve in the image instead.
    context: bool,
    /// What keeps the tree: an unpacked context, an image's mounted layers.
    _keep: Option<Box<dyn std::any::Any + Send + Sync>>,
}

/// One source found: its directory, its name there (none for the tree's root), whether it is a
/// directory, and its path in the tree (for ignore rules and messages).
pub struct Found {
    pub dir: OwnedFd,
    pub name: Option<CString>,
    pub is_dir: bool,
    pub path: String,
}

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> BuildError + '_ {
    move |source| BuildError::Context { path: path.to_path_buf(), source }
}

fn open_dir_fd(path: &Path) -> std::io::Result<OwnedFd> {
    Ok(rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())?)
}

/// The ignore file of a context directory: `.dockerignore`, else `.containerignore`.
fn read_ignore(root: BorrowedFd, shown: &Path) -> Result<Ignore, BuildError> {
    for name in [".dockerignore", ".containerignore"] {
        match crate::layer::fsops::read_in_root(root, Path::new(name), 1 << 20) {
            Ok(Some(bytes)) => {
                let text = String::from_utf8_lossy(&bytes);
                return Ignore::parse(name, &text).map_err(BuildError::Usage);
            }
            Ok(None) => {}
            Err(e) => return Err(io_at(&shown.join(name))(std::io::Error::other(e.to_string()))),
        }
    }
    Ok(Ignore::default())
}

impl Tree {
    /// The context directory `path`.
    pub fn context_dir(path: &Path) -> Result<Tree, BuildError> {
        let root = open_dir_fd(path).map_err(io_at(path))?;
        let ignore = read_ignore(root.as_fd(), path)?;
        Ok(Tree { root, ignore: Some(ignore), context: true, _keep: None })
    }

    /// A context sent as a tarball on `reader` (`sbx build -`), unpacked into `staging`.
    pub fn context_tar(store: &Store, reader: impl std::io::Read) -> Result<Tree, BuildError> {
        let staging = store.stage()?;
        let dir = staging.path().join("context");
        std::fs::create_dir(&dir).map_err(io_at(&dir))?;
        crate::layer::unpack::unpack_plain(reader, &dir)
            .map_err(|e| io_at(Path::new("-"))(std::io::Error::other(e.to_string())))?;
        let root = open_dir_fd(&dir).map_err(io_at(&dir))?;
        let ignore = read_ignore(root.as_fd(), Path::new("-"))?;
        Ok(Tree { root, ignore: Some(ignore), context: true, _keep: Some(Box::new(staging)) })
    }

    /// An image's files, open at `root` and kept by `keep` (its mount, or nothing).
    pub fn image(root: OwnedFd, keep: Option<Box<dyn std::any::Any + Send + Sync>>) -> Tree {
        Tree { root, ignore: None, context: false, _keep: keep }
    }

    /// An empty tree (`FROM scratch`'s files), in `staging`.
    pub fn empty(staging: Staging) -> Result<Tree, BuildError> {
        let root = open_dir_fd(staging.path()).map_err(io_at(staging.path()))?;
        Ok(Tree { root, ignore: None, context: false, _keep: Some(Box::new(staging)) })
    }

    /// The directory of the tree's root, as a path the unpacker and the walker open.
    pub fn root_path(&self) -> PathBuf {
        PathBuf::from(format!("/proc/self/fd/{}", self.root.as_raw_fd()))
    }

    /// Reads a file of the context, resolved beneath it.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, BuildError> {
        crate::layer::fsops::read_in_root(self.root.as_fd(), Path::new(path), 16 << 20)
            .map_err(|e| BuildError::Usage(e.to_string()))
    }

    /// The Dockerfile's name and text: `file` (`-f`: a host path, or for a context sent on stdin a
    /// path in it), else the context's `Dockerfile` or `Containerfile`.
    pub fn dockerfile(&self, file: Option<&Path>, sent: bool) -> Result<(String, String), BuildError> {
        let text = |bytes: Vec<u8>, name: &str| {
            String::from_utf8(bytes).map_err(|_| BuildError::Usage(format!("{name} is not UTF-8 text")))
        };
        match file {
            Some(path) if !sent => {
                let shown = path.display().to_string();
                let bytes =
                    std::fs::read(path).map_err(|source| BuildError::Context { path: path.to_path_buf(), source })?;
                Ok((shown.clone(), text(bytes, &shown)?))
            }
            Some(path) => {
                let shown = path.display().to_string();
                match self.read(&shown)? {
                    Some(bytes) => Ok((shown.clone(), text(bytes, &shown)?)),
                    None => Err(BuildError::Usage(format!("the context sent on stdin has no {shown}"))),
                }
            }
            None => {
                for name in ["Dockerfile", "Containerfile"] {
                    if let Some(bytes) = self.read(name)? {
                        return Ok((name.to_string(), text(bytes, name)?));
                    }
                }
                Err(BuildError::Usage(
                    "the build context has no Dockerfile or Containerfile: write one, or name it with -f".into(),
                ))
            }
        }
    }

    /// Whether the ignore rules leave `path` out (a directory only when nothing under it may come
    /// back through an exception).
    pub fn excludes(&self, path: &str, is_dir: bool) -> bool {
        match &self.ignore {
            Some(i) => i.excludes(path) && !(is_dir && i.may_bring_back_under(path)),
            None => false,
        }
    }

    /// The paths a source pattern names, sorted: one path, or a glob's matches (`*`, `?`, `[...]`
    /// within one component). Err says why the pattern cannot be read.
    pub fn expand(&self, pattern: &str) -> Result<Vec<String>, String> {
        let clean = self.clean(pattern)?;
        if !clean.contains(['*', '?', '[']) {
            return Ok(vec![clean]);
        }
        let glob = globset::GlobBuilder::new(&clean)
            .literal_separator(true)
            .build()
            .map_err(|e| format!("bad pattern '{pattern}': {e}"))?
            .compile_matcher();
        // The walk starts at the pattern's fixed directory.
        let fixed: Vec<&str> = clean.split('/').take_while(|c| !c.contains(['*', '?', '['])).collect();
        let start = fixed.join("/");
        let depth = clean.split('/').count();
        let mut found = Vec::new();
        self.walk(&start, depth, &mut |path| {
            if glob.is_match(path) {
                found.push(path.to_string());
            }
        })?;
        found.sort();
        Ok(found)
    }

    /// Calls `f` with each path below `start` (relative to the root) down to `depth` components,
    /// not following links, leaving out what the ignore rules leave out.
    fn walk(&self, start: &str, depth: usize, f: &mut dyn FnMut(&str)) -> Result<(), String> {
        let base = self.root_path();
        let mut stack = vec![start.to_string()];
        while let Some(dir) = stack.pop() {
            let at = if dir.is_empty() { base.clone() } else { base.join(&dir) };
            // A walk that started at a missing directory, or met one that is gone, finds nothing.
            let Ok(entries) = std::fs::read_dir(&at) else { continue };
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let path = if dir.is_empty() { name } else { format!("{dir}/{name}") };
                let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
                if self.excludes(&path, is_dir) {
                    continue;
                }
                f(&path);
                if is_dir && path.split('/').count() < depth {
                    stack.push(path);
                }
            }
        }
        Ok(())
    }

    /// A source path made relative to the root, refused when it leads out of the context.
    fn clean(&self, pattern: &str) -> Result<String, String> {
        if self.context && pattern.starts_with('/') {
            return Err(format!(
                "'{pattern}' is an absolute path: COPY reads from the build context, so give a path relative to it"
            ));
        }
        let mut parts: Vec<&str> = Vec::new();
        for part in pattern.split('/') {
            match part {
                "" | "." => {}
                ".." if parts.pop().is_none() && self.context => {
                    return Err(format!("'{pattern}' is outside the build context: copy only what is inside it"));
                }
                ".." => {}
                p => parts.push(p),
            }
        }
        Ok(parts.join("/"))
    }

    /// The source at `path` (relative, clean): a link it names is followed, beneath the root (in
    /// the context, a link out of it is refused). None when nothing is there.
    pub fn find(&self, path: &str) -> Result<Option<Found>, String> {
        let mut path = path.to_string();
        for _ in 0..40 {
            if path.is_empty() {
                let dir = self.open(".").map_err(|e| format!("the context's root: {e}"))?;
                return Ok(dir.map(|dir| Found { dir, name: None, is_dir: true, path: String::new() }));
            }
            let (parent, base) = match path.rsplit_once('/') {
                Some((p, b)) => (p.to_string(), b.to_string()),
                None => (".".to_string(), path.clone()),
            };
            let Some(dir) = self.open(&parent).map_err(|e| self.escape_message(&path, e))? else { return Ok(None) };
            let name = CString::new(base.clone()).map_err(|_| format!("'{path}' is not a valid path"))?;
            let st = match rustix::fs::statat(&dir, name.as_c_str(), AtFlags::SYMLINK_NOFOLLOW) {
                Ok(st) => st,
                Err(rustix::io::Errno::NOENT) => return Ok(None),
                Err(e) => return Err(format!("'{path}': {e}")),
            };
            match st.st_mode & libc::S_IFMT {
                libc::S_IFLNK => {
                    let target = rustix::fs::readlinkat(&dir, name.as_c_str(), Vec::new())
                        .map_err(|e| format!("'{path}': {e}"))?
                        .to_string_lossy()
                        .into_owned();
                    let joined = match target.strip_prefix('/') {
                        Some(abs) if !self.context => abs.to_string(),
                        Some(_) => return Err(self.escape_message(&path, rustix::io::Errno::XDEV)),
                        None if parent == "." => target,
                        None => format!("{parent}/{target}"),
                    };
                    path = self.clean(&joined).map_err(|_| self.escape_message(&path, rustix::io::Errno::XDEV))?;
                }
                mode => {
                    let path_shown = path.clone();
                    return Ok(Some(Found { dir, name: Some(name), is_dir: mode == libc::S_IFDIR, path: path_shown }));
                }
            }
        }
        Err(format!("'{path}': too many levels of symbolic links"))
    }

    fn escape_message(&self, path: &str, e: rustix::io::Errno) -> String {
        match e {
            rustix::io::Errno::XDEV if self.context => {
                format!("'{path}' is a symlink that leads out of the build context: copy only what is inside it")
            }
            e => format!("'{path}': {e}"),
        }
    }

    /// Directory `path` of the tree, resolved beneath its root: the context refuses links out
    /// of it (EXDEV), an image's resolve inside it.
    fn open(&self, path: &str) -> Result<Option<OwnedFd>, rustix::io::Errno> {
        let how = match self.context {
            true => ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
            false => ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS,
        };
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        match rustix::fs::openat2(&self.root, path, flags, Mode::empty(), how) {
            Ok(fd) => Ok(Some(fd)),
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
