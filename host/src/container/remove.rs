//! `sbx rm`: removes a container's writable layer, state and any cgroup it left.

use super::state::{self, FindError};
use crate::image::Store;
use crate::isolate::cgroup;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    #[error(transparent)]
    Find(#[from] FindError),
    #[error("container {0} is running: stop it first, or use rm -f")]
    Running(String),
    #[error("cannot remove {path}: {source}")]
    Io { path: std::path::PathBuf, source: std::io::Error },
}

/// Removes the container `query` names; with `force`, a running one is killed first.
/// Returns the name it removed.
pub fn remove(store: &Store, query: &str, force: bool) -> Result<String, RemoveError> {
    let (dir, record) = state::find(store, query)?;
    if record.is_running() {
        if !force {
            return Err(RemoveError::Running(record.name));
        }
        if let Some(pid) = record.pid {
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
    }
    // The cgroup goes with the sbx that ran the container; one left by a killed sbx goes here.
    for parent in cgroup::hierarchies(Path::new("/sys/fs/cgroup")) {
        let _ = std::fs::remove_dir(parent.join(&record.id));
    }
    std::fs::remove_dir_all(&dir).map_err(|source| RemoveError::Io { path: dir, source })?;
    Ok(record.name)
}
