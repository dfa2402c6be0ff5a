//! The container's cgroup: `sbx/<id>` under each hierarchy sbx uses, created before the container
//! starts and removed after it ends. cgroup v2 (one unified hierarchy) and v1 (a hierarchy per
//! controller; hybrid machines mount a mostly empty v2 beside them, which sbx leaves alone).

use nix::unistd::Pid;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    #[error("cannot create cgroup {path}: {source}")]
    Create { path: PathBuf, source: io::Error },
    #[error("cannot move the container into cgroup {path}: {source}")]
    Attach { path: PathBuf, source: io::Error },
    #[error("cannot remove cgroup {path}: {source}")]
    Remove { path: PathBuf, source: io::Error },
}

/// v1 controllers a container gets a cgroup in (limits on them come with the resources work).
const V1_CONTROLLERS: [&str; 3] = ["pids", "memory", "cpu"];

/// The parent directories for container cgroups on this machine, e.g. /sys/fs/cgroup/sbx or
/// /sys/fs/cgroup/{pids,memory,cpu}/sbx.
pub fn hierarchies(mount: &Path) -> Vec<PathBuf> {
    if mount.join("cgroup.controllers").exists() {
        return vec![mount.join("sbx")];
    }
    V1_CONTROLLERS
        .iter()
        .map(|c| mount.join(c))
        .filter(|p| p.join("cgroup.procs").exists())
        .map(|p| p.join("sbx"))
        .collect()
}

pub struct Cgroup {
    dirs: Vec<PathBuf>,
}

impl Cgroup {
    pub fn create(parents: &[PathBuf], id: &str) -> Result<Cgroup, CgroupError> {
        let mut cg = Cgroup { dirs: Vec::new() };
        for parent in parents {
            let dir = parent.join(id);
            let made = fs::create_dir(parent)
                .or_else(|e| {
                    if e.kind() == io::ErrorKind::AlreadyExists {
                        Ok(())
                    } else {
                        Err(e)
                    }
                })
                .and_then(|()| fs::create_dir(&dir));
            // On error `cg` drops and removes what was made so far.
            made.map_err(|source| CgroupError::Create {
                path: dir.clone(),
                source,
            })?;
            cg.dirs.push(dir);
        }
        Ok(cg)
    }

    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    pub fn attach(&self, pid: Pid) -> Result<(), CgroupError> {
        for dir in &self.dirs {
            let procs = dir.join("cgroup.procs");
            fs::write(&procs, pid.as_raw().to_string()).map_err(|source| CgroupError::Attach {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Removes the cgroups. Processes of a dead PID namespace may take a moment to leave, so a
    /// busy cgroup is retried for up to a second.
    pub fn remove(mut self) -> Result<(), CgroupError> {
        let dirs = std::mem::take(&mut self.dirs);
        for dir in dirs {
            let mut tries = 0;
            loop {
                match fs::remove_dir(&dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => break,
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 100 => {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(source) => return Err(CgroupError::Remove { path: dir, source }),
                }
            }
        }
        Ok(())
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for dir in &self.dirs {
            let _ = fs::remove_dir(dir);
        }
    }
}
