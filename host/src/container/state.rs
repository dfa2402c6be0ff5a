//! A container's record on disk (`containers/<id>/container.json`), and finding containers by
//! name or id prefix.

use crate::image::Digest;
use crate::image::store::{Store, StoreError, write_atomic_unsynced, write_swapped};
use crate::isolate::userns::IdMap;
use crate::spec::ContainerSpec;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Exited,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    /// The image as the user named it, and its id.
    pub image: String,
    pub image_id: Digest,
    /// The diff ids of the layers it mounts, bottom first (the image's, less those a policy
    /// skipped); empty in records of sbx before 0.2, which mounted all of the image's.
    #[serde(default)]
    pub layers: Vec<Digest>,
    pub command: Vec<String>,
    pub created: String,
    pub status: Status,
    pub pid: Option<i32>,
    pub exit_code: Option<i32>,
    /// The kernel's OOM killer killed a process of it in its last run.
    #[serde(default)]
    pub oom_killed: bool,
    #[serde(default)]
    pub started: Option<String>,
    /// Created with --rm: removed when it exits, however it was started.
    #[serde(default)]
    pub auto_remove: bool,
    /// Created with `-i`: its stdin stays open for `sbx attach` when it runs detached.
    #[serde(default)]
    pub open_stdin: bool,
    pub finished: Option<String>,
    /// `--userns=auto`: the host ids of its user namespace, chosen at create and kept until it is
    /// removed (its writable layer's files are owned by them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idmap: Option<IdMap>,
    /// Times its restart policy started it again (docker's RestartCount).
    #[serde(default)]
    pub restart_count: u32,
    /// Ended, and waiting for its restart policy's next start.
    #[serde(default)]
    pub restarting: bool,
}

pub const RECORD: &str = "container.json";

/// A file in a container's directory that says a user stopped or killed it: its restart policy
/// does not start it again.
const STOPPED_BY_USER: &str = "stopped-by-user";

pub fn mark_stopped_by_user(dir: &Path) {
    let _ = std::fs::File::create(dir.join(STOPPED_BY_USER));
}

/// Whether a user stopped the container since the mark was last taken; takes it.
pub fn take_stopped_by_user(dir: &Path) -> bool {
    std::fs::remove_file(dir.join(STOPPED_BY_USER)).is_ok()
}
/// The spec the container was created with, after the policies' adjustments.
pub const SPEC: &str = "spec.json";

pub fn save_spec(dir: &Path, spec: &ContainerSpec) -> Result<(), StoreError> {
    write_atomic_unsynced(&dir.join(SPEC), &serde_json::to_vec_pretty(spec).expect("serializable"))
}

pub fn load_spec(dir: &Path) -> Option<ContainerSpec> {
    serde_json::from_slice(&std::fs::read(dir.join(SPEC)).ok()?).ok()
}

#[derive(Debug, thiserror::Error)]
pub enum FindError {
    #[error("no such container: {0}")]
    NotFound(String),
    #[error("'{query}' matches several containers ({matches}); give more of the id or the name")]
    Ambiguous { query: String, matches: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl FindError {
    /// Nothing, or more than one, by that name: the user's to mend (not sbx's failure).
    pub fn is_refusal(&self) -> bool {
        !matches!(self, FindError::Store(_))
    }
}

impl ContainerRecord {
    pub fn save(&self, dir: &Path) -> Result<(), StoreError> {
        write_atomic_unsynced(&dir.join(RECORD), &serde_json::to_vec_pretty(self).expect("serializable"))
    }

    /// [`Self::save`] for a container removed when it ends (`--rm`): see [`write_swapped`].
    pub fn save_transient(&self, dir: &Path) -> Result<(), StoreError> {
        write_swapped(&dir.join(RECORD), &serde_json::to_vec_pretty(self).expect("serializable"))
    }

    /// The diff ids of the layers the container mounts, bottom first: its record's, or for a
    /// record from before they were kept, all of its image's.
    pub fn mounted_layers(&self, store: &Store) -> Result<Vec<Digest>, StoreError> {
        if !self.layers.is_empty() {
            return Ok(self.layers.clone());
        }
        Ok(store.find_image(self.image_id.hex())?.layers.into_iter().map(|l| l.diff_id).collect())
    }

    pub fn load(dir: &Path) -> Option<ContainerRecord> {
        serde_json::from_slice(&std::fs::read(dir.join(RECORD)).ok()?).ok()
    }
}

/// The name a container's directory has while it is made: it becomes the container's only once
/// its record and spec are written (a rename, under the store lock).
pub const NEW: &str = ".new-";
/// The name a container's directory has while it is removed: the rename takes the container out of
/// every listing at once, whatever happens to the removal of its files.
pub const GONE: &str = ".rm-";

/// Tells the store's journal (`sbx events`) that `action` happened to the container of `record`.
pub fn journal(store_root: &Path, record: &ContainerRecord, action: &str, extra: &[(&str, &str)]) {
    let mut attributes = vec![("name", record.name.as_str()), ("image", record.image.as_str())];
    attributes.extend_from_slice(extra);
    crate::journal::record(store_root, &crate::journal::Event::new("container", action, &record.id, &attributes));
}

/// Removes a container's directory: renamed away first (atomic: a kill leaves the container whole
/// or gone), then its files, with few descriptors whatever their depth. A removal that stops
/// half-way leaves only the renamed directory, which `sbx system check --repair` removes.
pub fn discard(dir: &Path) -> Result<(), StoreError> {
    let io_err = |source| StoreError::Io { path: dir.to_path_buf(), source };
    let name = dir.file_name().ok_or_else(|| io_err(std::io::ErrorKind::InvalidInput.into()))?;
    let gone = dir.with_file_name(format!("{GONE}{}", name.to_string_lossy()));
    std::fs::rename(dir, &gone).map_err(io_err)?;
    crate::layer::fsops::remove_tree(&gone).map_err(|e| io_err(std::io::Error::from(e)))
}

/// Removes a container's directory when dropped (a failed create, or `--rm`), unless kept.
pub struct RemoveOnDrop(pub Option<PathBuf>);

impl RemoveOnDrop {
    pub fn keep(&mut self) {
        self.0 = None;
    }
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if let Some(dir) = &self.0 {
            let _ = discard(dir);
        }
    }
}

/// A container's record marked Running while it starts: a start that fails puts the record back as
/// it was (when dropped before [`Starting::done`]); a killed sbx leaves it Running without the run
/// lock, which `ps` reports as Dead and `rm` cleans.
pub struct Starting {
    dir: PathBuf,
    before: Option<ContainerRecord>,
}

impl Starting {
    pub fn begin(dir: &Path, record: &ContainerRecord) -> Result<Starting, StoreError> {
        Starting::record(record).save(dir)?;
        Ok(Starting::already_begun(dir, record))
    }

    /// For a record whose create already wrote it as starting.
    pub fn already_begun(dir: &Path, record: &ContainerRecord) -> Starting {
        Starting { dir: dir.to_path_buf(), before: Some(record.clone()) }
    }

    /// `record` as it is on disk while it starts.
    pub fn record(record: &ContainerRecord) -> ContainerRecord {
        ContainerRecord { status: Status::Running, pid: None, ..record.clone() }
    }

    pub fn done(mut self) {
        self.before = None;
    }
}

impl Drop for Starting {
    fn drop(&mut self) {
        if let Some(record) = &self.before {
            let _ = record.save(&self.dir);
        }
    }
}

/// What a container does now, as `ps` and `inspect` show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Live {
    /// No sbx runs it (created, exited, or dead: its record says which).
    Stopped,
    Running,
    /// Running, with its processes frozen (`sbx pause`).
    Paused,
}

impl Live {
    pub fn running(self) -> bool {
        self != Live::Stopped
    }
}

/// Whether the container in `dir` runs, and whether its cgroup is frozen.
pub fn live(dir: &Path, record: &ContainerRecord) -> Live {
    // Its run lock is also held by a copy into it while it is stopped (`sbx cp`), which does not
    // make it run: a start records it running before it launches.
    if record.status != Status::Running || !is_running(dir) {
        return Live::Stopped;
    }
    match crate::isolate::cgroup::frozen(&crate::isolate::cgroup::existing(&record.id)) {
        true => Live::Paused,
        false => Live::Running,
    }
}

/// Whether the container in `dir` runs: some sbx holds its run lock, a flock of the directory
/// itself (a lock file would be one more file to make and remove on every run). The kernel drops
/// the lock with the process, so a record left "running" by a killed sbx is not believed.
pub fn is_running(dir: &Path) -> bool {
    let Ok(f) = std::fs::File::open(dir) else { return false };
    rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockShared).is_err()
}

/// Waits until the container in `dir` no longer runs; false if `timeout` passed first. Without a
/// timeout it blocks on the run lock, which the kernel hands over the moment the sbx that runs it
/// lets go; with one it looks every millisecond. The lock is the file opened first, so a `--rm`
/// container's sbx, which removes the directory before it lets go, is waited for to the end.
pub fn wait_stopped(dir: &Path, timeout: Option<std::time::Duration>) -> bool {
    use rustix::fs::{FlockOperation, flock};
    let Ok(f) = std::fs::File::open(dir) else { return true };
    let Some(timeout) = timeout else {
        while flock(&f, FlockOperation::LockShared) == Err(rustix::io::Errno::INTR) {}
        return true;
    };
    let start = std::time::Instant::now();
    while flock(&f, FlockOperation::NonBlockingLockShared).is_err() {
        if start.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    true
}

/// Every container of the store with its directory (not those being made or removed).
pub fn list(store: &Store) -> Vec<(PathBuf, ContainerRecord)> {
    let dir = store.root().join("containers");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| ContainerRecord::load(&e.path()).map(|r| (e.path(), r)))
        .collect()
}

/// A container by exact name, else by unique id prefix, as docker resolves them.
pub fn find(store: &Store, query: &str) -> Result<(PathBuf, ContainerRecord), FindError> {
    let all = list(store);
    if let Some(found) = all.iter().find(|(_, r)| r.name == query) {
        return Ok(found.clone());
    }
    let matches: Vec<&(PathBuf, ContainerRecord)> =
        all.iter().filter(|(_, r)| !query.is_empty() && r.id.starts_with(query)).collect();
    match matches.as_slice() {
        [] => Err(FindError::NotFound(query.to_string())),
        [one] => Ok((*one).clone()),
        many => Err(FindError::Ambiguous {
            query: query.to_string(),
            matches: many.iter().map(|(_, r)| r.id[..12].to_string()).collect::<Vec<_>>().join(", "),
        }),
    }
}
