//! What sbx remembers about a plugin file by its identity (device, inode, size, mtime, ctime): its
//! sha256 and which interfaces it exports. Any write to the file changes that identity (ctime
//! cannot be set by a user), so a hit lets a run skip reading and hashing the wasm, and lets a run
//! whose policy decision is cached know, without loading anything, that no plugin has hooks.

use crate::image::Digest;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub sha256: Digest,
    pub policy: bool,
    pub hooks: bool,
}

fn entry(cache_dir: &Path, meta: &std::fs::Metadata) -> PathBuf {
    let id = format!(
        "{}:{}:{}:{}.{}:{}.{}",
        meta.dev(),
        meta.ino(),
        meta.size(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ctime(),
        meta.ctime_nsec()
    );
    cache_dir.join(format!("file-{}", Digest::of(id.as_bytes()).hex()))
}

/// What is known of the file with metadata `meta`; None when it is new or changed.
pub fn lookup(cache_dir: &Path, meta: &std::fs::Metadata) -> Option<Known> {
    let text = std::fs::read_to_string(entry(cache_dir, meta)).ok()?;
    let mut words = text.split_whitespace();
    let sha256 = Digest::from_hex(words.next()?).ok()?;
    let (policy, hooks) = (words.next()? == "1", words.next()? == "1");
    Some(Known { sha256, policy, hooks })
}

/// Remembers `known` for the file with metadata `meta`. A failed write only costs a later run a
/// read of the wasm.
pub fn remember(cache_dir: &Path, meta: &std::fs::Metadata, known: &Known) {
    let text = format!("{} {} {}", known.sha256.hex(), u8::from(known.policy), u8::from(known.hooks));
    let _ = crate::image::store::write_atomic_unsynced(&entry(cache_dir, meta), text.as_bytes());
}
