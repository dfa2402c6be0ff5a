//! `create`: the bundle's config.json read and checked, the policies' verdict and adjustments, the
//! cgroup, and the process set up in its namespaces on the bundle's root, left waiting on the
//! exec fifo; its state and pid file written before this returns. Any failure leaves nothing: the
//! process is killed, the cgroup and the state directory removed.

use super::hooks::{self, Place, Point};
use super::state::{self, FIFO, State};
use super::{RuntimeError, admit, namespaces};
use crate::container::RunError;
use crate::container::events::{Events, Now};
use crate::container::process::{self, Dirs, Prepared};
use crate::container::start::{clone_flags, userns_sources};
use crate::container::state::RemoveOnDrop;
use crate::isolate::cgroup::{self, Cgroup};
use crate::isolate::namespaces::{PidNsForChildren, set_sysctls};
use crate::isolate::spawn::{self, SpawnError};
use crate::isolate::userns;
use crate::isolate::{Launching, Progress};
use crate::plugin::bindings::Event;
use crate::plugin::{PluginSet, convert};
use crate::rootfs::plan::UsernsRootfs;
use crate::spec::oci::{self, Bundle};
use crate::spec::{Userns, security};
use crate::sys::linux::Linux;
use std::ffi::CString;
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The cgroup under each hierarchy that holds the runtime's containers.
pub const RUNTIME_CGROUP: &str = "sbx-runtime";

pub struct CreateOptions<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    pub bundle: &'a Path,
    pub pid_file: Option<&'a Path>,
    pub console_socket: Option<&'a Path>,
    /// `--preserve-fds`: how many descriptors after stderr the process inherits.
    pub preserve_fds: u32,
}

/// Reads the bundle at `bundle` (absolute): its config.json (which must parse as the
/// runtime-spec's) as sbx's spec.
pub fn read_bundle(bundle: &Path) -> Result<Bundle, RuntimeError> {
    let path = bundle.join("config.json");
    let text = match fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(RuntimeError::NoConfig(bundle.into())),
        r => r.map_err(RuntimeError::io(format!("read {}", path.display())))?,
    };
    let config: oci_spec::runtime::Spec = serde_json::from_slice(&text)
        .map_err(|e| RuntimeError::BadConfig { path: path.clone(), message: e.to_string() })?;
    let mut read = oci::from_oci(&config, bundle)?;
    if !read.root.is_dir() {
        return Err(RuntimeError::NoRootfs(read.root));
    }
    namespaces::host_joins(&mut read)?;
    Ok(read)
}

/// Where the container's cgroup goes under each hierarchy: (its parent, its name). The bundle's
/// `linux.cgroupsPath` as engines give it (`/default/ID` from containerd, `/libpod_parent/...`
/// from podman), relative paths under sbx-runtime; else `sbx-runtime/ID`, beside sbx's own
/// containers (`sbx/ID`), not among them: `sbx system check` owns those. Pure.
pub fn cgroup_place(cgroups_path: Option<&Path>, id: &str) -> (PathBuf, String) {
    let Some(path) = cgroups_path else { return (PathBuf::from(RUNTIME_CGROUP), id.to_string()) };
    let parts: Vec<_> = path.components().filter_map(|c| c.as_os_str().to_str().filter(|c| *c != "/")).collect();
    let (leaf, above) = parts.split_last().map(|(l, a)| (l.to_string(), a.join("/"))).unwrap_or_default();
    match path.is_absolute() {
        true => (PathBuf::from(above), leaf),
        false => (Path::new(RUNTIME_CGROUP).join(above), leaf),
    }
}

/// Connects to the engine's console socket, where the terminal's master goes.
pub fn console(path: Option<&Path>) -> Result<OwnedFd, RuntimeError> {
    let Some(path) = path else {
        return Err(RuntimeError::ConsoleSocket {
            path: PathBuf::new(),
            message: "process.terminal is true, but no --console-socket was given for its master".into(),
        });
    };
    let bad = |message: String| RuntimeError::ConsoleSocket { path: path.to_path_buf(), message };
    let meta = fs::metadata(path).map_err(|e| bad(e.to_string()))?;
    if !meta.file_type().is_socket() {
        return Err(bad("not a unix socket".into()));
    }
    let stream = std::os::unix::net::UnixStream::connect(path).map_err(|e| bad(e.to_string()))?;
    Ok(stream.into())
}

/// Creates the container: on return its process waits for `start`. Returns what sbx does its own
/// way (for the log).
pub fn create(opts: &CreateOptions, plugins: &PluginSet) -> Result<Vec<String>, RuntimeError> {
    state::check_id(opts.id)?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(opts.root)
        .map_err(RuntimeError::io(format!("create the state root {}", opts.root.display())))?;
    let dir = State::dir(opts.root, opts.id);
    match fs::DirBuilder::new().mode(0o711).create(&dir) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Err(RuntimeError::Exists(opts.id.into())),
        r => r.map_err(RuntimeError::io(format!("create {}", dir.display())))?,
    }
    let mut undo = RemoveOnDrop(Some(dir.clone()));
    let bundle = fs::canonicalize(opts.bundle)
        .map_err(RuntimeError::io(format!("open the bundle {}", opts.bundle.display())))?;
    let mut read = read_bundle(&bundle)?;
    admit::set_home(&mut read.spec, read.user.uid, &read.root);
    let checks = match oci::names_image(&read.spec.annotations) {
        true => admit::Checks::ImageAndSpec,
        false => admit::Checks::Spec,
    };
    let (spec, user) = admit::admit(&read.spec, &read.user, &read.root, plugins, opts.root, checks)?;
    let console = if spec.terminal { Some(console(opts.console_socket)?) } else { None };

    let image = convert::bare_image(&spec.image);
    let events = if plugins.may_have_hooks() {
        Events::new(plugins.load().map_err(RunError::from)?, opts.id, opts.id, &image, &spec, &user)
    } else {
        None
    };
    if let Some(e) = &events {
        e.fire(Event::Create, Now::created())?;
    }

    let (parent, leaf) = cgroup_place(read.cgroups_path.as_deref(), opts.id);
    let cgroup_fs = spec.cgroup_mount.map(|m| cgroup::container_fs(m.read_only));
    let roots = cgroup::roots(Path::new("/sys/fs/cgroup"), spec.limits.cpuset_cpus.is_some(), cgroup_fs.as_ref());
    let hierarchies: Vec<PathBuf> = roots.iter().map(|r| r.join(&parent)).collect();
    let mut launching = Launching::new(Cgroup::create(&hierarchies, &leaf).map_err(RunError::from)?);
    launching.cgroup().set_limits(&spec.limits).map_err(RunError::from)?;
    launching.cgroup().set_devices(&security::device_rules(&spec.devices, false)).map_err(RunError::from)?;

    // The fifo lets any user of the container write (the process may have dropped root by then).
    let fifo_path = dir.join(FIFO);
    nix::unistd::mkfifo(&fifo_path, nix::sys::stat::Mode::from_bits_truncate(0o622))
        .map_err(|e| RuntimeError::io(format!("create {}", fifo_path.display()))(e.into()))?;
    fs::set_permissions(&fifo_path, fs::Permissions::from_mode(0o622))
        .map_err(RuntimeError::io(format!("chmod {}", fifo_path.display())))?;
    let fifo =
        rustix::fs::open(&fifo_path, rustix::fs::OFlags::PATH | rustix::fs::OFlags::CLOEXEC, rustix::fs::Mode::empty())
            .map_err(|e| RuntimeError::io(format!("open {}", fifo_path.display()))(e.into()))?;

    let binds = spec
        .mounts
        .iter()
        .filter(|m| m.kind == crate::spec::MountKind::Bind)
        .map(|m| crate::rootfs::bind::open(Path::new(&m.source), m.read_only))
        .collect::<Result<Vec<_>, _>>()
        .map_err(RunError::from)?;
    let id_maps = match (spec.userns, &read.id_maps) {
        (Userns::Host, _) => None,
        (Userns::Auto, Some(maps)) => Some(maps),
        (Userns::Auto, None) => return Err(RuntimeError::UsernsWithoutMaps),
    };
    // In a user namespace, mknod is refused: the host's device nodes are bound instead.
    let devices = match id_maps {
        Some(_) => Some(userns_sources(None, &[], &spec.devices)?.1),
        None => None,
    };
    let joins = namespaces::open_joins(&read.joins)?;
    let (pid_join, joins): (Vec<_>, Vec<_>) = joins.into_iter().partition(|(_, f)| *f == libc::CLONE_NEWPID);
    let joined = read.joins.iter().fold(0, |all, j| all | j.flag as u64);
    let entry = launching.cgroup().entry().map_err(RunError::from)?;
    let (clone_into, cgroup_tasks) = entry.raw();
    let prepared = Prepared {
        stdin: None,
        stdout: None,
        stderr: None,
        cgroup_tasks,
        cgroup_tasks_later: Vec::new(),
        cgroup_fs,
        binds: binds.iter().map(|b| (b.fd.as_raw_fd(), b.is_dir)).collect(),
        files: Vec::new(), // a bundle mounts what its config says
        pause_before_pivot: hooks::any(
            read.hooks.as_ref(),
            &[Point::Prestart, Point::CreateRuntime, Point::CreateContainer],
        ),
        pause_before_exec: events.is_some(),
        exec_fifo: Some(CString::new(format!("/proc/self/fd/{}", fifo.as_raw_fd())).expect("no NUL")),
        terminal: console.as_ref().map(|s| (s.as_raw_fd(), (24, 80))),
        seccomp: process::seccomp_program(&opts.root.join(".seccomp"), &spec)?,
        userns: devices.as_ref().map(|nodes| UsernsRootfs {
            dir: read.root.clone(),
            layers: Vec::new(),
            devices: nodes.iter().map(AsRawFd::as_raw_fd).collect(),
        }),
        preserve_fds: opts.preserve_fds,
        joins: joins.iter().map(|(fd, flag)| (fd.as_raw_fd(), *flag)).collect(),
    };
    let dirs =
        Dirs { upper: PathBuf::new(), work: PathBuf::new(), rootfs: read.root.clone(), bundle: true, volatile: false };
    let plan = process::child_plan(&spec, &user, Vec::new(), dirs, &prepared, process::kernel())?;
    let in_pid_ns = PidNsForChildren::enter(pid_join.first().map(|(fd, _)| fd))
        .map_err(RuntimeError::io("join the bundle's PID namespace"))?;
    let flags = clone_flags(&spec, id_maps.is_some()) & !joined;
    let child = spawn::spawn(&plan, flags, clone_into, &Linux).map_err(RunError::from)?;
    drop(in_pid_ns);
    launching.spawned(child);
    drop((entry, binds, console, fifo, joins, pid_join, devices));
    let pid = launching.child().pid.as_raw();
    if let Some(maps) = id_maps {
        // The child waits for its first go: its ids mean nothing in its namespace until then.
        userns::write_map_lines(launching.child().pid, &maps.uid, &maps.gid).map_err(RuntimeError::IdMaps)?;
    }
    let record = State {
        oci_version: oci_spec::runtime::Spec::default().version().clone(),
        id: opts.id.to_string(),
        pid,
        pid_start: state::process_start(pid).map(|(s, _)| s).unwrap_or(0),
        bundle,
        rootfs: read.root.clone(),
        created: crate::time::now_rfc3339(),
        annotations: spec.annotations.clone(),
        cgroup: launching.cgroup().dirs().to_vec(),
        spec: spec.clone(),
        uid: user.uid,
        gid: user.gid,
        groups: user.groups.clone(),
        hooks: read.hooks,
    };
    let mut progress = launching.child().advance();
    if let Ok(Progress::Mounted) = progress {
        let creating = record.report_as("creating", pid);
        let hooks = record.hooks.as_ref();
        hooks::run(hooks, Point::Prestart, &creating, Place::Runtime)?;
        hooks::run(hooks, Point::CreateRuntime, &creating, Place::Runtime)?;
        hooks::run(hooks, Point::CreateContainer, &creating, Place::Container(pid))?;
        progress = launching.child().advance();
    }
    if let (Ok(Progress::Ready), Some(e)) = (&progress, &events) {
        e.fire(Event::Prestart, Now { pid: Some(pid), ..Now::created() })?;
        progress = launching.child().advance();
    }
    match progress {
        Ok(Progress::Waiting) => {}
        Ok(Progress::Failed(f)) => return Err(process::describe_failure(&plan, f, &spec).into()),
        Ok(_) => return Err(RunError::Spawn(SpawnError::Start(std::io::Error::other("the child did not wait"))).into()),
        Err(e) => return Err(RunError::Spawn(e).into()),
    }
    set_sysctls(pid, &spec.sysctls).map_err(|(key, e)| RuntimeError::Sysctl { key, message: e.to_string() })?;
    if let Some(adj) = read.oom_score_adj {
        let path = format!("/proc/{pid}/oom_score_adj");
        fs::write(&path, adj.to_string()).map_err(RuntimeError::io(format!("write {path}")))?;
    }
    record.save(opts.root)?;
    if let Some(path) = opts.pid_file {
        super::write_pid_file(path, pid)?;
    }
    let (_child, cgroup) = launching.running();
    cgroup.keep();
    undo.keep();
    Ok(read.notices)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cgroups_path_names_the_cgroup_else_it_goes_under_sbx_runtime() {
        let place = |p: Option<&str>| cgroup_place(p.map(Path::new), "c1");
        assert_eq!(place(None), (PathBuf::from("sbx-runtime"), "c1".into()));
        assert_eq!(place(Some("/default/c1")), (PathBuf::from("default"), "c1".into()));
        assert_eq!(place(Some("/libpod_parent/libpod-abc")), (PathBuf::from("libpod_parent"), "libpod-abc".into()));
        assert_eq!(place(Some("/a/b/leaf")), (PathBuf::from("a/b"), "leaf".into()));
        assert_eq!(place(Some("/leaf")), (PathBuf::from(""), "leaf".into()));
        assert_eq!(place(Some("pod/leaf")), (PathBuf::from("sbx-runtime/pod"), "leaf".into()));
    }
}
