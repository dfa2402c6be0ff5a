//! Pure decisions about tar entries: is the path acceptable, is it a whiteout, what kind is it.

use serde::{Deserialize, Serialize};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// What an entry of a layer makes, as recorded in the layer index and shown to policies. New
/// kinds go at the end: the index records a kind by its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
    Hardlink,
    CharDevice,
    BlockDevice,
    Fifo,
    /// `.wh.NAME`: NAME is deleted from the layers below.
    Whiteout,
    /// `.wh..wh..opq`: the directory hides what the layers below have in it.
    OpaqueWhiteout,
}

/// One entry of a layer, as kept in the store's layer index ([`super::index`]: its fields are
/// encoded in this order, and a kind by its position above).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// Relative to the layer root; for whiteouts, the path they delete (or the opaque directory).
    pub path: String,
    pub kind: EntryKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    /// Absent from the JSON index of older layers where there is none.
    #[serde(default)]
    pub link: Option<String>,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("has an absolute path")]
    Absolute,
    #[error("has a '..' component")]
    DotDot,
}

/// The entry path as a clean relative path: `./` and empty components dropped, absolute paths and
/// `..` refused (never resolved: a layer that needs them is hostile or broken). Empty means the
/// layer root itself.
pub fn normalize(raw: &[u8]) -> Result<PathBuf, PathError> {
    if raw.first() == Some(&b'/') {
        return Err(PathError::Absolute);
    }
    let mut out = PathBuf::new();
    for part in raw.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => return Err(PathError::DotDot),
            name => out.push(OsStr::from_bytes(name)),
        }
    }
    Ok(out)
}

pub const WHITEOUT_PREFIX: &str = ".wh.";
pub const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// How a (normalized) entry path is to be treated.
#[derive(Debug, PartialEq, Eq)]
pub enum Role {
    Plain,
    /// Delete this path from the layers below.
    Whiteout(PathBuf),
    /// Make this directory opaque.
    Opaque(PathBuf),
    /// AUFS bookkeeping (`.wh..wh.plnk`, `.wh..wh.aufs`): carries nothing for overlayfs.
    Ignored,
}

pub fn role(path: &Path) -> Role {
    let Some(name) = path.file_name().map(OsStrExt::as_bytes) else {
        return Role::Plain;
    };
    let parent = path.parent().unwrap_or(Path::new("")).to_path_buf();
    if name == OPAQUE_MARKER.as_bytes() {
        Role::Opaque(parent)
    } else if name.starts_with(b".wh..wh.") {
        Role::Ignored
    } else if let Some(target) = name.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
        match target {
            b"" | b"." | b".." => Role::Ignored,
            t => Role::Whiteout(parent.join(OsStr::from_bytes(t))),
        }
    } else {
        Role::Plain
    }
}

pub fn kind_of(t: tar::EntryType) -> Option<EntryKind> {
    use tar::EntryType as T;
    Some(match t {
        T::Regular | T::Continuous | T::GNUSparse => EntryKind::File,
        T::Directory => EntryKind::Dir,
        T::Symlink => EntryKind::Symlink,
        T::Link => EntryKind::Hardlink,
        T::Char => EntryKind::CharDevice,
        T::Block => EntryKind::BlockDevice,
        T::Fifo => EntryKind::Fifo,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_cleans_and_refuses() {
        assert_eq!(normalize(b"./etc//passwd").unwrap(), Path::new("etc/passwd"));
        assert_eq!(normalize(b"./").unwrap(), Path::new(""));
        assert_eq!(normalize(b"bin/").unwrap(), Path::new("bin"));
        assert_eq!(normalize(b"/etc/passwd"), Err(PathError::Absolute));
        assert_eq!(normalize(b"a/../../etc"), Err(PathError::DotDot));
        assert_eq!(normalize(b".."), Err(PathError::DotDot));
        assert_eq!(normalize(b"a/..b").unwrap(), Path::new("a/..b"));
    }

    #[test]
    fn whiteouts_are_classified() {
        assert_eq!(role(Path::new("etc/.wh.passwd")), Role::Whiteout("etc/passwd".into()));
        assert_eq!(role(Path::new(".wh.tmp")), Role::Whiteout("tmp".into()));
        assert_eq!(role(Path::new("var/.wh..wh..opq")), Role::Opaque("var".into()));
        assert_eq!(role(Path::new(".wh..wh..opq")), Role::Opaque("".into()));
        assert_eq!(role(Path::new(".wh..wh.plnk/1")), Role::Plain);
        assert_eq!(role(Path::new(".wh..wh.plnk")), Role::Ignored);
        assert_eq!(role(Path::new("etc/.wh..")), Role::Ignored);
        assert_eq!(role(Path::new("etc/wh.passwd")), Role::Plain);
        assert_eq!(role(Path::new("")), Role::Plain);
    }
}
