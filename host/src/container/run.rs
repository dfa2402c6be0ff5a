//! `sbx run`: resolve the image, ask the policies (which may adjust the spec), build the container's
//! writable layer and process, run it in new namespaces and its cgroup, tell the hooks at each step,
//! and clean up. The order matters: policies decide before anything is created, so a denied run
//! leaves nothing behind; a hook's veto at create or prestart removes what was made.

use super::admission;
use super::events::{Events, Now};
use super::layers;
use super::process::{self, Dirs, Prepared};
use super::spec::{self, Overrides};
use super::state::{self, ContainerRecord, Status};
use super::user;
use crate::image::load::{self, LoadError};
use crate::image::reference::{self, ImageArg};
use crate::image::{ImageRecord, Store, StoreError};
use crate::isolate::Progress;
use crate::isolate::cgroup::{self, Cgroup, CgroupError, Entry};
use crate::isolate::spawn::{self, SpawnError};
use crate::plugin::bindings::Event;
use crate::plugin::{PluginError, PluginSet, convert, hooks};
use crate::rootfs::{self, bind};
use crate::sys::linux::Linux;
use nix::errno::Errno;
use oci_spec::image::ImageConfiguration;
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};

#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    pub image: String,
    pub name: Option<String>,
    pub rm: bool,
    pub interactive: bool,
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
    #[error("container setup failed: cannot {step}: {errno}{hint}")]
    Setup { step: String, errno: Errno, hint: &'static str },
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

/// Namespaces of a container (cgroup is unshared by the child once it is in its cgroup).
const CLONE_FLAGS: u64 =
    (libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC | libc::CLONE_NEWNET) as u64;

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

/// The pid of the running container, for the signal handler to forward to.
static CONTAINER_PID: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward_signal(sig: libc::c_int) {
    let pid = CONTAINER_PID.load(Ordering::Relaxed);
    if pid > 0 {
        unsafe { libc::kill(pid, sig) };
    }
}

fn forward_signals() {
    for sig in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT, libc::SIGUSR1, libc::SIGUSR2] {
        let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
        action.sa_sigaction = forward_signal as *const () as usize;
        action.sa_flags = libc::SA_RESTART;
        unsafe { libc::sigaction(sig, &action, std::ptr::null_mut()) };
    }
}

fn check_name(store: &Store, name: &str) -> Result<(), RunError> {
    match crate::container::state::list(store).into_iter().find(|(_, r)| r.name == name) {
        Some((_, r)) => Err(RunError::NameInUse(name.to_string(), r.id[..12].to_string())),
        None => Ok(()),
    }
}

/// The container's directories; removed again (with the cgroup) unless kept.
struct ContainerDirs {
    root: PathBuf,
    keep: bool,
}

impl ContainerDirs {
    fn create(root: PathBuf) -> Result<ContainerDirs, RunError> {
        let err = |path: &Path| {
            let path = path.to_path_buf();
            move |source| RunError::ContainerDir { path, source }
        };
        fs::DirBuilder::new().mode(0o700).create(&root).map_err(err(&root))?;
        let dirs = ContainerDirs { root, keep: false };
        for (sub, mode) in [("upper", 0o755), ("work", 0o700), ("rootfs", 0o755)] {
            let p = dirs.root.join(sub);
            fs::DirBuilder::new().mode(mode).create(&p).map_err(err(&p))?;
            // The overlay's root takes the upper directory's mode; mkdir's is cut by the umask.
            std::os::unix::fs::chown(&p, Some(0), Some(0)).map_err(err(&p))?;
            fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(mode)).map_err(err(&p))?;
        }
        Ok(dirs)
    }
}

impl Drop for ContainerDirs {
    fn drop(&mut self) {
        if !self.keep {
            let _ = fs::remove_dir_all(&self.root);
        }
    }
}

/// Prints a failure that comes after the container ran and cannot change its outcome.
fn warn(e: impl std::fmt::Display) {
    eprintln!("sbx: warning: {e}");
}

/// Runs a container to its end and returns its exit code.
pub fn run(store: &Store, opts: &RunOptions, plugins: &PluginSet) -> Result<i32, RunError> {
    let image = resolve_image(store, &opts.image)?;
    let config = image_config(store, &image)?;
    let id = crate::random::hex(32);
    let name = opts.name.clone().unwrap_or_else(|| format!("sbx_{}", &id[..12]));
    let spec =
        spec::build(&opts.image, config.config().as_ref(), &opts.overrides, &id[..12], |k| std::env::var(k).ok())?;
    let default_hostname = opts.overrides.hostname.is_none().then(|| id[..12].to_string());
    let (skipped, spec) =
        admission::decide(store, &opts.image, &image, &config, plugins, spec, default_hostname.as_deref())?;
    let layers: Vec<PathBuf> = image
        .layers
        .iter()
        .enumerate()
        .filter(|(i, _)| !skipped.contains(i))
        .map(|(_, l)| store.layer_diff(&l.diff_id))
        .collect();
    let top_first: Vec<PathBuf> = layers.iter().rev().cloned().collect();
    let passwd = layers::read_file(&top_first, Path::new("etc/passwd"));
    let group = layers::read_file(&top_first, Path::new("etc/group"));
    let user = user::resolve(&spec.user, passwd.as_deref(), group.as_deref())?;
    let mut spec = spec;
    if spec::get_env(&spec.env, "HOME").is_none() {
        spec::set_env(&mut spec.env, "HOME", &user.home);
    }
    let binds = spec
        .mounts
        .iter()
        .filter(|m| m.kind == spec::MountKind::Bind)
        .map(|m| bind::open(Path::new(&m.source), m.read_only))
        .collect::<Result<Vec<_>, _>>()?;

    let record_lock = store.lock()?;
    check_name(store, &name)?;
    let mut dirs = ContainerDirs::create(store.container_dir(&id))?;
    let mut record = ContainerRecord {
        id: id.clone(),
        name: name.clone(),
        image: opts.image.clone(),
        image_id: image.id.clone(),
        command: spec.args.clone(),
        created: crate::time::now_rfc3339(),
        status: Status::Created,
        pid: None,
        exit_code: None,
        finished: None,
    };
    record.save(&dirs.root)?;
    state::save_spec(&dirs.root, &spec)?;
    drop(record_lock);

    let events = if plugins.may_have_hooks() {
        let wit_image = convert::image(&opts.image, &image, &config);
        Events::new(plugins.load()?, &id, &name, &wit_image, &spec)
    } else {
        None
    };
    let fire = |event, now| match &events {
        Some(e) => e.fire(event, now).map_err(|v| RunError::Vetoed {
            plugin: v.plugin,
            event: hooks::event_name(event),
            reason: v.reason,
        }),
        None => Ok(()),
    };
    fire(Event::Create, Now::created())?;

    let cgroup = Cgroup::create(&cgroup::hierarchies(Path::new("/sys/fs/cgroup")), &id)?;
    cgroup.set_limits(&spec.limits)?;
    let null = if opts.interactive {
        None
    } else {
        Some(spawn::dev_null().map_err(|e| RunError::Spawn(SpawnError::Start(e)))?)
    };
    let entry = cgroup.entry()?;
    let (clone_into, cgroup_tasks): (Option<i32>, Vec<i32>) = match &entry {
        Entry::Clone(fd) => (Some(fd.as_raw_fd()), Vec::new()),
        Entry::Tasks(fds) => (None, fds.iter().map(|f| f.as_raw_fd()).collect()),
    };
    let prepared = Prepared {
        stdin: null.as_ref().map(|f| f.as_raw_fd()),
        cgroup_tasks,
        binds: binds.iter().map(|b| (b.fd.as_raw_fd(), b.is_dir)).collect(),
        pause_before_exec: events.is_some(),
    };
    let process_dirs =
        Dirs { upper: dirs.root.join("upper"), work: dirs.root.join("work"), rootfs: dirs.root.join("rootfs") };
    let plan = process::child_plan(&spec, &user, layers, process_dirs, &prepared, process::kernel())?;
    let mut child = spawn::spawn(&plan, CLONE_FLAGS, clone_into, &Linux)?;
    drop((null, entry, binds));
    CONTAINER_PID.store(child.pid.as_raw(), Ordering::Relaxed);
    forward_signals();
    let mut progress = child.advance();
    if let Ok(Progress::Ready) = progress {
        let now = Now { status: Status::Created, pid: Some(child.pid.as_raw()), ..Now::created() };
        if let Err(veto) = fire(Event::Prestart, now) {
            CONTAINER_PID.store(0, Ordering::Relaxed);
            child.abort();
            cgroup.remove()?;
            return Err(veto);
        }
        progress = child.advance();
    }
    let failure = match progress {
        Ok(Progress::Running) => None,
        Ok(Progress::Failed(f)) => Some(process::describe_failure(&plan, f, &spec)),
        Ok(Progress::Ready) => {
            Some(RunError::Spawn(SpawnError::Start(std::io::Error::other("the child paused twice"))))
        }
        Err(e) => Some(RunError::Spawn(e)),
    };
    if failure.is_none() {
        record.status = Status::Running;
        record.pid = Some(child.pid.as_raw());
        // The container runs whatever happens to its record: a failed write is only reported.
        if let Err(e) = record.save(&dirs.root) {
            warn(e);
        }
        let now = Now { status: Status::Running, pid: record.pid, ..Now::created() };
        fire(Event::Poststart, now).unwrap_or_else(warn);
    }
    let exit = child.wait();
    CONTAINER_PID.store(0, Ordering::Relaxed);
    let oom_killed = cgroup.oom_killed();
    // Without --rm the writable layer outlives the run, whatever fails from here on.
    dirs.keep = !opts.rm;
    cgroup.remove()?;
    let ended = Now { status: Status::Exited, pid: None, exit_code: Some(exit.code), signal: exit.signal, oom_killed };
    if failure.is_none() {
        fire(Event::Exit, ended).unwrap_or_else(warn);
    }
    if opts.rm {
        fire(Event::Remove, ended).unwrap_or_else(warn);
    } else {
        record.status = if failure.is_some() { Status::Created } else { Status::Exited };
        record.exit_code = failure.is_none().then_some(exit.code);
        record.pid = None;
        record.finished = Some(crate::time::now_rfc3339());
        record.save(&dirs.root)?;
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(exit.code),
    }
}
