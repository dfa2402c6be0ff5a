//! The OCI runtime CLI (`sbx runtime VERB`, or the binary called `sbx-runtime`): what containerd's
//! runc shim, podman and conformance suites drive. A bundle's config.json becomes the spec sbx runs
//! ([`crate::spec::oci`]), the policies check and adjust it as they do for `sbx run`, and the same
//! core starts it ([`crate::container::process`], [`crate::isolate`]) on the bundle's root instead
//! of an overlay. `create` leaves the process waiting on an exec fifo; `start` releases it; `exec`
//! joins a running container as `sbx exec` does.

pub mod admit;
pub mod create;
pub mod exec;
pub mod hooks;
pub mod namespaces;
pub mod resources;
pub mod state;
pub mod verbs;

use crate::container::RunError;
use crate::spec::oci::OciError;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("container id '{0}' is not valid: use letters, digits and _ + - . only (no path separators)")]
    BadId(String),
    #[error("container {0} already exists; delete it first (delete {0})")]
    Exists(String),
    #[error("container {0} does not exist")]
    NoSuchContainer(String),
    #[error("bundle {0} has no config.json; write one (`sbx runtime spec` makes a default)")]
    NoConfig(PathBuf),
    #[error("{path}: {message}")]
    BadConfig { path: PathBuf, message: String },
    #[error(transparent)]
    Oci(#[from] OciError),
    #[error("the bundle's root filesystem {0} is not a directory; root.path must name one in or beside the bundle")]
    NoRootfs(PathBuf),
    #[error("namespace {path} (config.json linux.namespaces): {message}")]
    Namespace { path: PathBuf, message: String },
    #[error("cannot set the kernel parameter {key} (config.json linux.sysctl): {message}")]
    Sysctl { key: String, message: String },
    #[error("console socket {path}: {message}")]
    ConsoleSocket { path: PathBuf, message: String },
    #[error("process file {path}: {message}")]
    BadProcess { path: PathBuf, message: String },
    #[error("the state of the container at {path} is damaged ({message}); remove that directory")]
    BadState { path: PathBuf, message: String },
    #[error("cannot {verb} container {id}: it is {status}")]
    Status { verb: &'static str, id: String, status: &'static str },
    #[error("unknown signal '{0}' (use a name like TERM or SIGKILL, or a number)")]
    Signal(String),
    #[error("container {0}'s process ended before it was started")]
    EndedBeforeStart(String),
    #[error("cannot {what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("{0}")]
    NotSupported(String),
    #[error(
        "policy adjustments give the container a user namespace, but the bundle has no linux.uidMappings and linux.gidMappings for it (sbx does not choose host ids for a bundle): add them to config.json, as the engine's user namespace support does"
    )]
    UsernsWithoutMaps,
    #[error("the kernel refused the bundle's id mappings (config.json linux.uidMappings, linux.gidMappings): {0}")]
    IdMaps(crate::isolate::userns::UsernsError),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Hook(#[from] hooks::HookError),
}

/// Writes `pid` to the file an engine named (`--pid-file`), whole or not at all.
pub fn write_pid_file(path: &std::path::Path, pid: i32) -> Result<(), RuntimeError> {
    crate::image::store::write_atomic(path, pid.to_string().as_bytes()).map_err(|e| RuntimeError::Io {
        what: format!("write the pid file {}", path.display()),
        source: std::io::Error::other(e),
    })
}

impl RuntimeError {
    pub fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> RuntimeError {
        let what = what.into();
        move |source| RuntimeError::Io { what, source }
    }
}
