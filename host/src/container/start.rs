//! `sbx start -a`: run a created or stopped container in the foreground, on its own writable layer
//! (so it sees what it wrote before), in new namespaces and its cgroup, telling the hooks at each
//! step, and record how it ended. A lock on the container's directory, held while it runs, keeps a
//! second start out.

use super::create::Fresh;
use super::error::RunError;
use super::events::{Events, Now};
use super::image::image_config;
use super::init_layer;
use super::layers;
use super::network;
use super::process::{self, Dirs, Prepared};
use super::sharing;
use super::signals;
use super::state::{self, ContainerRecord, RemoveOnDrop, Status};
use super::terminal;
use super::volumes;
use crate::image::Store;
use crate::isolate::cgroup::{self, Cgroup};
use crate::isolate::namespaces::{PidNsForChildren, set_sysctls};
use crate::isolate::rootless;
use crate::isolate::spawn::{self, SpawnError};
use crate::isolate::userns::{self, IdMap};
use crate::isolate::{Launching, Progress};
use crate::plugin::bindings::Event;
use crate::plugin::{PluginSet, convert};
use crate::rootfs::bind;
use crate::rootfs::plan::{DEVICES, LOWERDIR_PLUS_SINCE, MAX_LAYERS, UsernsRootfs, cstr};
use crate::spec::security;
use crate::spec::{self, ContainerSpec};
use crate::sys::linux::Linux;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Namespaces of a container (cgroup is unshared by the child once it is in its cgroup; the network
/// namespace is the host's with `--network host`; the user namespace the host's unless it has a
/// range of ids of its own).
pub fn clone_flags(spec: &ContainerSpec, own_ids: bool) -> u64 {
    let own = |sharing: &spec::Sharing, flag| if sharing.is_private() { flag } else { 0 };
    let own = libc::CLONE_NEWNS
        | libc::CLONE_NEWUTS
        | own(&spec.ipc, libc::CLONE_NEWIPC)
        | own(&spec.pid, libc::CLONE_NEWPID);
    let net = if spec.network.is_own() { libc::CLONE_NEWNET } else { 0 };
    let user = if own_ids { libc::CLONE_NEWUSER } else { 0 };
    (own | net | user) as u64
}

/// For a container in a user namespace: its layers idmapped to its range (`--userns=auto`; a
/// rootless sbx's layers already belong to its namespace) and the host's device nodes, as detached
/// mounts the child attaches.
pub fn userns_sources(
    map: Option<&IdMap>,
    layers: &[PathBuf],
    devices: &[security::Device],
) -> Result<(Vec<OwnedFd>, Vec<OwnedFd>), RunError> {
    let idmapped = match map {
        Some(map) => {
            let namespace = userns::namespace_of(map)?;
            layers.iter().map(|l| bind::open_idmapped(l, &namespace)).collect::<Result<_, _>>()?
        }
        None => Vec::new(),
    };
    let nodes = DEVICES
        .iter()
        .map(|(name, ..)| Path::new("/dev").join(name))
        .chain(devices.iter().map(|d| PathBuf::from(&d.host_path)));
    let nodes = nodes.map(|p| bind::open(&p, false).map(|b| b.fd)).collect::<Result<_, _>>()?;
    Ok((idmapped, nodes))
}

#[derive(Debug, Clone, Copy)]
pub struct StartOptions {
    /// Keep stdin open (otherwise the container reads /dev/null).
    pub interactive: bool,
    /// Remove the container when it exits (also when it was created with --rm).
    pub rm: bool,
    /// Forward the signals sbx gets to the container.
    pub sig_proxy: bool,
    /// Where the container's stdin, stdout and stderr come from and go (default: sbx's own; for
    /// stdin without `interactive`, /dev/null).
    pub stdin: Option<i32>,
    /// Whether its stdout and stderr are shown on sbx's own (`-a`); those not shown are only
    /// logged.
    pub shown: [bool; 2],
    pub stdout: Option<i32>,
    pub stderr: Option<i32>,
}

impl Default for StartOptions {
    fn default() -> StartOptions {
        StartOptions {
            interactive: false,
            rm: false,
            sig_proxy: true,
            stdin: None,
            shown: [true, true],
            stdout: None,
            stderr: None,
        }
    }
}

/// The container's /etc/hosts, /etc/hostname and /etc/resolv.conf, opened for mounting: those
/// its directory has (a container made by an sbx before them has none) and no mount of the spec
/// covers (`-v ./hosts:/etc/hosts` wins, as in docker; under `-v DIR:/etc` none is made in DIR).
fn etc_files(dir: &Path, spec: &ContainerSpec) -> Result<Vec<(bind::BindSource, &'static str)>, RunError> {
    let covered = |at: &str| {
        spec.mounts
            .iter()
            .any(|m| at.strip_prefix(m.destination.as_str()).is_some_and(|r| r.is_empty() || r.starts_with('/')))
    };
    super::etc_files::FILES
        .iter()
        .filter(|(_, at)| !covered(at))
        .filter_map(|(name, at)| match bind::open(&dir.join(name), false) {
            Ok(source) => Some(Ok((source, *at))),
            Err(bind::BindError::Missing { .. }) => None,
            Err(e) => Some(Err(e.into())),
        })
        .collect()
}

/// Prints a failure that comes after the container ran and cannot change its outcome.
fn warn(e: impl std::fmt::Display) {
    eprintln!("sbx: warning: {e}");
}

/// Held while the container runs: its directory, open and flocked (see [`state::is_running`]); the
/// kernel releases it if sbx dies.
fn lock_running(dir: &Path, name: &str) -> Result<File, RunError> {
    let f = File::open(dir).map_err(|source| RunError::ContainerDir { path: dir.to_path_buf(), source })?;
    if rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
        return Err(RunError::AlreadyRunning(name.to_string()));
    }
    Ok(f)
}

/// Starts the container `query` names and waits for it.
pub fn start(store: &Store, query: &str, opts: StartOptions, plugins: &PluginSet) -> Result<i32, RunError> {
    let (dir, record) = state::find(store, query)?;
    start_record(store, dir, record, opts, None, plugins)
}

/// Starts the container of `record` (in `dir`) and waits for it; returns its exit code.
pub fn start_record(
    store: &Store,
    dir: PathBuf,
    record: ContainerRecord,
    opts: StartOptions,
    fresh: Option<Fresh>,
    plugins: &PluginSet,
) -> Result<i32, RunError> {
    // A container that stays keeps its output in its log, as docker's log driver sees every
    // container: the streams that are sbx's own come through pipes that sbx copies to its own
    // stdout and stderr and to the log (with a terminal, its output is copied there instead).
    let mut log = match opts.rm || record.auto_remove {
        true => None,
        false => File::options().create(true).append(true).open(dir.join(super::log::LOG)).ok(),
    };
    let pipe = |given: Option<i32>| match (&log, given) {
        (Some(_), None) => nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ok(),
        _ => None,
    };
    let (out, err) = (pipe(opts.stdout), pipe(opts.stderr));
    // `-a`: a stream not attached is logged but not shown; with no log, it goes to /dev/null
    // (held open until the container has it).
    let [show_out, show_err] = opts.shown;
    let null = match log.is_none() && !(show_out && show_err) {
        true => Some(File::options().write(true).open("/dev/null").map_err(|e| RunError::Spawn(SpawnError::Start(e)))?),
        false => None,
    };
    let to = |pipe: &Option<(OwnedFd, OwnedFd)>, given: Option<i32>, shown: bool| match pipe {
        Some((_, w)) => Some(w.as_raw_fd()),
        None if !shown => null.as_ref().map(|n| n.as_raw_fd()),
        None => given,
    };
    let opts =
        StartOptions { stdout: to(&out, opts.stdout, show_out), stderr: to(&err, opts.stderr, show_err), ..opts };
    let mut launched = launch(store, dir, record, opts, fresh, plugins)?;
    let pid = launched.child.pid.as_raw();
    let master = launched.take_terminal();
    // Only the container holds the write ends now: its exit closes them.
    let reads: Vec<(OwnedFd, &'static str, Option<File>)> = [(out, "stdout"), (err, "stderr")]
        .into_iter()
        .filter_map(|(pipe, name)| {
            let (read, _) = pipe?;
            let ours = match name {
                "stdout" if show_out => std::io::stdout().as_fd().try_clone_to_owned().ok(),
                "stderr" if show_err => std::io::stderr().as_fd().try_clone_to_owned().ok(),
                _ => None,
            };
            Some((read, name, ours.map(File::from)))
        })
        .collect();
    match (master, &mut log) {
        (None, Some(log)) if !reads.is_empty() => {
            super::log::pump(reads, log, None);
            launched.wait()
        }
        (master, log) => {
            drop(reads);
            terminal::while_attached(master, pid, opts.interactive, log.as_mut(), || launched.wait())
        }
    }
}

fn fire(events: &Option<Events>, event: Event, now: Now) -> Result<(), RunError> {
    events.as_ref().map_or(Ok(()), |e| e.fire(event, now))
}

/// A container whose process runs: what is needed to wait for it and record its end.
pub struct Launched<'a> {
    pub record: ContainerRecord,
    store: &'a Store,
    dir: PathBuf,
    rm: bool,
    /// Its PID namespace is not its own: what it started does not end with it (see
    /// [`cgroup::kill_all`]).
    shares_pid: bool,
    child: spawn::Spawned,
    cgroup: Cgroup,
    events: Option<Events<'a>>,
    /// The master side of its terminal (`-t`), for whoever copies its output.
    master: Option<OwnedFd>,
    network: network::Attached<'a>,
    // Dropped in this order: a `--rm` container's directory goes before its run lock is let go,
    // so whoever waits on the lock (`stop`, `rm -f`) finds it gone.
    _remove: RemoveOnDrop,
    _volumes: volumes::AnonymousOnDrop<'a>,
    _running: File,
}

/// Starts the container of `record` (in `dir`): returns once its process runs (the poststart hooks
/// told), or with why it could not start. `fresh` is what the create just before decided (`sbx
/// run`); without it the spec and user are read from the container's files.
pub fn launch<'a>(
    store: &'a Store,
    dir: PathBuf,
    mut record: ContainerRecord,
    opts: StartOptions,
    fresh: Option<Fresh>,
    plugins: &'a PluginSet,
) -> Result<Launched<'a>, RunError> {
    let rm = opts.rm || record.auto_remove;
    // Declared before the directory's guard, so dropped after it (on an error too): a volume is
    // removed only once no container uses it.
    let mut anonymous = volumes::AnonymousOnDrop(None);
    let remove = RemoveOnDrop(rm.then(|| dir.clone()));
    let running = lock_running(&dir, &record.name)?;
    // A stop or kill of an earlier run does not count against this one.
    state::take_stopped_by_user(&dir);
    record.restarting = false;
    let starting = match fresh {
        Some(_) => state::Starting::already_begun(&dir, &record),
        None => {
            // What an earlier run's killed sbx left on its networks.
            network::forget(store, &record.id);
            state::Starting::begin(&dir, &record)?
        }
    };
    record.layers = record.mounted_layers(store)?;
    let mut layers: Vec<PathBuf> = record.layers.iter().map(|d| store.layer_diff(d)).collect();
    let Fresh { spec, user } = match fresh {
        Some(fresh) => fresh,
        None => {
            let spec: ContainerSpec = state::load_spec(&dir).ok_or_else(|| RunError::NoSpec(record.name.clone()))?;
            let user = layers::resolve_user(&layers, &spec.user, &spec.group_add)?;
            Fresh { spec, user }
        }
    };
    // Without it (an image of as many layers as overlayfs stacks, or a kernel whose single mount(2)
    // has one page for every layer's path), the mount points are made in the writable layer.
    let kernel = process::kernel();
    if layers.len() < MAX_LAYERS
        && kernel >= LOWERDIR_PLUS_SINCE
        && let Some(init) = init_layer::for_layers(store, &layers)?
    {
        layers.push(init);
    }
    if rm {
        anonymous.0 = Some((store, volumes::anonymous(store, &spec)));
    }
    let binds = spec
        .mounts
        .iter()
        .filter(|m| m.kind == spec::MountKind::Bind)
        .map(|m| bind::open(Path::new(&m.source), m.read_only))
        .collect::<Result<Vec<_>, _>>()?;
    let files = etc_files(&dir, &spec)?;
    let joined = sharing::open(store, &spec)?;
    let mut netns = network::premade_netns(&spec, record.idmap.is_some())?;

    let events = if plugins.may_have_hooks() {
        let image = store.find_image(record.image_id.hex())?;
        let wit_image = convert::image(&record.image, &image, &image_config(store, &image)?);
        Events::new(plugins.load()?, &record.id, &record.name, &wit_image, &spec, &user)
    } else {
        None
    };

    // A rootless sbx has no cgroup (its spec has no limits: see spec::check_rootless), nor has a
    // container run with --cgroups=disabled (see spec::Cgroups).
    let rootless = rootless::is_active();
    let own_cgroup = !rootless && spec.cgroups.is_enabled();
    let hierarchies = match own_cgroup {
        true => cgroup::hierarchies(Path::new("/sys/fs/cgroup"), spec.limits.cpuset_cpus.is_some()),
        false => Vec::new(),
    };
    // /sys/fs/cgroup as its cgroup namespace shows it, with the hierarchies it has a cgroup in;
    // not in a user namespace (v1's cgroup filesystem cannot be mounted there; a rootless sbx has
    // no cgroup to show).
    let cgroup_fs = spec
        .cgroup_mount
        .filter(|_| own_cgroup && record.idmap.is_none())
        .map(|m| cgroup::within(cgroup::container_fs(m.read_only), &hierarchies));
    let make_cgroup = |launching: &mut Launching| -> Result<(), RunError> {
        launching.made(Cgroup::create(&hierarchies, &record.id)?.keep_parents());
        launching.cgroup().set_limits(&spec.limits)?;
        if own_cgroup {
            launching.cgroup().set_devices(&security::device_rules(&spec.devices, spec.privileged))?;
        }
        Ok(())
    };
    let start_error = |e| RunError::Spawn(SpawnError::Start(e));
    let null = match opts.interactive || spec.terminal || opts.stdin.is_some() {
        true => None,
        false => Some(spawn::dev_null().map_err(start_error)?),
    };
    let console = if spec.terminal { Some(terminal::pair().map_err(start_error)?) } else { None };
    let sources = (record.idmap.is_some() || rootless)
        .then(|| userns_sources(record.idmap.as_ref(), &layers, &spec.devices))
        .transpose()?;
    // On v1 the child joins its cgroup by writing to its `tasks` files, so the cgroup can be made
    // while the child makes its mounts (it pauses before pivot_root to join): the two cores do
    // both at once. Not in a user namespace, whose root may not open those files.
    let later = !hierarchies.is_empty() && !cgroup::unified(&hierarchies) && sources.is_none();
    let mut launching = Launching::without_cgroup();
    let entry = match later {
        true => None,
        false => {
            make_cgroup(&mut launching)?;
            Some(launching.cgroup().entry()?)
        }
    };
    let (clone_into, cgroup_tasks) = entry.as_ref().map_or((None, Vec::new()), cgroup::Entry::raw);
    let cgroup_tasks_later = match later {
        true => cgroup::tasks_files(&hierarchies, &record.id).iter().map(cstr).collect(),
        false => Vec::new(),
    };
    let prepared = Prepared {
        stdin: opts.stdin.or(null.as_ref().map(|f| f.as_raw_fd())),
        stdout: opts.stdout,
        stderr: opts.stderr,
        cgroup_tasks,
        cgroup_tasks_later,
        // Mounted once the cgroup is joined and the cgroup namespace made (after the pause when
        // it is joined `later`).
        cgroup_fs,
        binds: binds.iter().map(|b| (b.fd.as_raw_fd(), b.is_dir)).collect(),
        files: files
            .iter()
            .map(|(b, at)| (b.fd.as_raw_fd(), at.to_string(), false))
            .chain(joined.shm.as_ref().map(|b| (b.fd.as_raw_fd(), "/dev/shm".to_string(), b.is_dir)))
            .collect(),
        pause_before_pivot: false,
        // The prestart hooks run at the pause, and the kernel parameters are set then.
        pause_before_exec: events.is_some() || !spec.sysctls.is_empty(),
        exec_fifo: None,
        terminal: console.as_ref().map(|(_, child_end)| (child_end.as_raw_fd(), terminal::size())),
        seccomp: process::seccomp_program(&store.seccomp_cache(), &spec)?,
        userns: sources.as_ref().map(|(idmapped, devices)| UsernsRootfs {
            dir: dir.clone(),
            layers: idmapped.iter().map(AsRawFd::as_raw_fd).collect(),
            devices: devices.iter().map(AsRawFd::as_raw_fd).collect(),
        }),
        preserve_fds: 0,
        joins: joined
            .ipc
            .as_ref()
            .map(|fd| (fd.as_raw_fd(), libc::CLONE_NEWIPC))
            .into_iter()
            .chain(netns.as_ref().map(|fd| (fd.as_raw_fd(), libc::CLONE_NEWNET)))
            .collect(),
    };
    // A container in a user namespace has a directory for the overlay (see create's make_dirs);
    // the others mount it on their own directory.
    let rootfs = if sources.is_some() { dir.join(super::create::ROOTFS) } else { dir.clone() };
    let process_dirs = Dirs { upper: dir.join("upper"), work: dir.join("work"), rootfs, bundle: false, volatile: rm };
    let plan = process::child_plan(&spec, &user, layers, process_dirs, &prepared, kernel)?;
    let in_pid_ns = PidNsForChildren::enter(joined.pid.as_ref()).map_err(|e| RunError::Join {
        flag: "pid",
        name: spec.pid.container().unwrap_or_default().to_string(),
        why: e.to_string(),
    })?;
    let joined_net = if netns.is_some() { libc::CLONE_NEWNET as u64 } else { 0 };
    let flags = clone_flags(&spec, record.idmap.is_some()) & !joined_net;
    plugins.keep_from_children();
    launching.spawned(spawn::spawn(&plan, flags, clone_into, &Linux)?);
    drop((in_pid_ns, null, entry, binds, files, sources, joined));
    let pid = launching.child().pid;
    if let Some(map) = &record.idmap {
        // The child waits for its first go: its ids mean nothing in its namespace until then.
        userns::write_maps(pid, map)?;
    }
    let console = console.map(|(ours, _)| ours);
    // Before it runs, so that its first instruction finds its network there. On an error it is
    // detached (its veth deleted, its addresses given back) as the child is killed.
    let attached;
    let mut progress = match later {
        true => {
            launching.child().release()?;
            make_cgroup(&mut launching)?;
            attached = network::attach(store, &record, &spec, pid.as_raw(), netns.take())?;
            match launching.child().progress() {
                Ok(Progress::Mounted) => launching.child().advance(),
                other => other,
            }
        }
        false => {
            attached = network::attach(store, &record, &spec, pid.as_raw(), netns.take())?;
            launching.child().advance()
        }
    };
    if let Ok(Progress::Ready) = progress {
        set_sysctls(pid.as_raw(), &spec.sysctls).map_err(|(key, source)| RunError::Sysctl { key, source })?;
        fire(&events, Event::Prestart, Now { pid: Some(pid.as_raw()), ..Now::created() })?;
        progress = launching.child().advance();
    }
    match progress {
        // The admission's plugin instances are freed beside the container now, not before it.
        Ok(Progress::Running) => plugins.free_retired(),
        Ok(Progress::Failed(f)) => return Err(process::describe_failure(&plan, f, &spec)),
        Ok(Progress::Ready | Progress::Waiting | Progress::Mounted) => {
            return Err(RunError::Spawn(SpawnError::Start(std::io::Error::other("the child paused twice"))));
        }
        Err(e) => return Err(RunError::Spawn(e)),
    }
    let master = console.as_ref().map(terminal::receive).transpose().map_err(start_error)?;
    let (child, cgroup) = launching.running();
    if opts.sig_proxy {
        signals::forward_to(pid.as_raw());
    }
    record.status = Status::Running;
    record.pid = Some(child.pid.as_raw());
    record.started = Some(crate::time::now_rfc3339());
    record.exit_code = None;
    record.finished = None;
    // The container runs whatever happens to its record: a failed write is only reported.
    let saved = if rm { record.save_transient(&dir) } else { record.save(&dir) };
    if let Err(e) = saved {
        warn(e);
    }
    starting.done();
    state::journal(store.root(), &record, "start", &[]);
    let now = Now { status: Status::Running, pid: record.pid, ..Now::created() };
    fire(&events, Event::Poststart, now).unwrap_or_else(warn);
    if !spec.pid.is_private() {
        kill_rest_on_exit(child.pid.as_raw(), cgroup.dirs().to_vec());
    }
    if let Some(check) = spec.healthcheck.clone() {
        super::health::watch(store.root(), &dir, &record, child.pid.as_raw(), check);
    }
    Ok(Launched {
        record,
        dir,
        store,
        rm,
        shares_pid: !spec.pid.is_private(),
        child,
        cgroup,
        events,
        master,
        network: attached,
        _running: running,
        _volumes: anonymous,
        _remove: remove,
    })
}

/// For a container whose PID namespace is not its own: a thread that, when its first process ends,
/// kills what is left in its cgroup, as runc does, so that whoever copies its output until the
/// last writer closes it sees the end.
fn kill_rest_on_exit(pid: i32, dirs: Vec<PathBuf>) {
    let Some(fd) = crate::sys::wait::pidfd(pid) else { return };
    std::thread::spawn(move || {
        while !crate::sys::wait::readable(&fd, std::time::Duration::from_secs(3600)) {}
        cgroup::kill_all(&dirs);
    });
}

impl Launched<'_> {
    /// The master side of the container's terminal, when it has one (`-t`).
    pub fn take_terminal(&mut self) -> Option<OwnedFd> {
        self.master.take()
    }

    /// Waits for the container's process, tells the hooks and records how it ended.
    pub fn wait(self) -> Result<i32, RunError> {
        // Locals drop in reverse order: `_remove`, `_volumes`, then `_running`, as the fields do.
        let Launched {
            mut record,
            store,
            dir,
            rm,
            shares_pid,
            child,
            cgroup,
            events,
            master,
            network,
            _running,
            _volumes,
            _remove,
        } = self;
        drop(master);
        let exit = child.wait();
        if shares_pid {
            cgroup::kill_all(cgroup.dirs());
        }
        drop(network);
        signals::stop();
        let oom_killed = cgroup.oom_killed();
        cgroup.remove()?;
        let ended =
            Now { status: Status::Exited, pid: None, exit_code: Some(exit.code), signal: exit.signal, oom_killed };
        fire(&events, Event::Exit, ended).unwrap_or_else(warn);
        // `sbx rename` may have renamed it while it ran.
        if let Some(now) = ContainerRecord::load(&dir) {
            record.name = now.name;
        }
        let code = exit.code.to_string();
        state::journal(store.root(), &record, "die", &[("exitCode", &code)]);
        if rm {
            fire(&events, Event::Remove, ended).unwrap_or_else(warn);
            state::journal(store.root(), &record, "destroy", &[]);
        } else {
            record.status = Status::Exited;
            record.exit_code = Some(exit.code);
            record.oom_killed = oom_killed;
            record.pid = None;
            record.finished = Some(crate::time::now_rfc3339());
            record.save(&dir)?;
        }
        Ok(exit.code)
    }
}
