//! What sbx remembers about a plugin file by its identity (device, inode, size, mtime, ctime): its
//! sha256, which interfaces it exports and imports and how much heap its mapping took. Any write to
//! the file changes that identity (ctime cannot be set by a user), so a hit lets a run skip reading
//! and hashing the wasm and looking through the component's interfaces again, and lets a run whose
//! policy decision is cached know, without loading anything, that no plugin has hooks.

use super::bindings::WIT_VERSION;
use crate::image::Digest;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Known {
    pub sha256: Digest,
    pub policy: bool,
    pub hooks: bool,
    /// Bytes of heap wasmtime's metadata took when it was first mapped (see [`super::heap`]); None
    /// in what an sbx before it wrote.
    pub map_heap: Option<u64>,
    /// The interfaces it imports, as found when it was checked to speak this sbx's WIT version;
    /// None in what an sbx before it wrote, or one of another WIT version.
    pub imports: Option<Vec<String>>,
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
    let text = crate::image::store::read_small(&entry(cache_dir, meta)).ok()?;
    let mut words = text.split_whitespace();
    let sha256 = Digest::from_hex(words.next()?).ok()?;
    let (policy, hooks) = (words.next()? == "1", words.next()? == "1");
    let map_heap = words.next().and_then(|w| w.parse().ok());
    let imports = (words.next() == Some(WIT_VERSION)).then(|| words.map(str::to_string).collect());
    Some(Known { sha256, policy, hooks, map_heap, imports })
}

/// Remembers `known` for the file with metadata `meta`. A failed write only costs a later run a
/// read of the wasm.
pub fn remember(cache_dir: &Path, meta: &std::fs::Metadata, known: &Known) {
    let mut text = format!("{} {} {}", known.sha256.hex(), u8::from(known.policy), u8::from(known.hooks));
    match known.map_heap {
        Some(bytes) => text += &format!(" {bytes}"),
        None => text += " -",
    }
    if let Some(imports) = &known.imports {
        for word in std::iter::once(WIT_VERSION).chain(imports.iter().map(String::as_str)) {
            text.push(' ');
            text.push_str(word);
        }
    }
    let _ = crate::image::store::write_atomic_unsynced(&entry(cache_dir, meta), text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cache directory holding a plugin file, and the file's metadata.
    fn plugin_file() -> (tempfile::TempDir, std::fs::Metadata) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.wasm");
        std::fs::write(&file, b"\0asm").unwrap();
        let meta = std::fs::metadata(&file).unwrap();
        (dir, meta)
    }

    #[test]
    fn remembers_what_a_mapping_took_and_reads_records_without_it() {
        let (dir, meta) = plugin_file();
        assert_eq!(lookup(dir.path(), &meta), None, "nothing known yet");

        let imports = Some(vec!["sbx:plugin/types@0.9.0".to_string(), "wasi:io/poll@0.2.9".to_string()]);
        let known = Known { sha256: Digest::of(b"p"), policy: true, hooks: false, map_heap: Some(1_455_184), imports };
        remember(dir.path(), &meta, &known);
        assert_eq!(lookup(dir.path(), &meta), Some(known.clone()));
        let unmeasured = Known { map_heap: None, ..known.clone() };
        remember(dir.path(), &meta, &unmeasured);
        assert_eq!(lookup(dir.path(), &meta), Some(unmeasured));

        // Records of sbx before the imports were kept, and before the heap's measure: the rest is
        // known, the imports (and the heap) are not.
        let old = format!("{} 1 0 1455184", known.sha256.hex());
        std::fs::write(entry(dir.path(), &meta), old).unwrap();
        assert_eq!(lookup(dir.path(), &meta), Some(Known { imports: None, ..known.clone() }));
        let older = format!("{} 1 0", known.sha256.hex());
        std::fs::write(entry(dir.path(), &meta), older).unwrap();
        assert_eq!(lookup(dir.path(), &meta), Some(Known { imports: None, map_heap: None, ..known.clone() }));

        // A record of an sbx of another WIT version: its imports were checked against that one.
        let other = format!("{} 1 0 - 0.8.0 sbx:plugin/types@0.8.0", known.sha256.hex());
        std::fs::write(entry(dir.path(), &meta), other).unwrap();
        assert_eq!(lookup(dir.path(), &meta), Some(Known { imports: None, map_heap: None, ..known }));
    }

    #[test]
    fn knows_a_component_that_imports_nothing() {
        let (dir, meta) = plugin_file();
        let known =
            Known { sha256: Digest::of(b"p"), policy: true, hooks: true, map_heap: None, imports: Some(vec![]) };
        remember(dir.path(), &meta, &known);
        assert_eq!(lookup(dir.path(), &meta), Some(known));
    }
}
