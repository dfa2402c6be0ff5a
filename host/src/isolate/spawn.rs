//! Creating the container process: clone3 into new namespaces (fork-like, no separate stack) and,
//! on cgroup v2, straight into its cgroup. Two pipes connect parent and child: `go` (parent to
//! child: one byte when the parent is ready) and `report` (child to parent: where setup failed;
//! closed without a word by a successful exec, as it is close-on-exec).

use super::child::{self, ChildPlan, Phase};
use crate::sys::Syscall;
use nix::errno::Errno;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::Pid;
use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};

#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    #[error("cannot create a pipe: {0}")]
    Pipe(Errno),
    #[error("cannot create the container process (clone3 with namespaces {flags:#x}): {errno}")]
    Clone { flags: u64, errno: Errno },
    #[error("cannot start the container process: {0}")]
    Start(std::io::Error),
}

/// Where the child's setup stopped, as reported through the pipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure {
    pub phase: Phase,
    pub index: usize,
    pub errno: Errno,
}

/// How the child ended: its exit code in docker's convention (128+N for signal N), and the signal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    pub code: i32,
    pub signal: Option<i32>,
}

/// What the child reports on the way to exec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// Its mounts are done; it waits before pivot_root.
    Mounted,
    /// Its setup is done; it waits before exec.
    Ready,
    /// A runtime container: it waits on its exec fifo for `start` (see [`ChildPlan::exec_fifo`]).
    Waiting,
    /// It exec'd the program.
    Running,
    Failed(Failure),
}

/// The report of a child that finished its setup and waits (no failure report looks like it).
const READY: [u32; 3] = [u32::MAX; 3];
/// The report of a child about to wait on its exec fifo.
const WAITING: [u32; 3] = [u32::MAX, u32::MAX, u32::MAX - 1];
/// The report of a child that waits before pivot_root.
const MOUNTED: [u32; 3] = [u32::MAX, u32::MAX, u32::MAX - 2];

pub struct Spawned {
    pub pid: Pid,
    go: File,
    report: File,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

fn pipe() -> Result<(File, File), SpawnError> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(SpawnError::Pipe)?;
    Ok((File::from(r), File::from(w)))
}

/// The bytes of three words, as the report pipe carries them.
fn bytes_of(words: &[u32; 3]) -> [u8; 12] {
    let mut out = [0u8; 12];
    for (chunk, w) in out.chunks_mut(4).zip(words) {
        chunk.copy_from_slice(&w.to_ne_bytes());
    }
    out
}

/// Ends the child without running anything of the parent's (destructors, atexit handlers).
fn exit(code: i32) -> ! {
    // SAFETY: _exit(2) ends the process at once; nothing after it runs.
    unsafe { libc::_exit(code) }
}

/// Blocks until `start` opens the exec fifo for reading, then tells it so with a byte. A child whose
/// fifo cannot be opened (`delete` removed it) ends.
fn wait_for_start(fifo: &std::ffi::CStr) {
    use rustix::fs::{Mode, OFlags};
    match rustix::fs::open(fifo, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty()) {
        Ok(fd) if rustix::io::write(&fd, &[0]) == Ok(1) => {}
        _ => exit(125),
    }
}

/// Creates the child in the namespaces of `flags` (and in the v2 cgroup `cgroup` is a directory
/// descriptor of); it waits for [`Spawned::start`].
pub fn spawn(plan: &ChildPlan, flags: u64, cgroup: Option<i32>, sys: &dyn Syscall) -> Result<Spawned, SpawnError> {
    let (go_r, go_w) = pipe()?;
    let (report_r, report_w) = pipe()?;
    let (flags, cgroup) = match cgroup {
        Some(fd) => (flags | CLONE_INTO_CGROUP, fd as u64),
        None => (flags, 0),
    };
    // Not dumpable, so the child inherits it until its exec: a process of the container cannot
    // open /proc/PID/exe (sbx's binary on the host) of a child that sits in the container's PID
    // namespace before exec (`sbx exec`) or stays there as `--init` (CVE-2019-5736), nor read its
    // memory, without CAP_SYS_PTRACE.
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    let args = CloneArgs { flags, exit_signal: libc::SIGCHLD as u64, cgroup, ..Default::default() };
    // SAFETY: a fork-like clone3 (no stack given, the child runs on a copy of ours): the child
    // below makes only syscalls on data prepared before the clone (the plan) until it execs or
    // _exits, so it takes no lock another thread of the parent may have held.
    let ret = unsafe { libc::syscall(libc::SYS_clone3, &args as *const CloneArgs, size_of::<CloneArgs>()) };
    if ret < 0 {
        return Err(SpawnError::Clone { flags, errno: Errno::last() });
    }
    if ret == 0 {
        // The child: a copy of this process with one thread. Only syscalls from here on (rustix's
        // calls do not allocate).
        // The parent's ends: with ours of `go` closed, a parent that dies is a read of nothing.
        // SAFETY: the child's copies of the parent's descriptors; the OwnedFds that name them are
        // the parent's and are never dropped in the child, which only execs or _exits.
        unsafe {
            libc::close(go_w.as_raw_fd());
            libc::close(report_r.as_raw_fd());
        }
        let mut byte = [0u8];
        if rustix::io::read(&go_r, &mut byte) != Ok(1) {
            exit(125); // the parent gave up before starting us
        }
        // Reports `what`, then waits for the parent's go; a parent that stopped us (a hook said
        // no) closed the pipe.
        let pause = |what: &[u32; 3]| {
            let _ = rustix::io::write(&report_w, &bytes_of(what));
            if rustix::io::read(&go_r, &mut [0u8]) != Ok(1) {
                exit(125);
            }
        };
        let before_pivot = || {
            if plan.pause_before_pivot {
                pause(&MOUNTED)
            }
        };
        let (phase, index, errno) = match child::setup(plan, sys, &before_pivot) {
            Err(failure) => failure,
            Ok(()) => {
                if plan.pause_before_exec {
                    pause(&READY);
                }
                if let Some(fifo) = &plan.exec_fifo {
                    let _ = rustix::io::write(&report_w, &bytes_of(&WAITING));
                    // `create` is gone from here on: no one reads the report pipe.
                    wait_for_start(fifo);
                }
                child::exec(plan, sys)
            }
        };
        let msg = [phase as u32, index as u32, errno as i32 as u32];
        let _ = rustix::io::write(&report_w, &bytes_of(&msg));
        exit(match (phase, errno) {
            (Phase::Exec, Errno::ENOENT) => 127,
            (Phase::Exec, _) => 126,
            _ => 125,
        });
    }
    drop(go_r);
    drop(report_w);
    let pid = Pid::from_raw(ret as i32);
    start_elsewhere(pid);
    Ok(Spawned { pid, go: go_w, report: report_r })
}

/// Moves the new child, not yet run, to a CPU other than the one the parent runs on, then gives it
/// back the CPUs it had. The kernel often queues a child on its parent's CPU, where it waits until
/// the parent blocks: the parent's work after the clone (cgroups, id maps) and the child's setup,
/// which could overlap once the parent has sent its go, then take turns on one CPU while another
/// idles. Moved while it is queued, it stays where it was moved; its CPUs are then the same as
/// before, so the container runs where it would have. Nothing is done where the process has one
/// CPU, and a call that fails changes nothing (a cpuset of the container's cgroup may leave it no
/// other CPU).
fn start_elsewhere(child: Pid) {
    use rustix::thread::{sched_getaffinity, sched_getcpu, sched_setaffinity};
    let Some(child) = rustix::process::Pid::from_raw(child.as_raw()) else { return };
    let Ok(cpus) = sched_getaffinity(Some(child)) else { return };
    let cpu = sched_getcpu();
    if cpus.count() < 2 || !cpus.is_set(cpu) {
        return;
    }
    let mut others = cpus;
    others.unset(cpu);
    if sched_setaffinity(Some(child), &others).is_ok() {
        let _ = sched_setaffinity(Some(child), &cpus);
    }
}

impl Spawned {
    /// Lets the child go on: from the start to its exec, or (with `pause_before_exec`) first to the
    /// end of its setup and then, on the next call, to its exec.
    pub fn advance(&mut self) -> Result<Progress, SpawnError> {
        self.release()?;
        self.progress()
    }

    /// Tells the child to go on from where it waits, without waiting for where it stops next
    /// ([`Spawned::progress`]): the parent works meanwhile.
    pub fn release(&mut self) -> Result<(), SpawnError> {
        self.go.write_all(&[1]).map_err(SpawnError::Start)
    }

    /// Waits for the child to stop, fail or exec.
    pub fn progress(&mut self) -> Result<Progress, SpawnError> {
        let mut buf = [0u8; 12];
        let mut got = 0;
        while got < buf.len() {
            match self.report.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(SpawnError::Start(e)),
            }
        }
        // The report pipe closes on exec.
        if got < buf.len() {
            return Ok(Progress::Running);
        }
        let word = |i: usize| u32::from_ne_bytes(buf[i * 4..i * 4 + 4].try_into().expect("4 bytes"));
        match [word(0), word(1), word(2)] {
            READY => return Ok(Progress::Ready),
            MOUNTED => return Ok(Progress::Mounted),
            WAITING => return Ok(Progress::Waiting),
            _ => {}
        }
        Ok(Progress::Failed(Failure {
            phase: Phase::from_u32(word(0)).unwrap_or(Phase::Before),
            index: word(1) as usize,
            errno: Errno::from_raw(word(2) as i32),
        }))
    }

    /// Stops a child that has not exec'd: it exits as soon as it reads the closed pipe.
    pub fn abort(self) -> Exit {
        let Spawned { pid, go, report } = self;
        drop((go, report));
        wait_for(pid)
    }

    /// Waits for the child to end.
    pub fn wait(&self) -> Exit {
        wait_for(self.pid)
    }
}

/// Waits for the child `pid` to end.
pub fn wait_for(pid: Pid) -> Exit {
    loop {
        match waitpid(pid, None) {
            Ok(WaitStatus::Exited(_, code)) => return Exit { code, signal: None },
            Ok(WaitStatus::Signaled(_, sig, _)) => {
                return Exit { code: 128 + sig as i32, signal: Some(sig as i32) };
            }
            Ok(_) | Err(Errno::EINTR) => continue,
            Err(_) => return Exit { code: 125, signal: None },
        }
    }
}

/// /dev/null for a non-interactive stdin, opened before the clone so the child only dup2s it.
pub fn dev_null() -> std::io::Result<OwnedFd> {
    File::open("/dev/null").map(OwnedFd::from)
}
