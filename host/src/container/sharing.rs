//! `--ipc` and `--pid` with the host or another container: the container named is found at create
//! (and kept by id), and at each start its namespaces are opened (it must be running), with the
//! /dev/shm that goes with a shared IPC namespace, as docker shares it.

use super::error::RunError;
use super::state;
use crate::image::Store;
use crate::rootfs::bind::{self, BindSource};
use crate::spec::{ContainerSpec, Overrides, Sharing};
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::Path;

/// The containers `--ipc container:NAME` and `--pid container:NAME` name, by id.
pub fn resolve(store: &Store, overrides: &mut Overrides) -> Result<(), RunError> {
    for (flag, sharing) in [("ipc", &mut overrides.ipc), ("pid", &mut overrides.pid)] {
        if let Sharing::Container(name) = sharing {
            let (_, record) = state::find(store, name).map_err(|e| RunError::Join {
                flag,
                name: name.clone(),
                why: e.to_string(),
            })?;
            *sharing = Sharing::Container(record.id);
        }
    }
    Ok(())
}

/// What a start joins: namespaces of another container, and the /dev/shm mounted over the
/// container's own.
#[derive(Default)]
pub struct Joined {
    pub ipc: Option<OwnedFd>,
    pub pid: Option<OwnedFd>,
    pub shm: Option<BindSource>,
}

/// Opens what `spec` shares: the host's /dev/shm with `--ipc host`; the IPC namespace and /dev/shm,
/// or the PID namespace, of the running container it joins.
pub fn open(store: &Store, spec: &ContainerSpec) -> Result<Joined, RunError> {
    let mut joined = Joined::default();
    match &spec.ipc {
        Sharing::Private => {}
        Sharing::Host => joined.shm = Some(bind::open(Path::new("/dev/shm"), false)?),
        Sharing::Container(id) => {
            let pid = running("ipc", store, id)?;
            joined.ipc = Some(namespace("ipc", id, pid, "ipc")?);
            let mnt = namespace("ipc", id, pid, "mnt")?;
            joined.shm = Some(bind::open_in(&mnt, Path::new("/dev/shm"))?);
        }
    }
    if let Sharing::Container(id) = &spec.pid {
        joined.pid = Some(namespace("pid", id, running("pid", store, id)?, "pid")?);
    }
    Ok(joined)
}

/// The pid of the container `id`, which must be running.
fn running(flag: &'static str, store: &Store, id: &str) -> Result<i32, RunError> {
    let fail = |why: String| RunError::Join { flag, name: id[..12.min(id.len())].to_string(), why };
    let (dir, record) = state::find(store, id).map_err(|e| fail(e.to_string()))?;
    match record.pid {
        Some(pid) if state::is_running(&dir) => Ok(pid),
        _ => Err(fail(format!("container {} is not running; start it first (sbx start)", record.name))),
    }
}

fn namespace(flag: &'static str, id: &str, pid: i32, ns: &str) -> Result<OwnedFd, RunError> {
    let path = format!("/proc/{pid}/ns/{ns}");
    File::open(&path).map(OwnedFd::from).map_err(|e| RunError::Join {
        flag,
        name: id[..12.min(id.len())].to_string(),
        why: format!("cannot open {path}: {e}"),
    })
}
