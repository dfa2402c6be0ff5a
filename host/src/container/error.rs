//! The errors of the container verbs (run, create, start, exec, commit, ...), with docker's exit
//! codes.

use super::state::FindError;
use crate::image::StoreError;
use crate::image::load::LoadError;
use crate::isolate::cgroup::CgroupError;
use crate::isolate::spawn::SpawnError;
use crate::plugin::PluginError;
use crate::rootfs::{self, bind};
use crate::spec::{self, user};
use nix::errno::Errno;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error("{} holds {count} images; run one of them by name (see `sbx images`)", path.display())]
    NotOneImage { path: PathBuf, count: usize },
    #[error("image {image}: its config is not valid: {message}")]
    Config { image: String, message: String },
    #[error("cannot store the layer of {what}: {message}")]
    Layer { what: String, message: String },
    #[error("denied by policy {plugin}: {reason}")]
    Denied { plugin: String, reason: String },
    #[error("stopped by plugin {plugin} at {event}: {reason}")]
    Vetoed { plugin: String, event: &'static str, reason: String },
    #[error(transparent)]
    Bind(#[from] bind::BindError),
    #[error(transparent)]
    Plugin(#[from] PluginError),
    #[error(transparent)]
    Spec(#[from] spec::SpecError),
    #[error(transparent)]
    User(#[from] user::UserError),
    #[error(transparent)]
    Find(#[from] FindError),
    #[error("container {0} is already running")]
    AlreadyRunning(String),
    #[error("container {0} is not running; start it first (sbx start)")]
    NotRunning(String),
    #[error(
        "cannot write the container id file {path}: {source}; remove it if no container uses it, or give another --cidfile"
    )]
    CidFile { path: PathBuf, source: std::io::Error },
    /// A `commit --change` that cannot be applied (the message names it and what can be).
    #[error("{0}")]
    BadChange(String),
    #[error("container {0} is paused; unpause it first (sbx unpause)")]
    Paused(String),
    #[error("container {0} has no spec.json (made by an older sbx?); remove it with sbx rm and create it again")]
    NoSpec(String),
    #[error("invalid container name '{0}': a name is a letter or digit, then letters, digits, '_', '.' or '-'")]
    BadName(String),
    #[error("the name '{0}' is already in use by container {1}; choose another with --name or remove that container")]
    NameInUse(String, String),
    #[error("cannot create the container directory {path}: {source}")]
    ContainerDir { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Cgroup(#[from] CgroupError),
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    #[error(transparent)]
    Plan(#[from] rootfs::PlanError),
    #[error(transparent)]
    Seccomp(#[from] crate::spec::seccomp::SeccompError),
    #[error(transparent)]
    Userns(#[from] crate::isolate::userns::UsernsError),
    #[error("container setup failed: cannot {step}: {errno}{hint}")]
    Setup { step: String, errno: Errno, hint: String },
    #[error(transparent)]
    Volume(#[from] crate::volume::VolumeError),
    #[error(transparent)]
    Network(#[from] crate::network::NetworkError),
    #[error("cannot fill the new volume {name} from the image's {destination}: {message}")]
    VolumeFill { name: String, destination: String, message: String },
    #[error("--{flag} container:{name}: {why}")]
    Join { flag: &'static str, name: String, why: String },
    #[error("setting the kernel parameter {key} in the container: {source}")]
    Sysctl { key: String, source: std::io::Error },
    #[error("exec \"{0}\": executable file not found in $PATH")]
    NotFound(String),
    #[error("exec \"{program}\": {}", errno.desc().to_lowercase())]
    CannotExec { program: String, errno: Errno },
}

impl RunError {
    /// docker's convention: 127 not found, 126 cannot run, 125 for everything that is sbx's own;
    /// 1 for a container that is not there or not in the state the verb needs.
    pub fn exit_code(&self) -> i32 {
        match self {
            // Only the verbs on an existing container (start, exec, commit) meet these.
            RunError::Find(f) if f.is_refusal() => 1,
            RunError::AlreadyRunning(_) | RunError::NotRunning(_) | RunError::Paused(_) => 1,
            RunError::NotFound(_) => 127,
            RunError::CannotExec { errno: Errno::ENOENT, .. } => 127,
            RunError::CannotExec { .. } => 126,
            _ => 125,
        }
    }
}
