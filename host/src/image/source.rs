//! Where an image is read from: a tarball (docker-archive or oci-archive) indexed once so each
//! member can be read without extracting anything, or an OCI layout directory.

use crate::layer::entry;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{archive} has no member '{member}'")]
    Missing { archive: PathBuf, member: String },
    #[error("{archive}: member '{member}' is larger than {limit} bytes, too large for a manifest or config")]
    TooLarge { archive: PathBuf, member: String, limit: u64 },
    #[error(
        "{0} is a compressed tarball; sbx loads uncompressed docker-archive and oci-archive files (decompress it first)"
    )]
    Compressed(PathBuf),
    #[error("{path} is {kind}, not a regular file; give an image archive or an OCI layout directory")]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error(
        "{path} is not an image archive (not a tar file: {reason}); give a docker-archive or oci-archive tarball, or an OCI layout directory"
    )]
    NotATar { path: PathBuf, reason: String },
    #[error("{layout}: '{member}' leads out of the layout (a symlink); the layout is broken or hostile")]
    Escapes { layout: PathBuf, member: String },
}

/// Opens `path` without blocking on a FIFO or following its last component, and refuses anything
/// but a regular file (or, with `dir`, a directory): a FIFO would block, a device never end.
fn open_plain(at: Option<&File>, path: &Path, dir: bool) -> Result<File, SourceError> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let io_err = |e: rustix::io::Errno| SourceError::Io { path: path.to_path_buf(), source: e.into() };
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let fd = match at {
        // A member of a layout: beneath the layout's directory, whatever links it holds.
        Some(dir) => {
            rustix::fs::openat2(dir, path, flags, Mode::empty(), ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS)
        }
        None => rustix::fs::open(path, flags, Mode::empty()),
    }
    .map_err(io_err)?;
    let file = File::from(fd);
    let meta = file.metadata().map_err(|source| SourceError::Io { path: path.to_path_buf(), source })?;
    if meta.is_file() || (dir && meta.is_dir()) {
        return Ok(file);
    }
    let kind = crate::layer::fsops::kind_name(std::os::unix::fs::MetadataExt::mode(&meta));
    Err(SourceError::NotAFile { path: path.to_path_buf(), kind })
}

/// Manifests, indexes and configs are small; a bigger one is a hostile or broken archive.
pub const SMALL_LIMIT: u64 = 16 << 20;

pub enum Source {
    Tar { path: PathBuf, file: File, members: HashMap<String, (u64, u64)> },
    Dir { path: PathBuf, dir: File },
}

/// Reads one tar member with pread, so several can be open at once over the same file.
pub struct Member<'a> {
    file: &'a File,
    pos: u64,
    end: u64,
}

impl Read for Member<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let want = buf.len().min((self.end - self.pos) as usize);
        if want == 0 {
            return Ok(0);
        }
        let n = self.file.read_at(&mut buf[..want], self.pos)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "archive member is truncated"));
        }
        self.pos += n as u64;
        Ok(n)
    }
}

impl Source {
    pub fn open(path: &Path) -> Result<Source, SourceError> {
        let io_err = |source| SourceError::Io { path: path.to_path_buf(), source };
        let file = open_plain(None, path, true)?;
        if file.metadata().map_err(io_err)?.is_dir() {
            return Ok(Source::Dir { path: path.to_path_buf(), dir: file });
        }
        let mut magic = [0u8; 4];
        let n = file.read_at(&mut magic, 0).map_err(io_err)?;
        if n >= 2 && (magic[..2] == [0x1f, 0x8b] || magic == [0x28, 0xb5, 0x2f, 0xfd]) {
            return Err(SourceError::Compressed(path.to_path_buf()));
        }
        let mut members = HashMap::new();
        let mut links = Vec::new();
        // The tar reader's own complaints (a bad checksum, a number that is not one) mean the file
        // is not a tarball; they quote its bytes, which are not shown.
        let not_tar = |e: io::Error| match e.raw_os_error() {
            Some(_) => io_err(e),
            None => SourceError::NotATar {
                path: path.to_path_buf(),
                reason: if e.kind() == io::ErrorKind::UnexpectedEof {
                    "it ends inside a header"
                } else {
                    "no valid header"
                }
                .into(),
            },
        };
        let mut archive = tar::Archive::new(&file);
        for item in archive.entries_with_seek().map_err(not_tar)? {
            let item = item.map_err(not_tar)?;
            let Ok(name) = entry::normalize(&item.path_bytes()) else {
                continue;
            };
            let name = name.to_string_lossy().into_owned();
            match item.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    members.insert(name, (item.raw_file_position(), item.size()));
                }
                // Old `docker save` links duplicate layers to the first copy.
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    if let Some(target) = item.link_name_bytes() {
                        links.push((name, target.into_owned()));
                    }
                }
                _ => {}
            }
        }
        for (name, target) in links {
            let base = if target.first() == Some(&b'/') {
                Path::new("")
            } else {
                Path::new(&name).parent().unwrap_or(Path::new(""))
            };
            let joined = base.join(String::from_utf8_lossy(&target).as_ref());
            let resolved = lexical_clean(&joined);
            if let Some(found) = resolved.and_then(|r| members.get(&r).copied()) {
                members.insert(name, found);
            }
        }
        Ok(Source::Tar { path: path.to_path_buf(), file, members })
    }

    pub fn path(&self) -> &Path {
        match self {
            Source::Tar { path, .. } | Source::Dir { path, .. } => path,
        }
    }

    pub fn has(&self, member: &str) -> bool {
        match self {
            Source::Tar { members, .. } => members.contains_key(member),
            Source::Dir { path, .. } => lexical_clean(Path::new(member)).is_some_and(|m| path.join(m).is_file()),
        }
    }

    /// A reader over `member` and its size.
    pub fn open_member(&self, member: &str) -> Result<(Box<dyn Read + '_>, u64), SourceError> {
        let missing = || SourceError::Missing { archive: self.path().to_path_buf(), member: member.to_string() };
        match self {
            Source::Tar { file, members, .. } => {
                let (pos, size) = *members.get(member).ok_or_else(missing)?;
                Ok((Box::new(Member { file, pos, end: pos + size }), size))
            }
            Source::Dir { path, dir } => {
                // Member names come from the layout's own files: clean them, and open them beneath
                // the layout whatever links it holds, as regular files only, read no further
                // than the size they had when opened.
                let rel = lexical_clean(Path::new(member)).ok_or_else(missing)?;
                let file = match open_plain(Some(dir), Path::new(&rel), false) {
                    Err(SourceError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                        return Err(missing());
                    }
                    Err(SourceError::NotAFile { kind, .. }) => {
                        return Err(SourceError::NotAFile { path: path.join(rel), kind });
                    }
                    Err(SourceError::Io { source, .. }) if source.raw_os_error() == Some(libc::EXDEV) => {
                        return Err(SourceError::Escapes { layout: path.clone(), member: rel });
                    }
                    other => other?,
                };
                let size = file.metadata().map_err(|source| SourceError::Io { path: path.join(&rel), source })?.len();
                Ok((Box::new(file.take(size)), size))
            }
        }
    }

    /// Reads a small member whole (manifests, indexes, configs).
    pub fn read_small(&self, member: &str) -> Result<Vec<u8>, SourceError> {
        let (mut reader, size) = self.open_member(member)?;
        if size > SMALL_LIMIT {
            return Err(SourceError::TooLarge {
                archive: self.path().to_path_buf(),
                member: member.into(),
                limit: SMALL_LIMIT,
            });
        }
        let mut buf = Vec::with_capacity(size as usize);
        reader.read_to_end(&mut buf).map_err(|source| SourceError::Io { path: self.path().join(member), source })?;
        Ok(buf)
    }
}

/// A relative path with `.` removed and `..` applied, or None if it would leave the top.
fn lexical_clean(path: &Path) -> Option<String> {
    let mut parts: Vec<&std::ffi::OsStr> = Vec::new();
    for comp in path.components() {
        match comp {
            std::path::Component::Normal(p) => parts.push(p),
            std::path::Component::ParentDir => {
                parts.pop()?;
            }
            std::path::Component::CurDir | std::path::Component::RootDir => {}
            std::path::Component::Prefix(_) => return None,
        }
    }
    let joined: PathBuf = parts.iter().collect();
    Some(joined.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::lexical_clean;
    use std::path::Path;

    #[test]
    fn clean_stays_inside() {
        assert_eq!(lexical_clean(Path::new("a/../b/./c")).as_deref(), Some("b/c"));
        assert_eq!(lexical_clean(Path::new("../etc/passwd")), None);
        assert_eq!(lexical_clean(Path::new("/blobs/x")).as_deref(), Some("blobs/x"));
    }
}
