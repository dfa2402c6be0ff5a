//! The content store under `--root`: blobs by digest, layers unpacked once by diff id and shared,
//! image records by config digest. Writers stage in `tmp/` and rename into place, so a reader sees
//! a whole layer or none; image records are written under the store lock.

use super::digest::Digest;
use super::reference;
use crate::layer::{self, IndexEntry};
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} is damaged: {message}; remove it and load the image again")]
    Damaged { path: PathBuf, message: String },
    #[error(
        "no image '{0}' in the store; pull it with `sbx pull`, or load it with `sbx load -i FILE` (see `sbx images`)"
    )]
    NotFound(String),
    #[error("'{query}' matches several images ({matches}); give more of the id")]
    Ambiguous { query: String, matches: String },
    #[error("the short name '{query}' may mean any of {candidates}: give the full name")]
    AmbiguousShortName { query: String, candidates: String },
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_path_buf(), source }
}

/// A layer of an image, bottom first in [`ImageRecord::layers`].
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerRef {
    /// The blob as shipped (compressed or not).
    pub digest: Digest,
    pub diff_id: Digest,
    pub media_type: String,
    pub size: u64,
}

/// What the store knows of one image; the file name is the config digest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ImageRecord {
    pub id: Digest,
    pub names: Vec<String>,
    /// None for docker-archive images, which carry no manifest.
    pub manifest_digest: Option<Digest>,
    pub layers: Vec<LayerRef>,
    pub created: Option<String>,
    /// Sum of the unpacked sizes of the layers.
    pub size: u64,
    /// The image a build's step made this one from (docker's Parent): an unnamed image that is
    /// another's parent is an intermediate one, which `images` shows only with `-a`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Digest>,
}

/// Kept beside each unpacked layer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LayerMeta {
    pub diff_id: Digest,
    pub unpacked_size: u64,
    pub entries: usize,
    /// The blob it was unpacked from, kept in `blobs/` (none for layers stored by older sbx).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blob: Option<Digest>,
}

pub struct Store {
    root: PathBuf,
    /// What a layer may cost to unpack into the store.
    pub layer_limits: crate::layer::guard::Limits,
    /// Where a short name may come from (see [`reference::short_name_candidates`]).
    pub search_registries: Vec<String>,
}

/// A directory under `tmp/` that is removed when dropped, unless it was renamed into place.
///
/// Its lock, `tmp/<name>.lock`, is made and flocked before the directory and removed after it: a
/// staging directory exists only while its lock is held, or after the sbx that held it died. A
/// SIGKILL at any point leaves a directory, a lock, or both, none held, which
/// [`Store::sweep_staging`] removes.
pub struct Staging {
    path: PathBuf,
    done: bool,
    lock: PathBuf,
    _held: File,
}

impl Staging {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the directory to `dest`; on success it is no longer removed when dropped.
    pub fn place(&mut self, dest: &Path) -> io::Result<()> {
        fs::rename(&self.path, dest)?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = crate::layer::fsops::remove_tree(&self.path);
        }
        let _ = fs::remove_file(&self.lock);
    }
}

/// An exclusive flock of `f` without waiting; false when someone holds it.
fn try_lock(f: &File) -> bool {
    rustix::fs::flock(f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_ok()
}

fn mkdir(path: &Path, mode: u32) -> Result<(), StoreError> {
    match fs::DirBuilder::new().mode(mode).create(path) {
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => Err(io_err(path)(e)),
        _ => Ok(()),
    }
}

/// Writes `bytes` to `path` through a temp file and a rename, so readers never see half a file;
/// synced to disk first, for records that cannot be rebuilt (images, layers).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    replace(path, bytes, Replace::Synced, 0o644)
}

/// As [`write_atomic`], readable by the owner only (mode 0600 from the start): for secrets such
/// as registry logins.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    replace(path, bytes, Replace::Synced, 0o600)
}

/// The text of a small file that is only ever replaced whole (a cache's record of a few hundred
/// bytes), read in one system call where it fits in 4 KiB: `fs::read_to_string` asks for the
/// file's size first and reads once more to see its end, two calls more, paid for each record a
/// run with plugins reads (two for each plugin). A regular file's read returns less than asked
/// only at its end.
pub fn read_small(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut bytes = vec![0u8; 4096];
    let mut len = 0;
    loop {
        let n = file.read(&mut bytes[len..])?;
        len += n;
        if n == 0 || len < bytes.len() {
            break;
        }
        bytes.resize(len * 2, 0);
    }
    bytes.truncate(len);
    String::from_utf8(bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// As [`write_atomic`] without the sync: for state that is rewritten often and that `sbx`
/// reconciles after a crash (container records).
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    replace(path, bytes, Replace::Unsynced, 0o644)
}

/// As [`write_atomic_unsynced`] for state thrown away with what it describes (the record of a
/// container that is removed when it ends): the new file is swapped with the old one
/// (renameat2's RENAME_EXCHANGE) and the old one unlinked, because ext4 writes a file renamed over
/// another to disk at once (auto_da_alloc), which a record that lives for milliseconds need not
/// pay. Readers still see one whole file or the other; after a host crash the file may be empty,
/// which `sbx system check` reports and removes.
pub fn write_swapped(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    replace(path, bytes, Replace::Swapped, 0o644)
}

/// How [`replace`] puts the new file in place.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Replace {
    Synced,
    Unsynced,
    Swapped,
}

fn replace(path: &Path, bytes: &[u8], how: Replace, mode: u32) -> Result<(), StoreError> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension(format!("tmp-{}", crate::random::hex(6)));
    let result = (|| {
        let mut f = File::options().write(true).create_new(true).mode(mode).open(&tmp)?;
        f.write_all(bytes)?;
        if how == Replace::Synced {
            f.sync_data()?;
        }
        // Swapped, `tmp` names the old file; with nothing to swap with (or a file system that
        // cannot swap), a plain rename.
        if how == Replace::Swapped && renameat_with(CWD, &tmp, CWD, path, RenameFlags::EXCHANGE).is_ok() {
            return fs::remove_file(&tmp);
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map_err(io_err(path))
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, StoreError> {
    let bytes = fs::read(path).map_err(io_err(path))?;
    serde_json::from_slice(&bytes).map_err(|e| StoreError::Damaged { path: path.to_path_buf(), message: e.to_string() })
}

/// The entry index of the layer (or staged layer) in `dir`: the one this sbx writes, else the JSON
/// one of a layer an older sbx unpacked.
fn read_index(dir: &Path) -> Result<Vec<IndexEntry>, StoreError> {
    let path = dir.join(layer::index::FILE);
    match fs::read(&path) {
        Ok(bytes) => layer::index::decode(&bytes).map_err(|message| StoreError::Damaged { path, message }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => read_json(&dir.join(layer::index::JSON_FILE)),
        Err(e) => Err(StoreError::Io { path, source: e }),
    }
}

/// An exclusive flock on the store, released when dropped.
pub struct StoreLock(#[allow(dead_code, reason = "held for its flock")] File);

impl Store {
    /// Opens (creating if needed) the store at `root`. Only root may read it: it holds every image.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        // A user's default store (~/.local/share/sbx) may be the first thing in ~/.local.
        if let Some(parent) = root.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        mkdir(root, 0o711)?;
        for sub in ["blobs", "blobs/sha256", "layers", "images", "containers", "tmp", "plugins"] {
            mkdir(&root.join(sub), 0o700)?;
        }
        Ok(Store {
            root: root.to_path_buf(),
            layer_limits: Default::default(),
            search_registries: vec!["docker.io".into()],
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn lock(&self) -> Result<StoreLock, StoreError> {
        let path = self.root.join("lock");
        let f = File::options().create(true).append(true).open(&path).map_err(io_err(&path))?;
        rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive).map_err(|e| io_err(&path)(e.into()))?;
        Ok(StoreLock(f))
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("blobs/sha256").join(digest.hex())
    }

    pub fn put_blob(&self, bytes: &[u8]) -> Result<Digest, StoreError> {
        let digest = Digest::of(bytes);
        let path = self.blob_path(&digest);
        if !path.exists() {
            write_atomic(&path, bytes)?;
        }
        Ok(digest)
    }

    pub fn blob(&self, digest: &Digest) -> Result<Vec<u8>, StoreError> {
        let path = self.blob_path(digest);
        fs::read(&path).map_err(io_err(&path))
    }

    pub fn layer_dir(&self, diff_id: &Digest) -> PathBuf {
        self.root.join("layers").join(diff_id.hex())
    }

    /// The unpacked tree of a layer: what overlayfs mounts as a lower directory.
    /// Compiled seccomp programs, by what they were compiled from.
    pub fn seccomp_cache(&self) -> PathBuf {
        self.root.join("cache").join("seccomp")
    }

    pub fn layer_diff(&self, diff_id: &Digest) -> PathBuf {
        self.layer_dir(diff_id).join("diff")
    }

    /// The directories of `layers`, in their order.
    pub fn layer_diffs(&self, layers: &[LayerRef]) -> Vec<PathBuf> {
        layers.iter().map(|l| self.layer_diff(&l.diff_id)).collect()
    }

    pub fn has_layer(&self, diff_id: &Digest) -> bool {
        self.layer_dir(diff_id).join("layer.json").exists()
    }

    /// The diff ids of the layers in the store, whole or not.
    pub fn layer_ids(&self) -> Vec<Digest> {
        let Ok(entries) = fs::read_dir(self.root.join("layers")) else { return Vec::new() };
        entries.flatten().filter_map(|e| Digest::from_hex(&e.file_name().to_string_lossy()).ok()).collect()
    }

    pub fn layer_meta(&self, diff_id: &Digest) -> Result<LayerMeta, StoreError> {
        read_json(&self.layer_dir(diff_id).join("layer.json"))
    }

    pub fn layer_index(&self, diff_id: &Digest) -> Result<Vec<IndexEntry>, StoreError> {
        read_index(&self.layer_dir(diff_id))
    }

    /// A fresh, locked directory under `tmp/`, removed when dropped unless renamed into place.
    pub fn stage(&self) -> Result<Staging, StoreError> {
        use std::os::unix::fs::MetadataExt;
        loop {
            let name = crate::random::hex(8);
            let lock = self.root.join("tmp").join(format!("{name}.lock"));
            let held = File::create(&lock).map_err(io_err(&lock))?;
            if !try_lock(&held) {
                continue;
            }
            // A sweep may have removed the lock file between its creation and the flock: then the
            // flock guards nothing, and another name is tried.
            let same = |a: &fs::Metadata, b: &fs::Metadata| (a.dev(), a.ino()) == (b.dev(), b.ino());
            match (held.metadata(), fs::metadata(&lock)) {
                (Ok(a), Ok(b)) if same(&a, &b) => {}
                _ => continue,
            }
            let path = self.root.join("tmp").join(name);
            let staging = Staging { path, done: false, lock, _held: held };
            mkdir(&staging.path, 0o700)?;
            return Ok(staging);
        }
    }

    /// A fresh directory for a layer being unpacked, with an empty `diff/` (0755, as a rootfs is).
    pub fn stage_layer(&self) -> Result<Staging, StoreError> {
        let staging = self.stage()?;
        let diff = staging.path.join("diff");
        mkdir(&diff, 0o755)?;
        fs::set_permissions(&diff, fs::Permissions::from_mode(0o755)).map_err(io_err(&diff))?;
        Ok(staging)
    }

    /// The staging directories (or their locks alone) that no running sbx holds.
    pub fn stale_staging(&self) -> Vec<PathBuf> {
        let tmp = self.root.join("tmp");
        let held = |dir: &Path| File::open(dir.with_extension("lock")).is_ok_and(|f| !try_lock(&f));
        self.staging_names().into_iter().map(|n| tmp.join(n)).filter(|d| !held(d)).collect()
    }

    /// The names under `tmp/`, each once: a staging directory and its lock share one. An image
    /// removal's journal is not staging: the next removal finishes it (see [`super::remove`]).
    fn staging_names(&self) -> std::collections::BTreeSet<std::ffi::OsString> {
        let Ok(entries) = fs::read_dir(self.root.join("tmp")) else { return Default::default() };
        entries
            .flatten()
            .filter(|e| !e.file_name().to_string_lossy().starts_with(super::remove::JOURNAL_PREFIX))
            .map(|e| e.path())
            .filter_map(|p| match p.extension().is_some_and(|e| e == "lock") {
                true => p.file_stem().map(Into::into),
                false => p.file_name().map(Into::into),
            })
            .collect()
    }

    /// Removes the staging directories and locks that no running sbx holds (left by one that was
    /// killed), each under its own lock; returns what it removed.
    pub fn sweep_staging(&self) -> Vec<PathBuf> {
        let tmp = self.root.join("tmp");
        let mut removed = Vec::new();
        for name in self.staging_names() {
            let dir = tmp.join(&name);
            let lock = dir.with_extension("lock");
            let held = match File::open(&lock) {
                Ok(f) if try_lock(&f) => Some(f),
                Ok(_) => continue, // a running sbx stages there
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(_) => continue,
            };
            // Removed under its lock, the directory first: a kill in between leaves a lock alone.
            let existed = held.is_some() || dir.exists();
            let _ = crate::layer::fsops::remove_tree(&dir);
            if held.is_some() {
                let _ = fs::remove_file(&lock);
            }
            if existed {
                removed.push(dir);
            }
        }
        removed
    }

    /// Where the unpacker writes a staged layer's index.
    pub fn staged_index(staging: &Staging) -> PathBuf {
        staging.path.join(layer::index::FILE)
    }

    /// Where the unpacker copies a staged layer's blob as it was shipped.
    pub fn staged_blob(staging: &Staging) -> PathBuf {
        staging.path.join("blob")
    }

    /// Keeps the whole, verified blob at `file` (on the store's file system) under its digest, for
    /// `push` and `save`: synced, then renamed into `blobs/` unless the store has it already (a
    /// staged layer's blob goes with the layer: [`Store::publish_layer`]). The store keeps what
    /// was shipped rather than rebuilding a tarball from the unpacked tree, so an image leaves sbx
    /// with the digests it came with.
    pub fn keep_blob(&self, file: &Path, digest: &Digest) -> Result<(), StoreError> {
        if !self.blob_path(digest).exists() {
            File::open(file).and_then(|f| f.sync_data()).map_err(io_err(file))?;
        }
        self.move_blob(file, digest)
    }

    /// Renames `file` (synced) to the blob `digest`, or drops it if the store has that blob.
    fn move_blob(&self, file: &Path, digest: &Digest) -> Result<(), StoreError> {
        let dest = self.blob_path(digest);
        if dest.exists() {
            let _ = fs::remove_file(file);
            return Ok(());
        }
        fs::rename(file, &dest).map_err(io_err(&dest))
    }

    /// The entries the unpacker indexed of a staged layer.
    pub fn staged_entries(staging: &Staging) -> Result<Vec<IndexEntry>, StoreError> {
        read_index(&staging.path)
    }

    /// Readies a staged layer for publishing where it is: its metadata written and its blob (when
    /// [`LayerMeta::blob`] names one) synced. The blob is synced because nothing can make it
    /// again; the tree, its index and its metadata are made from the blob and, like the layer trees
    /// of docker, podman and containerd, are left to the kernel's writeback (a sync of each costs
    /// more than the rest of a small layer's pull). After a host crash a layer published just
    /// before may not be whole: reading its metadata or index fails rather than giving part of
    /// it, and `sbx system check --repair` removes it. Threads that unpack layers side by side
    /// seal them side by side; publishing is then only renames.
    pub fn seal_layer(&self, staging: &Staging, meta: &LayerMeta) -> Result<(), StoreError> {
        write_atomic_unsynced(&staging.path.join("layer.json"), &serde_json::to_vec(meta).expect("serializable"))?;
        let blob = Self::staged_blob(staging);
        if meta.blob.is_some() && blob.exists() {
            File::open(&blob).and_then(|f| f.sync_data()).map_err(io_err(&blob))?;
        }
        Ok(())
    }

    /// Puts a sealed layer in place: its blob into `blobs/` (unless the store has it), then the
    /// layer itself. If another loader got there first, its copy is kept and ours is dropped.
    pub fn publish_layer(&self, mut staging: Staging, meta: &LayerMeta) -> Result<(), StoreError> {
        let blob = Self::staged_blob(&staging);
        if let Some(digest) = &meta.blob
            && blob.exists()
        {
            self.move_blob(&blob, digest)?;
        }
        let dest = self.layer_dir(&meta.diff_id);
        match staging.place(&dest) {
            Ok(()) => Ok(()),
            Err(_) if self.has_layer(&meta.diff_id) => Ok(()),
            Err(e) => Err(io_err(&dest)(e)),
        }
    }

    /// [`Store::seal_layer`], then [`Store::publish_layer`].
    pub fn commit_layer(&self, staging: Staging, meta: &LayerMeta) -> Result<(), StoreError> {
        self.seal_layer(&staging, meta)?;
        self.publish_layer(staging, meta)
    }

    pub(super) fn image_path(&self, id: &Digest) -> PathBuf {
        self.root.join("images").join(format!("{}.json", id.hex()))
    }

    pub fn has_image(&self, id: &Digest) -> bool {
        self.image_path(id).exists()
    }

    /// Writes `record` as it is (the caller holds the store lock and has moved names itself).
    pub(super) fn write_image(&self, record: &ImageRecord) -> Result<(), StoreError> {
        write_atomic(&self.image_path(&record.id), &serde_json::to_vec_pretty(record).expect("serializable"))
    }

    pub fn images(&self) -> Result<Vec<ImageRecord>, StoreError> {
        let dir = self.root.join("images");
        let mut out = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))? {
            let path = entry.map_err(io_err(&dir))?.path();
            if path.extension().is_some_and(|e| e == "json") {
                out.push(read_json(&path)?);
            }
        }
        out.sort_by(|a: &ImageRecord, b| a.names.cmp(&b.names).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Stores `record`, merging names with an existing record of the same id; a name moves from
    /// whichever image held it before, as `docker load` retags.
    pub fn save_image(&self, record: ImageRecord) -> Result<ImageRecord, StoreError> {
        Ok(self.save_images(vec![record])?.remove(0))
    }

    /// Stores `records` as [`Store::save_image`] does one by one, reading the store's records once
    /// (an archive of thousands of images is saved in linear time).
    pub fn save_images(&self, records: Vec<ImageRecord>) -> Result<Vec<ImageRecord>, StoreError> {
        use std::collections::HashMap;
        let _lock = self.lock()?;
        let mut all: HashMap<Digest, ImageRecord> = self.images()?.into_iter().map(|r| (r.id.clone(), r)).collect();
        let mut holder: HashMap<String, Digest> =
            all.values().flat_map(|r| r.names.iter().map(|n| (n.clone(), r.id.clone()))).collect();
        let mut changed = std::collections::BTreeSet::new();
        let mut saved = Vec::with_capacity(records.len());
        for mut record in records {
            if let Some(existing) = all.get(&record.id) {
                for n in &existing.names {
                    if !record.names.contains(n) {
                        record.names.push(n.clone());
                    }
                }
            }
            for name in &record.names {
                if let Some(previous) = holder.insert(name.clone(), record.id.clone()).filter(|p| *p != record.id)
                    && let Some(other) = all.get_mut(&previous)
                {
                    other.names.retain(|n| n != name);
                    changed.insert(previous);
                }
            }
            record.names.sort();
            changed.insert(record.id.clone());
            all.insert(record.id.clone(), record.clone());
            saved.push(record);
        }
        for id in changed {
            let record = &all[&id];
            // A layer an image removal took while this image was loaded or committed: its record
            // would name a layer the store no longer has.
            if let Some(gone) = record.layers.iter().find(|l| !self.has_layer(&l.diff_id)) {
                return Err(StoreError::Damaged {
                    path: self.layer_dir(&gone.diff_id),
                    message: format!("layer {} was removed while image {} was stored", gone.diff_id, record.id.short()),
                });
            }
            self.write_image(record)?;
        }
        Ok(saved.into_iter().map(|r| all[&r.id].clone()).collect())
    }

    /// Finds an image by name (`busybox` means `busybox:latest`; a short name is looked for under
    /// `localhost/` and the search registries, and refused when several of those are stored as
    /// different images) or by a unique id prefix.
    pub fn find_image(&self, query: &str) -> Result<ImageRecord, StoreError> {
        let images = self.images()?;
        let stored = |name: &str| images.iter().find(|i| i.names.iter().any(|n| n == name));
        if let Some(candidates) = reference::short_name_candidates(query, &self.search_registries) {
            let found: Vec<(&String, &ImageRecord)> =
                candidates.iter().filter_map(|c| stored(c).map(|i| (c, i))).collect();
            match found.as_slice() {
                [] => {}
                [(_, first), rest @ ..] if rest.iter().all(|(_, i)| i.id == first.id) => return Ok((*first).clone()),
                many => {
                    let names: Vec<String> = many.iter().map(|(n, _)| reference::qualified(n)).collect();
                    return Err(StoreError::AmbiguousShortName {
                        query: query.to_string(),
                        candidates: names.join(", "),
                    });
                }
            }
        } else if let Some(found) = reference::normalize_name(query).ok().and_then(|name| stored(&name)) {
            return Ok(found.clone());
        }
        let Some(prefix) = reference::id_prefix(query) else {
            return Err(StoreError::NotFound(query.to_string()));
        };
        let matches: Vec<&ImageRecord> = images.iter().filter(|i| i.id.hex().starts_with(prefix)).collect();
        match matches.as_slice() {
            [] => Err(StoreError::NotFound(query.to_string())),
            [one] => Ok((*one).clone()),
            many => Err(StoreError::Ambiguous {
                query: query.to_string(),
                matches: many.iter().map(|i| i.id.short()).collect::<Vec<_>>().join(", "),
            }),
        }
    }

    pub fn container_dir(&self, id: &str) -> PathBuf {
        self.root.join("containers").join(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn reads_small_files_whole_whatever_their_size() {
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 10, 4095, 4096, 4097, 10_000] {
            let text: String = (0..len).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
            let path = dir.path().join(format!("r{len}"));
            std::fs::write(&path, &text).unwrap();
            assert_eq!(read_small(&path).unwrap(), text, "{len} bytes");
        }
        assert!(read_small(&dir.path().join("none")).is_err());
    }

    #[test]
    fn a_swapped_write_replaces_the_file_whole_and_leaves_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("record.json");
        write_swapped(&path, b"first").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"first", "made when missing");
        let before = fs::metadata(&path).unwrap().ino();
        write_swapped(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        assert_ne!(fs::metadata(&path).unwrap().ino(), before, "a new file, not the old one rewritten");
        let names: Vec<_> = fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["record.json"]);
    }

    #[test]
    fn the_json_index_of_an_older_sbx_is_read_and_a_cut_one_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let older = br#"[{"path":"bin","kind":"dir","mode":493,"uid":0,"gid":0,"size":0},
            {"path":"bin/sh","kind":"symlink","mode":511,"uid":0,"gid":0,"size":0,"link":"busybox"}]"#;
        fs::write(tmp.path().join(layer::index::JSON_FILE), older).unwrap();
        let entries = read_index(tmp.path()).unwrap();
        assert_eq!((entries[0].link.as_deref(), entries[1].link.as_deref()), (None, Some("busybox")));

        let bin = tmp.path().join(layer::index::FILE);
        let mut w = layer::index::Writer::new(File::create(&bin).unwrap()).unwrap();
        entries.iter().for_each(|e| w.push(e).unwrap());
        w.finish().unwrap();
        assert_eq!(read_index(tmp.path()).unwrap(), entries, "the binary index first");
        let whole = fs::read(&bin).unwrap();
        fs::write(&bin, &whole[..whole.len() - 3]).unwrap();
        let err = read_index(tmp.path()).unwrap_err().to_string();
        assert!(err.starts_with(&format!("{} is damaged: ", bin.display())), "{err}");
    }
}
