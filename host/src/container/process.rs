//! The child's plan for a container, from its spec: namespaces and cgroup, the mounts, the working
//! directory, rlimits, stdio or a terminal, capabilities and ids, no_new_privs and seccomp, the
//! init, and the exec. Pure apart from reading the kernel version and sbx's own bounding set (and
//! the seccomp cache); and the reading of a failed step back into an error the user can act on.

use super::error::RunError;
use crate::isolate::child::{Exec, Phase};
use crate::isolate::seccomp;
use crate::isolate::{ChildPlan, Failure, ProcOp};
use crate::rootfs::plan::{CgroupFs, UsernsRootfs, cstr};
use crate::rootfs::{self, RootfsSpec, UserMount};
use crate::spec::caps;
use crate::spec::security::{self, Seccomp, SecurityError};
use crate::spec::user::User;
use crate::spec::{self, ContainerSpec, SpecError};
use nix::errno::Errno;
use std::ffi::CString;
use std::path::{Path, PathBuf};

/// Where the container's writable layer and root live.
pub struct Dirs {
    pub upper: PathBuf,
    pub work: PathBuf,
    pub rootfs: PathBuf,
    /// `rootfs` is an OCI bundle's root, used as it is (no layers, no overlay).
    pub bundle: bool,
    /// The writable layer goes with the container (`--rm`).
    pub volatile: bool,
}

/// What the parent prepared for the child: descriptors it inherits.
pub struct Prepared {
    /// stdin from /dev/null when not interactive.
    pub stdin: Option<i32>,
    /// stdout and stderr into the monitor's pipes when detached (else sbx's own).
    pub stdout: Option<i32>,
    pub stderr: Option<i32>,
    /// v1 `tasks` files to join (v2 joins at clone).
    pub cgroup_tasks: Vec<i32>,
    /// Or the paths of v1 `tasks` files to join once the mounts are made: the parent makes the
    /// cgroup while the child mounts (it pauses before pivot_root for that).
    pub cgroup_tasks_later: Vec<CString>,
    /// Detached mount trees for the spec's bind mounts, in order, with whether each is a directory.
    pub binds: Vec<(i32, bool)>,
    /// Files of sbx's own mounted after them (its /etc/hosts...; see [`super::etc_files`]; the
    /// /dev/shm of a shared IPC namespace): a detached mount tree, where it goes, and whether it
    /// is a directory.
    pub files: Vec<(i32, String, bool)>,
    /// Stop before pivot_root for the bundle's hooks (see [`ChildPlan::pause_before_pivot`]).
    pub pause_before_pivot: bool,
    /// Stop before exec for the prestart hooks.
    pub pause_before_exec: bool,
    /// A container of the runtime CLI: it outlives this sbx (no parent death signal) and waits on
    /// this fifo for `start` (see [`ChildPlan::exec_fifo`]).
    pub exec_fifo: Option<CString>,
    /// `-t`: the socket the terminal's master goes back on, and the window size (rows, columns).
    pub terminal: Option<(i32, (u16, u16))>,
    /// The seccomp program ([`seccomp_program`]); None when unconfined.
    pub seccomp: Option<Vec<u64>>,
    /// The cgroup filesystem to mount at /sys/fs/cgroup (a bundle's; see [`CgroupFs`]).
    pub cgroup_fs: Option<CgroupFs>,
    /// In a user namespace (`--userns=auto`, rootless): the layers and devices as detached mounts
    /// (see [`UsernsRootfs`]).
    pub userns: Option<UsernsRootfs>,
    /// `--preserve-fds N`: descriptors 3 to 3+N-1 pass to the process (the engine's, e.g. sockets
    /// of socket activation).
    pub preserve_fds: u32,
    /// Namespaces to join first (a bundle's `linux.namespaces[].path`): open descriptors and
    /// their clone flags. The PID namespace is not among them (the parent enters it for clone).
    pub joins: Vec<(i32, i32)>,
}

fn cstrings(v: &[String]) -> Result<Vec<CString>, RunError> {
    v.iter().map(|s| CString::new(s.as_str()).map_err(|_| RunError::Spec(SpecError::BadEnv(s.clone())))).collect()
}

fn user_mounts(spec: &ContainerSpec, binds: &[(i32, bool)], files: &[(i32, String, bool)]) -> Vec<UserMount> {
    let mut binds = binds.iter();
    let files =
        files.iter().map(|(fd, at, is_dir)| UserMount::Bind { fd: *fd, destination: at.clone(), is_dir: *is_dir });
    spec.mounts
        .iter()
        .filter_map(|m| match m.kind {
            spec::MountKind::Bind => binds.next().map(|(fd, is_dir)| UserMount::Bind {
                fd: *fd,
                destination: m.destination.clone(),
                is_dir: *is_dir,
            }),
            spec::MountKind::Tmpfs => Some(UserMount::Tmpfs {
                destination: m.destination.clone(),
                read_only: m.read_only,
                options: m.options.clone(),
            }),
        })
        .chain(files)
        .collect()
}

pub fn child_plan(
    spec: &ContainerSpec,
    user: &User,
    layers: Vec<PathBuf>,
    dirs: Dirs,
    prepared: &Prepared,
    kernel: (u32, u32),
) -> Result<ChildPlan, RunError> {
    let mut before = match prepared.exec_fifo {
        Some(_) => vec![ProcOp::reset_signals()],
        None => vec![ProcOp::DieWithParent, ProcOp::reset_signals()],
    };
    before.extend(prepared.joins.iter().map(|(fd, nstype)| ProcOp::Setns { fd: *fd, nstype: *nstype }));
    let joins = |flag: i32| prepared.joins.iter().any(|(_, f)| *f == flag);
    before.extend(prepared.cgroup_tasks.iter().map(|fd| ProcOp::JoinCgroup(*fd)));
    let mut at_pivot: Vec<ProcOp> = prepared.cgroup_tasks_later.iter().cloned().map(ProcOp::JoinCgroupAt).collect();
    if !joins(libc::CLONE_NEWCGROUP) {
        // Once in the cgroup.
        match at_pivot.is_empty() {
            true => before.push(ProcOp::UnshareCgroup),
            false => at_pivot.push(ProcOp::UnshareCgroup),
        }
    }
    if spec.network.is_own() && !joins(libc::CLONE_NEWNET) {
        before.push(ProcOp::LoopbackUp);
    }
    // No hostname keeps the one the new UTS namespace copied, as runc does for a bundle without.
    if !spec.hostname.is_empty() {
        let name = CString::new(spec.hostname.as_str()).map_err(|_| SpecError::BadEnv(spec.hostname.clone()))?;
        before.push(ProcOp::Sethostname(name));
    }
    let rootfs = RootfsSpec {
        layers,
        upper: dirs.upper,
        work: dirs.work,
        target: dirs.rootfs,
        bundle: dirs.bundle,
        mounts: user_mounts(spec, &prepared.binds, &prepared.files),
        masked: spec.masked_paths.clone(),
        read_only: spec.read_only_paths.clone(),
        read_only_root: spec.read_only_rootfs,
        nodev_root: !spec.cgroups.is_enabled() && !spec.privileged,
        devices: spec
            .devices
            .iter()
            .map(|d| {
                let dev = nix::sys::stat::makedev(d.major.into(), d.minor.into());
                (PathBuf::from(&d.container_path), d.mode, dev)
            })
            .collect(),
        userns: prepared.userns.clone(),
        volatile: dirs.volatile,
        cgroup_fs: prepared.cgroup_fs.clone(),
        pause_at_cgroup_fs: !prepared.cgroup_tasks_later.is_empty(),
        shm_size: spec.shm_size,
    };
    let mounts = rootfs::plan(&rootfs, kernel)?;
    let mut after = Vec::new();
    // Docker creates a missing working directory; each level is made in turn, in the container.
    let mut partial = PathBuf::from("/");
    for comp in Path::new(&spec.cwd).components().skip(1) {
        partial.push(comp);
        after.push(ProcOp::Mkdir(cstr(&partial)));
    }
    after.push(ProcOp::Chdir(cstr(&spec.cwd)));
    for u in &spec.ulimits {
        let resource =
            security::resource_of(&u.name).ok_or_else(|| SpecError::from(SecurityError::BadUlimit(u.name.clone())))?;
        after.push(ProcOp::Rlimit { resource: resource as i32, soft: u.soft, hard: u.hard });
    }
    after.extend(stdio(prepared.terminal, [prepared.stdin, prepared.stdout, prepared.stderr], user));
    after.extend(become_user(spec, user, prepared.seccomp.clone(), prepared.preserve_fds)?);
    let exec = exec_of(spec, user)?;
    let exec_fifo = prepared.exec_fifo.clone();
    Ok(ChildPlan {
        before,
        mounts,
        pause_before_pivot: prepared.pause_before_pivot || !at_pivot.is_empty(),
        at_pivot,
        after,
        exec,
        pause_before_exec: prepared.pause_before_exec,
        exec_fifo,
    })
}

/// The process's stdin, stdout and stderr: a new terminal (given the socket its master goes back
/// on and the window size), or the descriptors the parent prepared (None: sbx's own).
pub fn stdio(terminal: Option<(i32, (u16, u16))>, fds: [Option<i32>; 3], user: &User) -> Vec<ProcOp> {
    if let Some((socket, (rows, cols))) = terminal {
        return vec![ProcOp::Terminal { socket, uid: user.uid, rows, cols }];
    }
    (0..3).filter_map(|to| fds[to as usize].map(|from| ProcOp::Redirect { from, to })).collect()
}

/// The last steps before exec, for a container's process and an exec's alike: the bounding set cut
/// to the spec's capabilities, the user's ids, the capabilities again (root keeps its capabilities
/// across the id change, other users lose them, as with docker), no inherited descriptor,
/// no_new_privs and the seccomp filter, and with `--init` the fork that stays as PID 1.
///
/// The filter comes as late as it can, so it need not allow sbx's own setup; without no_new_privs
/// the kernel only takes a filter from a process with CAP_SYS_ADMIN, so it then comes first.
pub fn become_user(
    spec: &ContainerSpec,
    user: &User,
    seccomp: Option<Vec<u64>>,
    preserve_fds: u32,
) -> Result<Vec<ProcOp>, RunError> {
    // What sbx itself may not have (CAP_SYS_RESOURCE on some hosts) it cannot give: ALL and
    // --privileged mean every capability sbx has.
    let caps = caps::mask(&spec.capabilities).map_err(SpecError::from)? & caps::own("CapBnd");
    // Within the bounding set, so that a policy's drop drops them too.
    let inheritable = caps::mask(&spec.inheritable_capabilities).map_err(SpecError::from)? & caps;
    let ambient = caps::mask(&spec.ambient_capabilities).map_err(SpecError::from)? & caps & inheritable;
    let filter = seccomp.map(ProcOp::Seccomp);
    let mut ops = Vec::new();
    if !spec.no_new_privileges {
        ops.extend(filter.clone());
    }
    ops.push(ProcOp::DropBounding(caps));
    // Another user keeps only ambient capabilities across exec: it needs them permitted first.
    let keeps = user.uid != 0 && ambient != 0;
    if keeps {
        ops.push(ProcOp::KeepCaps);
    }
    ops.push(ProcOp::SetIds { uid: user.uid, gid: user.gid, groups: user.groups.clone() });
    if user.uid == 0 || keeps {
        ops.push(ProcOp::SetCaps { caps, inheritable });
    }
    if ambient != 0 {
        ops.push(ProcOp::RaiseAmbient(ambient));
    }
    // Descriptors 3 to 3+preserve_fds-1 are the engine's, for the process (`--preserve-fds`).
    ops.push(ProcOp::CloexecFrom(3 + preserve_fds));
    if spec.no_new_privileges {
        ops.push(ProcOp::NoNewPrivs);
        ops.extend(filter);
    }
    if spec.init {
        ops.push(ProcOp::Init);
    }
    Ok(ops)
}

/// The spec's seccomp filter compiled for its capabilities and this kernel (cached in `cache`);
/// None when unconfined.
pub fn seccomp_program(cache: &Path, spec: &ContainerSpec) -> Result<Option<Vec<u64>>, RunError> {
    let profile = match &spec.seccomp {
        Seccomp::Unconfined => return Ok(None),
        Seccomp::Default => None,
        Seccomp::Profile(p) => Some(p.as_ref()),
    };
    Ok(Some(seccomp::compile_cached(
        cache,
        profile,
        &spec.capabilities,
        running_kernel(),
        seccomp::kernel_serves_x32(),
    )?))
}

/// The spec's program, argv and environment, ready for the child; HOME is the user's home unless
/// the spec sets it (given when the process starts, as docker does, so it is not part of the
/// container's config that `commit` keeps).
pub fn exec_of(spec: &ContainerSpec, user: &User) -> Result<Exec, RunError> {
    let path = spec::get_env(&spec.env, "PATH").unwrap_or(spec::DEFAULT_PATH);
    let mut env = spec.env.clone();
    if spec::get_env(&env, "HOME").is_none() {
        spec::set_env(&mut env, "HOME", &user.home);
    }
    Ok(Exec::new(cstrings(&spec::exec_candidates(&spec.args[0], path))?, cstrings(&spec.args)?, cstrings(&env)?))
}

pub fn describe_failure(plan: &ChildPlan, f: Failure, spec: &ContainerSpec) -> RunError {
    let step = match f.phase {
        Phase::Before => plan.before.get(f.index).map(ToString::to_string),
        Phase::Mounts => plan.mounts.get(f.index).map(ToString::to_string),
        Phase::After => plan.after.get(f.index).map(ToString::to_string),
        Phase::AtPivot => plan.at_pivot.get(f.index).map(ToString::to_string),
        Phase::Exec => {
            let arg0 = spec.args[0].clone();
            return match f.errno {
                Errno::ENOENT if !arg0.contains('/') => RunError::NotFound(arg0),
                errno => RunError::CannotExec { program: arg0, errno },
            };
        }
    };
    let hint = match f.phase {
        Phase::Mounts => plan.mounts.get(f.index).and_then(|op| rootfs::plan::explain(op, f.errno)),
        _ => None,
    };
    RunError::Setup {
        step: step.unwrap_or_else(|| "an unknown step".into()),
        errno: f.errno,
        hint: hint.map(|h| format!(" ({h})")).unwrap_or_default(),
    }
}

/// The running kernel's (major, minor), which decides how the overlay is mounted.
/// `SBX_OVERLAY_MOUNT=legacy` forces the single mount(2) call older kernels get (for
/// troubleshooting, and so the tests exercise that path on any kernel).
pub fn kernel() -> (u32, u32) {
    if std::env::var_os("SBX_OVERLAY_MOUNT").is_some_and(|v| v == "legacy") {
        return (0, 0);
    }
    running_kernel()
}

fn running_kernel() -> (u32, u32) {
    nix::sys::utsname::uname().map_or((0, 0), |u| rootfs::kernel_version(&u.release().to_string_lossy()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Overrides, build};
    use crate::sys::fake::Recorder;

    fn plan_for(o: Overrides, uid: u32) -> ChildPlan {
        plan_with(o, uid, vec![])
    }

    fn plan_with(o: Overrides, uid: u32, cgroup_tasks_later: Vec<CString>) -> ChildPlan {
        let spec = build("img", None, &Overrides { cmd: vec!["sh".into()], ..o }, "h", |_| None).unwrap();
        let user = User { uid, gid: uid, groups: vec![], home: "/".into() };
        let dirs = Dirs { upper: "/u".into(), work: "/w".into(), rootfs: "/r".into(), bundle: false, volatile: false };
        let prepared = Prepared {
            stdin: None,
            stdout: None,
            stderr: None,
            cgroup_tasks: vec![],
            cgroup_tasks_later,
            cgroup_fs: None,
            binds: vec![],
            files: vec![],
            pause_before_pivot: false,
            pause_before_exec: false,
            exec_fifo: None,
            terminal: None,
            seccomp: None,
            userns: None,
            preserve_fds: 0,
            joins: Vec::new(),
        };
        child_plan(&spec, &user, vec!["/l".into()], dirs, &prepared, (6, 8)).unwrap()
    }

    fn after(plan: &ChildPlan) -> Vec<String> {
        let rec = Recorder::default();
        for op in &plan.after {
            let _ = crate::isolate::child::setup(
                &ChildPlan {
                    before: vec![],
                    mounts: vec![],
                    at_pivot: vec![],
                    after: vec![op.clone()],
                    exec: Exec::new(vec![], vec![], vec![]),
                    pause_before_pivot: false,
                    pause_before_exec: false,
                    exec_fifo: None,
                },
                &rec,
                &|| {},
            );
        }
        rec.lines()
    }

    #[test]
    fn a_cgroup_made_meanwhile_is_joined_at_the_pause_before_the_cgroup_filesystem() {
        let tasks = CString::new("/sys/fs/cgroup/pids/sbx/c/tasks").unwrap();
        let plan = plan_with(Overrides::default(), 0, vec![tasks.clone()]);
        assert!(plan.pause_before_pivot);
        assert_eq!(plan.at_pivot, [ProcOp::JoinCgroupAt(tasks), ProcOp::UnshareCgroup]);
        assert!(!plan.before.contains(&ProcOp::UnshareCgroup), "the namespace is made once in the cgroup");
        let rec = Recorder::default();
        let paused = std::cell::Cell::new(0);
        crate::isolate::child::setup(&plan, &rec, &|| paused.set(rec.lines().len())).unwrap();
        let lines = rec.lines();
        let join = lines.iter().position(|l| l == "join_cgroup /sys/fs/cgroup/pids/sbx/c/tasks").unwrap();
        assert!(lines[..join].iter().any(|l| l.starts_with("overlay")), "after the mounts: {lines:?}");
        assert_eq!((paused.get(), lines[join + 1].as_str()), (join, "unshare 0x2000000"), "{lines:?}");
        assert_eq!(lines[join - 1], "mount sysfs /sys! 0xf ", "where /sys/fs/cgroup would be mounted next");
        assert!(lines[join..].iter().any(|l| l.starts_with("pivot_root")));

        let rec = Recorder { fail_on: vec![("join_cgroup".into(), Errno::ENOENT)], ..Default::default() };
        let failure = crate::isolate::child::setup(&plan, &rec, &|| {}).unwrap_err();
        assert_eq!(failure, (Phase::AtPivot, 0, Errno::ENOENT));
        assert!(!rec.lines().iter().any(|l| l.starts_with("pivot_root")));
    }

    #[test]
    fn root_gets_exactly_the_spec_capabilities_after_the_id_change() {
        let lines = after(&plan_for(
            Overrides { cap_drop: vec!["ALL".into()], cap_add: vec!["KILL".into()], ..Default::default() },
            0,
        ));
        let at = |p: &str| lines.iter().position(|l| l.starts_with(p)).unwrap_or_else(|| panic!("{p} in {lines:?}"));
        assert_eq!(lines[at("drop_bounding")], "drop_bounding keep=0x20");
        assert!(at("drop_bounding") < at("set_ids") && at("set_ids") < at("set_caps"));
        assert_eq!(lines[at("set_caps")], "set_caps 0x20");
    }

    #[test]
    fn other_users_get_no_capabilities() {
        let lines = after(&plan_for(Overrides::default(), 1000));
        assert!(lines.iter().any(|l| l.starts_with("drop_bounding")));
        assert!(!lines.iter().any(|l| l.starts_with("set_caps")), "{lines:?}");
    }

    #[test]
    fn another_user_keeps_its_ambient_capabilities_through_the_id_change() {
        let user = User { uid: 1000, gid: 1000, groups: vec![], home: "/".into() };
        let spec = ContainerSpec {
            capabilities: vec!["CAP_KILL".into(), "CAP_NET_BIND_SERVICE".into()],
            inheritable_capabilities: vec!["CAP_NET_BIND_SERVICE".into()],
            ambient_capabilities: vec!["CAP_NET_BIND_SERVICE".into()],
            ..build("img", None, &Overrides { cmd: vec!["sh".into()], ..Default::default() }, "h", |_| None).unwrap()
        };
        let ops: Vec<String> = become_user(&spec, &user, None, 0).unwrap().iter().map(ToString::to_string).collect();
        let lines = ops.iter().map(String::as_str).collect::<Vec<_>>();
        assert_eq!(
            lines[..5],
            [
                "drop capabilities from the bounding set",
                "keep capabilities across the id change",
                "switch to user 1000:1000",
                "set the capabilities",
                "raise the ambient capabilities"
            ]
        );
        let ops = become_user(&spec, &user, None, 0).unwrap();
        assert!(ops.contains(&ProcOp::SetCaps { caps: 0x420, inheritable: 0x400 }), "{ops:?}");
        assert!(ops.contains(&ProcOp::RaiseAmbient(0x400)), "{ops:?}");
        // An ambient capability the bounding set no longer has (a policy dropped it) is not raised.
        let dropped = ContainerSpec { capabilities: vec!["CAP_KILL".into()], ..spec };
        let ops = become_user(&dropped, &user, None, 0).unwrap();
        assert!(!ops.iter().any(|o| matches!(o, ProcOp::RaiseAmbient(_) | ProcOp::KeepCaps)), "{ops:?}");
    }

    #[test]
    fn a_terminal_replaces_the_redirects_and_the_init_forks_last() {
        let user = User { uid: 1000, gid: 1000, groups: vec![], home: "/".into() };
        let ops = stdio(Some((7, (40, 100))), [Some(3), Some(4), Some(5)], &user);
        assert_eq!(ops, [ProcOp::Terminal { socket: 7, uid: 1000, rows: 40, cols: 100 }]);
        let ops = stdio(None, [Some(3), None, Some(5)], &user);
        assert_eq!(ops, [ProcOp::Redirect { from: 3, to: 0 }, ProcOp::Redirect { from: 5, to: 2 }]);
        let lines = after(&plan_for(Overrides { init: true, ..Default::default() }, 0));
        assert_eq!(lines.last().map(String::as_str), Some("become_init"), "{lines:?}");
        let lines = after(&plan_for(Overrides::default(), 0));
        assert!(!lines.iter().any(|l| l == "become_init"), "{lines:?}");
    }

    #[test]
    fn masks_and_read_only_paths_are_in_the_mount_plan() {
        let plan = plan_for(Overrides { read_only: true, ..Default::default() }, 0);
        let ops: Vec<String> = plan.mounts.iter().map(ToString::to_string).collect();
        assert!(ops.contains(&"mask /proc/kcore".to_string()));
        assert!(ops.contains(&"make /proc/sysrq-trigger read-only".to_string()));
        assert_eq!(ops[ops.len() - 2], "make / read-only");
    }
}
