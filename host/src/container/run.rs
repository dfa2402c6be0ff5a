//! `sbx run`: resolve the image, ask the policies, build the container's writable layer and
//! process, run it in new namespaces and its cgroup, and clean up. The order matters: policies
//! decide before anything is created, so a denied run leaves nothing behind.

use super::admission;
use super::layers;
use super::spec::{self, Overrides, ProcessSpec};
use super::state::{ContainerRecord, Status};
use super::user::{self, User};
use crate::image::load::{self, LoadError};
use crate::image::reference::{self, ImageArg};
use crate::image::{ImageRecord, Store, StoreError};
use crate::isolate::cgroup::{self, Cgroup, CgroupError, Entry};
use crate::isolate::child::{Exec, Phase};
use crate::isolate::spawn::{self, Failure, SpawnError};
use crate::isolate::{ChildPlan, ProcOp};
use crate::plugin::Plugin;
use crate::rootfs::{self, RootfsSpec, plan::cstr};
use crate::sys::linux::Linux;
use nix::errno::Errno;
use oci_spec::image::ImageConfiguration;
use std::ffi::CString;
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

fn cstrings(v: &[String]) -> Result<Vec<CString>, RunError> {
    v.iter().map(|s| CString::new(s.as_str()).map_err(|_| RunError::Spec(spec::SpecError::BadEnv(s.clone())))).collect()
}

fn child_plan(
    spec: &ProcessSpec,
    user: &User,
    layers: Vec<PathBuf>,
    dirs: &ContainerDirs,
    stdin: Option<i32>,
    cgroup_tasks: &[i32],
) -> Result<ChildPlan, RunError> {
    let mut before = vec![ProcOp::DieWithParent, ProcOp::ResetSignals];
    before.extend(cgroup_tasks.iter().map(|fd| ProcOp::JoinCgroup(*fd)));
    before.extend([ProcOp::UnshareCgroup, ProcOp::LoopbackUp]);
    before.push(ProcOp::Sethostname(
        CString::new(spec.hostname.as_str())
            .map_err(|_| RunError::Spec(spec::SpecError::BadEnv(spec.hostname.clone())))?,
    ));
    let rootfs = RootfsSpec {
        layers,
        upper: dirs.root.join("upper"),
        work: dirs.root.join("work"),
        target: dirs.root.join("rootfs"),
    };
    let mounts = rootfs::plan(&rootfs, kernel())?;
    let mut after = Vec::new();
    // Docker creates a missing working directory; each level is made in turn, in the container.
    let mut partial = PathBuf::from("/");
    for comp in Path::new(&spec.cwd).components().skip(1) {
        partial.push(comp);
        after.push(ProcOp::Mkdir(cstr(&partial)));
    }
    after.push(ProcOp::Chdir(cstr(&spec.cwd)));
    if let Some(fd) = stdin {
        after.push(ProcOp::Stdin(fd));
    }
    after.push(ProcOp::SetIds { uid: user.uid, gid: user.gid, groups: user.groups.clone() });
    after.push(ProcOp::CloexecFrom(3));
    let path = spec::get_env(&spec.env, "PATH").unwrap_or(spec::DEFAULT_PATH);
    let exec =
        Exec::new(cstrings(&spec::exec_candidates(&spec.args[0], path))?, cstrings(&spec.args)?, cstrings(&spec.env)?);
    Ok(ChildPlan { before, mounts, after, exec })
}

fn describe_failure(plan: &ChildPlan, f: Failure, spec: &ProcessSpec) -> RunError {
    let step = match f.phase {
        Phase::Before => plan.before.get(f.index).map(ToString::to_string),
        Phase::Mounts => plan.mounts.get(f.index).map(ToString::to_string),
        Phase::After => plan.after.get(f.index).map(ToString::to_string),
        Phase::Exec => {
            let arg0 = spec.args[0].clone();
            return match f.errno {
                Errno::ENOENT if !arg0.contains('/') => RunError::NotFound(arg0),
                errno => RunError::CannotExec { program: arg0, errno },
            };
        }
    };
    let overlay = match plan.mounts.get(f.index) {
        Some(rootfs::MountOp::Overlay { .. }) => true,
        Some(rootfs::MountOp::Mount { fstype, .. }) => fstype.as_bytes() == b"overlay",
        _ => false,
    };
    let hint = if f.phase == Phase::Mounts && overlay && f.errno == Errno::EINVAL {
        " (overlayfs refused it: is the store's filesystem usable as an overlayfs upper layer?)"
    } else {
        ""
    };
    RunError::Setup { step: step.unwrap_or_else(|| "an unknown step".into()), errno: f.errno, hint }
}

/// The running kernel's (major, minor), which decides how the overlay is mounted.
/// `SBX_OVERLAY_MOUNT=legacy` forces the single mount(2) call older kernels get (for
/// troubleshooting, and so the tests exercise that path on any kernel).
fn kernel() -> (u32, u32) {
    if std::env::var_os("SBX_OVERLAY_MOUNT").is_some_and(|v| v == "legacy") {
        return (0, 0);
    }
    nix::sys::utsname::uname().map_or((0, 0), |u| rootfs::kernel_version(&u.release().to_string_lossy()))
}

/// Runs a container to its end and returns its exit code.
pub fn run(store: &Store, opts: &RunOptions, plugins: &[Plugin]) -> Result<i32, RunError> {
    let image = resolve_image(store, &opts.image)?;
    let config = image_config(store, &image)?;
    let skipped =
        if plugins.is_empty() { Vec::new() } else { admission::admit(store, &opts.image, &image, &config, plugins)? };

    let id = crate::random::hex(32);
    let name = opts.name.clone().unwrap_or_else(|| format!("sbx_{}", &id[..12]));
    let spec = spec::build(config.config().as_ref(), &opts.overrides, &id[..12], |k| std::env::var(k).ok())?;
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

    let record_lock = store.lock()?;
    check_name(store, &name)?;
    let mut dirs = ContainerDirs::create(store.container_dir(&id))?;
    let mut record = ContainerRecord {
        id: id.clone(),
        name,
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
    drop(record_lock);

    let cgroup = Cgroup::create(&cgroup::hierarchies(Path::new("/sys/fs/cgroup")), &id)?;
    let null = if opts.interactive {
        None
    } else {
        Some(spawn::dev_null().map_err(|e| RunError::Spawn(SpawnError::Start(e)))?)
    };
    let entry = cgroup.entry()?;
    let (clone_into, tasks): (Option<i32>, Vec<i32>) = match &entry {
        Entry::Clone(fd) => (Some(fd.as_raw_fd()), Vec::new()),
        Entry::Tasks(fds) => (None, fds.iter().map(|f| f.as_raw_fd()).collect()),
    };
    let plan = child_plan(&spec, &user, layers, &dirs, null.as_ref().map(|f| f.as_raw_fd()), &tasks)?;
    let mut child = spawn::spawn(&plan, CLONE_FLAGS, clone_into, &Linux)?;
    drop((null, entry));
    CONTAINER_PID.store(child.pid.as_raw(), Ordering::Relaxed);
    forward_signals();
    let started = child.start();
    if matches!(started, Ok(None)) {
        record.status = Status::Running;
        record.pid = Some(child.pid.as_raw());
        // The container runs whatever happens to its record: a failed write is only reported.
        if let Err(e) = record.save(&dirs.root) {
            eprintln!("sbx: warning: {e}");
        }
    }
    let code = child.wait();
    CONTAINER_PID.store(0, Ordering::Relaxed);
    let failure = match started {
        Ok(None) => None,
        Ok(Some(f)) => Some(describe_failure(&plan, f, &spec)),
        Err(e) => Some(RunError::Spawn(e)),
    };
    // Without --rm the writable layer outlives the run, whatever fails from here on.
    dirs.keep = !opts.rm;
    cgroup.remove()?;
    if !opts.rm {
        record.status = if failure.is_some() { Status::Created } else { Status::Exited };
        record.exit_code = failure.is_none().then_some(code);
        record.pid = None;
        record.finished = Some(crate::time::now_rfc3339());
        record.save(&dirs.root)?;
    }
    match failure {
        Some(e) => Err(e),
        None => Ok(code),
    }
}
