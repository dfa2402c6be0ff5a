//! `sbx exec`: a new process in a running container: its namespaces (mount, PID, UTS, IPC,
//! network, cgroup), its cgroup, its capabilities and user, with the container's environment plus
//! `-e`. The exec is a spec check of its own: the policies see the container's spec with the exec's
//! command, user and environment, and may refuse it.

use super::admission;
use super::error::RunError;
use super::layers;
use super::process;
use super::state;
use super::terminal;
use crate::image::Store;
use crate::isolate::cgroup;
use crate::isolate::spawn::{self, SpawnError};
use crate::isolate::{ChildPlan, ProcOp, Progress};
use crate::layer::fsops;
use crate::plugin::spec_check::SpecDecision;
use crate::plugin::{PluginSet, convert};
use crate::rootfs::plan::cstr;
use crate::spec::{self, ContainerSpec, SpecError, security, user};
use crate::sys::linux::Linux;
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub cmd: Vec<String>,
    /// `-e K=V`, or `-e K` to take K from sbx's own environment.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub interactive: bool,
    /// `-t`: a terminal of its own in the container's /dev/pts.
    pub tty: bool,
    /// `-d`: started, not waited for; its output goes nowhere.
    pub detach: bool,
}

/// The container's spec as the exec runs it. Pure.
pub fn exec_spec(
    mut spec: ContainerSpec,
    o: &ExecOptions,
    host_env: impl Fn(&str) -> Option<String>,
) -> Result<ContainerSpec, SpecError> {
    if o.cmd.is_empty() {
        return Err(SpecError::NoCommand);
    }
    spec.args = o.cmd.clone();
    spec.terminal = o.tty;
    spec.init = false;
    spec::apply_env_flags(&mut spec.env, &o.env, host_env)?;
    if let Some(w) = &o.workdir {
        if !w.starts_with('/') {
            return Err(SpecError::RelativeWorkdir(w.clone()));
        }
        spec.cwd = w.clone();
    }
    if let Some(u) = &o.user {
        spec.user = u.clone();
    }
    Ok(spec)
}

/// Runs `opts.cmd` in the running container `query` names; returns its exit code.
pub fn exec(store: &Store, query: &str, opts: &ExecOptions, plugins: &PluginSet) -> Result<i32, RunError> {
    let (dir, record) = state::find(store, query)?;
    let pid = match (record.pid, state::live(&dir, &record)) {
        (_, state::Live::Paused) => return Err(RunError::Paused(record.name)),
        (Some(pid), state::Live::Running) => pid,
        _ => return Err(RunError::NotRunning(record.name)),
    };
    let spec = state::load_spec(&dir).ok_or_else(|| RunError::NoSpec(record.name.clone()))?;
    let mut spec = exec_spec(spec, opts, |k| std::env::var(k).ok())?;
    // The container's own files name its users, read beneath its root (the container may have
    // made them links to the host's files, FIFOs or /dev/zero).
    let root = File::open(Path::new("/proc").join(pid.to_string()).join("root"))
        .map_err(|_| RunError::NotRunning(record.name.clone()))?;
    let read = |rel: &str| -> user::FileText {
        fsops::read_in_root(root.as_fd(), Path::new(rel), layers::LIMIT)
            .map(|b| b.map(|b| String::from_utf8_lossy(&b).into_owned()))
            .map_err(|e| e.to_string())
    };
    let (passwd, group) = (read("etc/passwd"), read("etc/group"));
    drop(root);
    // Policies do not change the groups added (the interface has no field for them).
    let group_add = spec.group_add.clone();
    let resolve = |u: &str| user::resolve_files(u, &passwd, &group, &group_add);
    if !plugins.is_empty() {
        let image = convert::bare_image(&record.image);
        let loaded = plugins.load()?;
        let evaluation = admission::evaluate_spec(&image, &spec, loaded, &resolve);
        admission::end_sessions(loaded);
        match evaluation?.decision {
            SpecDecision::Deny { plugin, reason, .. } => return Err(RunError::Denied { plugin, reason }),
            SpecDecision::Allow { spec: adjusted, .. } => spec = *adjusted,
        }
    }
    let user = resolve(&spec.user)?;

    let target = Target {
        pid,
        name: &record.name,
        cgroup: &cgroup::existing(&record.id),
        own_ids: record.idmap.is_some(),
        seccomp_cache: &store.seccomp_cache(),
    };
    let start_error = |e| RunError::Spawn(SpawnError::Start(e));
    let null = if opts.interactive || opts.tty { None } else { Some(spawn::dev_null().map_err(start_error)?) };
    let null_fd = null.as_ref().map(|f| f.as_raw_fd());
    let console = if opts.tty { Some(terminal::pair().map_err(start_error)?) } else { None };
    let how = How {
        // Detached, it reads and writes nothing of this sbx's, which returns at once.
        stdio: if opts.detach { [null_fd; 3] } else { [null_fd, None, None] },
        terminal: console.as_ref().map(|(_, child_end)| (child_end.as_raw_fd(), terminal::size())),
        outlives_sbx: opts.detach,
        preserve_fds: 0,
    };
    let (mut child, plan) = spawn_in(&target, &mut spec, &user, &how)?;
    drop(null);
    let console = console.map(|(ours, _)| ours);
    match child.advance() {
        Ok(Progress::Running) if opts.detach => Ok(0),
        Ok(Progress::Running) => {
            let master = console.as_ref().map(terminal::receive).transpose().unwrap_or_else(|e| {
                eprintln!("sbx: warning: {e}");
                None
            });
            let pid = child.pid.as_raw();
            Ok(terminal::while_attached(master, pid, opts.interactive, None, || child.wait().code))
        }
        other => Err(not_running(other, child, &plan, &spec)),
    }
}

/// The error of an exec whose process did not get to run.
pub fn not_running(
    progress: Result<Progress, SpawnError>,
    child: spawn::Spawned,
    plan: &ChildPlan,
    spec: &ContainerSpec,
) -> RunError {
    match progress {
        Ok(Progress::Failed(f)) => {
            child.wait();
            process::describe_failure(plan, f, spec)
        }
        Ok(_) => RunError::Spawn(SpawnError::Start(std::io::Error::other("the child paused"))),
        Err(e) => RunError::Spawn(e),
    }
}

/// The running container an exec joins.
pub struct Target<'a> {
    /// Its first process, whose namespaces are joined.
    pub pid: i32,
    /// Its name, for errors.
    pub name: &'a str,
    /// Its cgroup directories.
    pub cgroup: &'a [PathBuf],
    /// It has a user namespace of its own.
    pub own_ids: bool,
    pub seccomp_cache: &'a Path,
}

/// How the exec's process is connected.
pub struct How {
    /// stdin, stdout and stderr (else the caller's own).
    pub stdio: [Option<i32>; 3],
    /// A new terminal: the socket its master goes on, and its size.
    pub terminal: Option<(i32, (u16, u16))>,
    /// It outlives this sbx (the runtime CLI's `exec --detach`): no parent death signal.
    pub outlives_sbx: bool,
    /// `--preserve-fds N`: descriptors 3 to 3+N-1 pass to the process.
    pub preserve_fds: u32,
}

/// Creates the exec's process in `target`'s namespaces and cgroup, as `user`, as `spec` says
/// (its HOME set from the user when unset); the caller advances it.
pub fn spawn_in(
    target: &Target,
    spec: &mut ContainerSpec,
    user: &user::User,
    how: &How,
) -> Result<(spawn::Spawned, ChildPlan), RunError> {
    let open = |name: &str| -> Result<OwnedFd, RunError> {
        let path = Path::new("/proc").join(target.pid.to_string()).join("ns").join(name);
        File::open(&path).map(OwnedFd::from).map_err(|_| RunError::NotRunning(target.name.to_string()))
    };
    // A container with ids of its own: its user namespace first, which owns the others; the exec
    // then has its capabilities there and none on the host.
    let user_ns = match target.own_ids {
        true => Some((open("user")?, libc::CLONE_NEWUSER)),
        false => None,
    };
    let joins = [
        (open("ipc")?, libc::CLONE_NEWIPC),
        (open("uts")?, libc::CLONE_NEWUTS),
        (open("net")?, libc::CLONE_NEWNET),
        (open("cgroup")?, libc::CLONE_NEWCGROUP),
        (open("mnt")?, libc::CLONE_NEWNS),
    ];
    // A process cannot move itself into a PID namespace; its next child is born there.
    let pid_ns = open("pid")?;
    nix::sched::setns(&pid_ns, nix::sched::CloneFlags::CLONE_NEWPID)
        .map_err(|e| RunError::Spawn(SpawnError::Start(e.into())))?;
    let entry = cgroup::entry_of(target.cgroup)?;
    let (clone_into, tasks) = entry.raw();

    let mut before = match how.outlives_sbx {
        true => vec![ProcOp::reset_signals()],
        false => vec![ProcOp::DieWithParent, ProcOp::reset_signals()],
    };
    before.extend(tasks.iter().map(|fd| ProcOp::JoinCgroup(*fd)));
    before
        .extend(user_ns.iter().chain(&joins).map(|(fd, nstype)| ProcOp::Setns { fd: fd.as_raw_fd(), nstype: *nstype }));
    if user_ns.is_some() {
        // Host root has no id in the namespace: what it made (a terminal) would belong to nobody.
        before.push(ProcOp::SetIds { uid: 0, gid: 0, groups: Vec::new() });
    }
    let mut after = vec![ProcOp::Chdir(cstr(&spec.cwd))];
    after.extend(process::stdio(how.terminal, how.stdio, user));
    for u in &spec.ulimits {
        let resource = security::resource_of(&u.name)
            .ok_or_else(|| SpecError::from(security::SecurityError::BadUlimit(u.name.clone())))?;
        after.push(ProcOp::Rlimit { resource: resource as i32, soft: u.soft, hard: u.hard });
    }
    let seccomp = process::seccomp_program(target.seccomp_cache, spec)?;
    after.extend(process::become_user(spec, user, seccomp, how.preserve_fds)?);
    let exec = process::exec_of(spec, user)?;
    let plan = ChildPlan {
        before,
        mounts: Vec::new(),
        at_pivot: Vec::new(),
        after,
        exec,
        pause_before_pivot: false,
        pause_before_exec: false,
        exec_fifo: None,
    };
    let child = spawn::spawn(&plan, 0, clone_into, &Linux)?;
    drop((entry, joins, user_ns));
    Ok((child, plan))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Overrides, build};

    #[test]
    fn the_exec_takes_the_containers_spec_with_its_own_command_env_user_and_dir() {
        let base = build(
            "img",
            None,
            &Overrides { cmd: vec!["sleep".into()], env: vec!["A=1".into()], ..Default::default() },
            "h",
            |_| None,
        )
        .unwrap();
        let o = ExecOptions {
            cmd: vec!["ps".into()],
            env: vec!["B=2".into()],
            workdir: Some("/tmp".into()),
            user: Some("1000".into()),
            interactive: false,
            tty: false,
            detach: false,
        };
        let s = exec_spec(base.clone(), &o, |_| None).unwrap();
        assert_eq!(s.args, ["ps"]);
        assert_eq!((spec::get_env(&s.env, "A"), spec::get_env(&s.env, "B")), (Some("1"), Some("2")));
        assert_eq!((s.cwd.as_str(), s.user.as_str()), ("/tmp", "1000"));
        assert_eq!(s.capabilities, base.capabilities);
        let bad = ExecOptions { workdir: Some("tmp".into()), ..o.clone() };
        assert_eq!(exec_spec(base.clone(), &bad, |_| None), Err(SpecError::RelativeWorkdir("tmp".into())));
        assert_eq!(exec_spec(base, &ExecOptions::default(), |_| None), Err(SpecError::NoCommand));
    }
}
