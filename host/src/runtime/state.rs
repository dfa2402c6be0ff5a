//! What the runtime CLI keeps of a container, under its root (`--root`, /run/sbx-runtime by
//! default): `ID/state.json` and, until `start`, `ID/exec.fifo`. Its status is derived, never
//! stored: a fifo and a live process are `created`, a live process alone `running` (`paused` when
//! its cgroup is frozen), else `stopped`; a process is the container's only while its start time is the one recorded, so a
//! reused pid is not mistaken for it.

use super::RuntimeError;
use crate::spec::ContainerSpec;
use crate::spec::user::User;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const STATE: &str = "state.json";
pub const FIFO: &str = "exec.fifo";

/// The default root: /run/sbx-runtime for root, else `$XDG_RUNTIME_DIR/sbx-runtime`.
pub fn default_root() -> PathBuf {
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(dir) if !nix::unistd::geteuid().is_root() => Path::new(&dir).join("sbx-runtime"),
        _ => PathBuf::from("/run/sbx-runtime"),
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    pub pid: i32,
    /// The process's start time (field 22 of /proc/PID/stat), which a reused pid does not share.
    pub pid_start: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// The cgroup directories sbx made for it.
    #[serde(default)]
    pub cgroup: Vec<PathBuf>,
    /// The spec it runs (after the policies), for the hooks of its later events.
    pub spec: ContainerSpec,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    /// The bundle's hooks, for start and delete.
    #[serde(default)]
    pub hooks: Option<oci_spec::runtime::Hooks>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    /// Running, with its cgroup frozen (`pause`).
    Paused,
    Stopped,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        }
    }
}

/// The start time of process `pid` and whether it is a zombie, from /proc/PID/stat.
pub fn process_start(pid: i32) -> Option<(u64, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: fields count after it.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    Some((fields.get(19)?.parse().ok()?, fields.first() == Some(&"Z")))
}

/// A container id: what runc accepts (letters, digits, `_ + - .`), not `.` or `..`.
pub fn check_id(id: &str) -> Result<(), RuntimeError> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id.chars().all(|c| c.is_ascii_alphanumeric() || "_+-.".contains(c));
    if ok { Ok(()) } else { Err(RuntimeError::BadId(id.to_string())) }
}

impl State {
    pub fn dir(root: &Path, id: &str) -> PathBuf {
        root.join(id)
    }

    pub fn load(root: &Path, id: &str) -> Result<State, RuntimeError> {
        check_id(id)?;
        let path = State::dir(root, id).join(STATE);
        let text = std::fs::read(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => RuntimeError::NoSuchContainer(id.to_string()),
            _ => RuntimeError::Io { what: format!("read {}", path.display()), source: e },
        })?;
        serde_json::from_slice(&text).map_err(|e| RuntimeError::BadState { path, message: e.to_string() })
    }

    pub fn save(&self, root: &Path) -> Result<(), RuntimeError> {
        let path = State::dir(root, &self.id).join(STATE);
        let text = serde_json::to_vec_pretty(self).expect("a state serializes");
        crate::image::store::write_atomic(&path, &text).map_err(|e| RuntimeError::Io {
            what: format!("write {}", path.display()),
            source: std::io::Error::other(e),
        })
    }

    pub fn user(&self) -> User {
        User { uid: self.uid, gid: self.gid, groups: self.groups.clone(), home: "/".into() }
    }

    /// Whether the container's own process still lives (a zombie does not).
    pub fn alive(&self) -> bool {
        process_start(self.pid).is_some_and(|(start, zombie)| start == self.pid_start && !zombie)
    }

    pub fn status(&self, root: &Path) -> Status {
        match (self.alive(), State::dir(root, &self.id).join(FIFO).exists()) {
            (true, true) => Status::Created,
            (true, false) if crate::isolate::cgroup::frozen(&self.cgroup) => Status::Paused,
            (true, false) => Status::Running,
            (false, _) => Status::Stopped,
        }
    }

    /// The runtime-spec's state of the container, as `state` prints it.
    pub fn report(&self, root: &Path) -> serde_json::Value {
        let status = self.status(root);
        self.report_as(status.name(), if status == Status::Stopped { 0 } else { self.pid })
    }

    /// The runtime-spec's state with `status` and `pid` as given (hooks are told `creating`).
    pub fn report_as(&self, status: &str, pid: i32) -> serde_json::Value {
        serde_json::json!({
            "ociVersion": self.oci_version,
            "id": self.id,
            "status": status,
            "pid": pid,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "annotations": self.annotations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_names_not_paths() {
        for good in ["abc", "a.b-c_d+e", "0123456789abcdef"] {
            assert!(check_id(good).is_ok(), "{good}");
        }
        for bad in ["", ".", "..", "a/b", "../x", "a b", "a\0b"] {
            assert!(matches!(check_id(bad), Err(RuntimeError::BadId(_))), "{bad:?}");
        }
    }

    #[test]
    fn a_process_start_time_is_read_past_its_name() {
        let me = std::process::id() as i32;
        let (start, zombie) = process_start(me).unwrap();
        assert!(start > 0 && !zombie);
        assert_eq!(process_start(me), Some((start, false)));
    }
}
