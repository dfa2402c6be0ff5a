//! What the child does between clone and exec, as data the parent prepares, and the loop that does
//! it. The loop runs in a copy of a possibly multi-threaded parent, so it only makes syscalls through
//! [`Syscall`] on strings and pointer arrays made beforehand: no allocation, no locks, no printing.

use crate::rootfs::{self, MountOp};
use crate::sys::Syscall;
use nix::errno::Errno;
use std::ffi::CString;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProcOp {
    DieWithParent,
    /// The signals of the mask back to their default action, and every signal unblocked (see
    /// [`ProcOp::reset_signals`]).
    ResetSignals(u64),
    /// Enter a v1 cgroup through its open `tasks` file (see [`crate::isolate::cgroup`]).
    JoinCgroup(i32),
    /// Enter a v1 cgroup through the path of its `tasks` file: one the parent made while the
    /// child mounted (still in the host's file system, before pivot_root).
    JoinCgroupAt(CString),
    /// The cgroup namespace is made once we are in our cgroup, so that its root is that cgroup.
    UnshareCgroup,
    LoopbackUp,
    Sethostname(CString),
    Mkdir(CString),
    Chdir(CString),
    /// dup2(from, to): stdin from /dev/null when not interactive; stdout and stderr into the
    /// monitor's pipes when detached.
    Redirect {
        from: i32,
        to: i32,
    },
    SetIds {
        uid: u32,
        gid: u32,
        groups: Vec<u32>,
    },
    CloexecFrom(u32),
    /// Join the namespace of a running container that `fd` refers to (`sbx exec`).
    Setns {
        fd: i32,
        nstype: i32,
    },
    /// `-t`: a new terminal as stdin, stdout and stderr; its master goes to the parent over
    /// `socket`; `uid` owns it.
    Terminal {
        socket: i32,
        uid: u32,
        rows: u16,
        cols: u16,
    },
    /// No privileges from exec (setuid bits, file capabilities).
    NoNewPrivs,
    /// Load this seccomp program (8-byte `sock_filter`s).
    Seccomp(Vec<u64>),
    /// setrlimit: resource, soft, hard (`--ulimit`).
    Rlimit {
        resource: i32,
        soft: u64,
        hard: u64,
    },
    /// `--init`: stay as PID 1, reaping and forwarding signals; the fork goes on to exec.
    Init,
    /// Keep only these capabilities (a bit mask) in the bounding set.
    DropBounding(u64),
    /// Permitted and effective capabilities, and the inheritable ones (bit masks), after the ids
    /// changed.
    SetCaps {
        caps: u64,
        inheritable: u64,
    },
    /// Keep the permitted capabilities across the change to a user other than root (to raise
    /// ambient ones after it).
    KeepCaps,
    /// Raise these ambient capabilities (a bit mask).
    RaiseAmbient(u64),
}

impl ProcOp {
    /// Resets the signals sbx ignores or catches as it prepares the child: exec keeps an ignored
    /// signal ignored, and none of sbx's handlers may run in the child before it. The others are
    /// at their default already, and resetting them would be 60 system calls more in the child.
    /// Without /proc, every signal.
    pub fn reset_signals() -> ProcOp {
        let mask = crate::sys::status::own_masks(["SigIgn", "SigCgt"]).map_or(u64::MAX, |[ign, cgt]| ign | cgt);
        ProcOp::ResetSignals(mask)
    }
}

impl fmt::Display for ProcOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcOp::DieWithParent => write!(f, "set the parent death signal"),
            ProcOp::ResetSignals(_) => write!(f, "reset signals"),
            ProcOp::JoinCgroup(_) => write!(f, "join the container's cgroup"),
            ProcOp::JoinCgroupAt(p) => write!(f, "join the container's cgroup through {}", p.to_string_lossy()),
            ProcOp::UnshareCgroup => write!(f, "create the cgroup namespace"),
            ProcOp::LoopbackUp => write!(f, "bring up the loopback interface"),
            ProcOp::Sethostname(h) => write!(f, "set the hostname {}", h.to_string_lossy()),
            ProcOp::Mkdir(p) => write!(f, "create the working directory {}", p.to_string_lossy()),
            ProcOp::Chdir(p) => {
                write!(f, "change to the working directory {}", p.to_string_lossy())
            }
            ProcOp::Redirect { to, .. } => {
                write!(f, "set up {}", ["stdin", "stdout", "stderr"].get(*to as usize).unwrap_or(&"a descriptor"))
            }
            ProcOp::SetIds { uid, gid, .. } => write!(f, "switch to user {uid}:{gid}"),
            ProcOp::CloexecFrom(_) => write!(f, "close inherited file descriptors"),
            ProcOp::DropBounding(_) => write!(f, "drop capabilities from the bounding set"),
            ProcOp::Setns { .. } => write!(f, "join the container's namespaces"),
            ProcOp::SetCaps { .. } => write!(f, "set the capabilities"),
            ProcOp::KeepCaps => write!(f, "keep capabilities across the id change"),
            ProcOp::RaiseAmbient(_) => write!(f, "raise the ambient capabilities"),
            ProcOp::Terminal { .. } => write!(f, "open a terminal in the container's /dev/pts"),
            ProcOp::Init => write!(f, "start the init process (--init)"),
            ProcOp::NoNewPrivs => write!(f, "set no_new_privs"),
            ProcOp::Seccomp(p) => write!(f, "load the seccomp filter ({} instructions)", p.len()),
            ProcOp::Rlimit { resource, soft, hard } => write!(f, "set rlimit {resource} to {soft}:{hard}"),
        }
    }
}

/// The program to run: the candidates are the full paths to try in order (one per PATH entry when
/// the command has no slash), resolved in the child because only it sees the container's files.
pub struct Exec {
    pub candidates: Vec<CString>,
    _argv: Vec<CString>,
    _envp: Vec<CString>,
    argv_ptrs: Vec<*const libc::c_char>,
    envp_ptrs: Vec<*const libc::c_char>,
}

impl Exec {
    pub fn new(candidates: Vec<CString>, argv: Vec<CString>, envp: Vec<CString>) -> Exec {
        let ptrs = |v: &[CString]| v.iter().map(|c| c.as_ptr()).chain(std::iter::once(std::ptr::null())).collect();
        let (argv_ptrs, envp_ptrs) = (ptrs(&argv), ptrs(&envp));
        Exec { candidates, _argv: argv, _envp: envp, argv_ptrs, envp_ptrs }
    }
}

pub struct ChildPlan {
    pub before: Vec<ProcOp>,
    pub mounts: Vec<MountOp>,
    /// Done at the pause before pivot_root (see [`ChildPlan::pause_before_pivot`]).
    pub at_pivot: Vec<ProcOp>,
    pub after: Vec<ProcOp>,
    pub exec: Exec,
    /// Stop before pivot_root until the parent says go (a bundle's prestart, createRuntime and
    /// createContainer hooks run then, as the runtime-spec places them; or the parent makes the
    /// v1 cgroup meanwhile, which `at_pivot` joins).
    pub pause_before_pivot: bool,
    /// Stop between setup and exec until the parent says go (prestart hooks run then).
    pub pause_before_exec: bool,
    /// A container of the runtime CLI: after the pause, it reports that it waits and opens this
    /// fifo for writing (a /proc/self/fd path of a descriptor it inherited), which blocks until
    /// `sbx runtime start` opens it for reading; then it writes a byte and execs.
    pub exec_fifo: Option<CString>,
}

/// Which list a failure happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Phase {
    Before = 0,
    Mounts = 1,
    After = 2,
    Exec = 3,
    AtPivot = 4,
}

impl Phase {
    pub fn from_u32(v: u32) -> Option<Phase> {
        [Phase::Before, Phase::Mounts, Phase::After, Phase::Exec, Phase::AtPivot].into_iter().find(|p| *p as u32 == v)
    }
}

fn apply_proc(op: &ProcOp, sys: &dyn Syscall) -> Result<(), Errno> {
    match op {
        ProcOp::DieWithParent => sys.set_parent_death_signal(libc::SIGKILL),
        ProcOp::ResetSignals(which) => {
            sys.reset_signals(*which);
            Ok(())
        }
        ProcOp::JoinCgroup(fd) => sys.join_cgroup(*fd),
        ProcOp::JoinCgroupAt(path) => sys.join_cgroup_at(path),
        ProcOp::UnshareCgroup => sys.unshare(libc::CLONE_NEWCGROUP),
        ProcOp::LoopbackUp => sys.loopback_up(),
        ProcOp::Sethostname(h) => sys.sethostname(h),
        ProcOp::Mkdir(p) => sys.mkdir(p, 0o755),
        ProcOp::Chdir(p) => sys.chdir(p),
        ProcOp::Redirect { from, to } => sys.dup2(*from, *to),
        ProcOp::SetIds { uid, gid, groups } => sys.set_ids(*uid, *gid, groups),
        ProcOp::CloexecFrom(fd) => sys.cloexec_from(*fd),
        ProcOp::DropBounding(keep) => sys.drop_bounding(*keep),
        ProcOp::Setns { fd, nstype } => sys.setns(*fd, *nstype),
        ProcOp::SetCaps { caps, inheritable } => sys.set_caps(*caps, *inheritable),
        ProcOp::KeepCaps => sys.keep_caps(),
        ProcOp::RaiseAmbient(caps) => sys.raise_ambient(*caps),
        ProcOp::Terminal { socket, uid, rows, cols } => sys.open_terminal(*socket, *uid, *rows, *cols),
        ProcOp::Init => sys.become_init(),
        ProcOp::NoNewPrivs => sys.no_new_privs(),
        ProcOp::Seccomp(program) => sys.seccomp(program),
        ProcOp::Rlimit { resource, soft, hard } => sys.set_rlimit(*resource, *soft, *hard),
    }
}

fn apply_all(ops: &[ProcOp], phase: Phase, sys: &dyn Syscall) -> Result<(), (Phase, usize, Errno)> {
    for (i, op) in ops.iter().enumerate() {
        apply_proc(op, sys).map_err(|e| (phase, i, e))?;
    }
    Ok(())
}

/// Runs the setup lists of the plan: namespaces, mounts, ids; before pivot_root, `before_pivot`
/// is called and then the `at_pivot` steps done. Returns where it failed.
pub fn setup(plan: &ChildPlan, sys: &dyn Syscall, before_pivot: &dyn Fn()) -> Result<(), (Phase, usize, Errno)> {
    // Where an `at_pivot` step failed; the mounts stop with an errno of their own then.
    let at_pivot_failed = std::cell::Cell::new(None);
    let at_pivot = || {
        before_pivot();
        apply_all(&plan.at_pivot, Phase::AtPivot, sys).map_err(|failure| {
            at_pivot_failed.set(Some(failure));
            Errno::ECANCELED
        })
    };
    apply_all(&plan.before, Phase::Before, sys)
        .and_then(|()| {
            rootfs::apply(&plan.mounts, sys, &at_pivot)
                .map_err(|(i, e)| at_pivot_failed.take().unwrap_or((Phase::Mounts, i, e)))
        })
        .and_then(|()| apply_all(&plan.after, Phase::After, sys))
}

/// Execs the program; returns only on failure. The errno is ENOENT when no candidate exists, else
/// the most telling error met (EACCES over ENOENT, as execvp does).
pub fn exec(plan: &ChildPlan, sys: &dyn Syscall) -> (Phase, usize, Errno) {
    let mut seen = Errno::ENOENT;
    for cand in &plan.exec.candidates {
        match sys.exec(cand, &plan.exec.argv_ptrs, &plan.exec.envp_ptrs) {
            Errno::ENOENT | Errno::ENOTDIR => {}
            Errno::EACCES => seen = Errno::EACCES,
            other => return (Phase::Exec, 0, other),
        }
    }
    (Phase::Exec, 0, seen)
}

/// Setup then exec; returns only on failure, with where it failed.
pub fn run(plan: &ChildPlan, sys: &dyn Syscall) -> (Phase, usize, Errno) {
    match setup(plan, sys, &|| {}) {
        Ok(()) => exec(plan, sys),
        Err(failure) => failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sys::fake::Recorder;

    fn plan(candidates: &[&str]) -> ChildPlan {
        ChildPlan {
            before: vec![ProcOp::DieWithParent, ProcOp::Sethostname(CString::new("box").unwrap())],
            mounts: vec![MountOp::MakeRootPrivate],
            at_pivot: vec![],
            after: vec![ProcOp::SetIds { uid: 1000, gid: 1000, groups: vec![1000] }, ProcOp::CloexecFrom(3)],
            exec: Exec::new(
                candidates.iter().map(|c| CString::new(*c).unwrap()).collect(),
                vec![CString::new("sh").unwrap()],
                vec![CString::new("PATH=/bin").unwrap()],
            ),
            pause_before_pivot: false,
            pause_before_exec: false,
            exec_fifo: None,
        }
    }

    #[test]
    fn ids_change_after_mounts_and_exec_is_last() {
        let rec = Recorder::default();
        let p = plan(&["/usr/bin/sh", "/bin/sh"]);
        run(&p, &rec);
        assert_eq!(
            rec.lines(),
            [
                "pdeathsig 9",
                "sethostname box",
                "make_root_private",
                "set_ids 1000 1000 [1000]",
                "cloexec_from 3",
                "exec /usr/bin/sh"
            ],
            "an exec that succeeds is the last step"
        );
    }

    #[test]
    fn exec_tries_each_candidate_and_reports_not_found() {
        let rec = Recorder { fail_on: vec![("exec".into(), Errno::ENOENT)], ..Default::default() };
        assert_eq!(run(&plan(&["/a/x", "/b/x"]), &rec), (Phase::Exec, 0, Errno::ENOENT));
    }

    #[test]
    fn permission_denied_wins_over_not_found() {
        let rec = Recorder {
            fail_on: vec![("exec /a/x".into(), Errno::EACCES), ("exec /b/x".into(), Errno::ENOENT)],
            ..Default::default()
        };
        assert_eq!(run(&plan(&["/a/x", "/b/x"]), &rec), (Phase::Exec, 0, Errno::EACCES));
    }

    #[test]
    fn a_failed_mount_stops_before_ids_change() {
        let rec = Recorder { fail_on: vec![("make_root_private".into(), Errno::EPERM)], ..Default::default() };
        assert_eq!(run(&plan(&["/bin/sh"]), &rec), (Phase::Mounts, 0, Errno::EPERM));
        assert!(!rec.lines().iter().any(|l| l.starts_with("set_ids")));
    }
}
