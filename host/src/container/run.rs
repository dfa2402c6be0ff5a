//! `sbx run`: [`create`] then [`start`]; and what both need: the options, the errors with docker's
//! exit codes, finding the image and its config.

use super::create;
use super::spec::{self, Overrides};
use super::start::{self, StartOptions};
use super::state::FindError;
use super::user;
use crate::image::load::{self, LoadError};
use crate::image::reference::{self, ImageArg};
use crate::image::{ImageRecord, Store, StoreError};
use crate::isolate::cgroup::CgroupError;
use crate::isolate::spawn::SpawnError;
use crate::plugin::{PluginError, PluginSet};
use crate::rootfs::{self, bind};
use nix::errno::Errno;
use oci_spec::image::ImageConfiguration;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub image: String,
    pub name: Option<String>,
    pub rm: bool,
    pub interactive: bool,
    /// Forward sbx's signals to the container (`--sig-proxy`).
    pub sig_proxy: bool,
    pub overrides: Overrides,
}

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
    #[error("container {0} has no spec.json (made by an older sbx?); remove it with sbx rm and create it again")]
    NoSpec(String),
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
    Seccomp(#[from] crate::isolate::seccomp::SeccompError),
    #[error(transparent)]
    Userns(#[from] crate::isolate::userns::UsernsError),
    #[error("container setup failed: cannot {step}: {errno}{hint}")]
    Setup { step: String, errno: Errno, hint: String },
    #[error("exec \"{0}\": executable file not found in $PATH")]
    NotFound(String),
    #[error("exec \"{program}\": {}", errno.desc().to_lowercase())]
    CannotExec { program: String, errno: Errno },
}

impl RunError {
    /// docker's convention: 127 not found, 126 cannot run, 125 for everything that is sbx's own.
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::NotFound(_) => 127,
            RunError::CannotExec { errno: Errno::ENOENT, .. } => 127,
            RunError::CannotExec { .. } => 126,
            _ => 125,
        }
    }
}

/// Finds the image: loads it first when the argument is a path.
pub fn resolve_image(store: &Store, arg: &str) -> Result<ImageRecord, RunError> {
    match reference::classify(arg, |p| Path::new(p).exists()) {
        ImageArg::Path(path) => {
            let mut images = load::load(store, &path)?;
            match images.len() {
                1 => Ok(images.remove(0)),
                count => Err(RunError::NotOneImage { path, count }),
            }
        }
        ImageArg::Stored(query) => Ok(store.find_image(&query)?),
    }
}

pub fn image_config(store: &Store, image: &ImageRecord) -> Result<ImageConfiguration, RunError> {
    let bytes = store.blob(&image.id)?;
    ImageConfiguration::from_reader(&bytes[..])
        .map_err(|e| RunError::Config { image: image.id.to_string(), message: e.to_string() })
}

/// Creates the container and runs it to its end; returns its exit code. Without `--rm` it stays,
/// stopped, with its writable layer.
pub fn run(store: &Store, opts: &RunOptions, plugins: &PluginSet) -> Result<i32, RunError> {
    let record = create::create(store, opts, plugins)?;
    let dir = store.container_dir(&record.id);
    let start = StartOptions { interactive: opts.interactive, sig_proxy: opts.sig_proxy, ..Default::default() };
    start::start_record(store, dir, record, start, plugins)
}
