//! A recording [`Syscall`] for unit tests of ordering: every call is appended as one line of text,
//! and calls listed in `fail_on` return the given errno.

use super::{SysResult, Syscall};
use nix::errno::Errno;
use std::cell::RefCell;
use std::ffi::{CStr, CString};

#[derive(Default)]
pub struct Recorder {
    pub calls: RefCell<Vec<String>>,
    /// (prefix of a recorded line, errno to return).
    pub fail_on: Vec<(String, Errno)>,
}

impl Recorder {
    pub fn lines(&self) -> Vec<String> {
        self.calls.borrow().clone()
    }

    fn record(&self, line: String) -> SysResult {
        let failure = self.fail_on.iter().find(|(p, _)| line.starts_with(p.as_str())).map(|(_, e)| *e);
        self.calls.borrow_mut().push(line);
        failure.map_or(Ok(()), Err)
    }
}

fn s(c: &CStr) -> String {
    c.to_string_lossy().into_owned()
}

fn opt(c: Option<&CStr>) -> String {
    c.map_or_else(|| "-".to_string(), s)
}

impl Syscall for Recorder {
    fn mount(
        &self,
        source: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: u64,
        data: Option<&CStr>,
    ) -> SysResult {
        self.record(format!("mount {} {} {} {flags:#x} {}", opt(source), s(target), opt(fstype), opt(data)))
    }
    fn mount_overlay(
        &self,
        lowers: &[CString],
        upper: &CStr,
        work: &CStr,
        target: &CStr,
        userxattr: bool,
    ) -> SysResult {
        let lowers: Vec<String> = lowers.iter().map(|l| s(l)).collect();
        let x = if userxattr { " userxattr" } else { "" };
        self.record(format!("overlay {} upper={} work={} on {}{x}", lowers.join(":"), s(upper), s(work), s(target)))
    }
    fn pivot_root(&self, new_root: &CStr) -> SysResult {
        self.record(format!("pivot_root {}", s(new_root)))
    }
    fn detach_old_root(&self) -> SysResult {
        self.record("detach_old_root".into())
    }
    fn mkdir(&self, path: &CStr, mode: u32) -> SysResult {
        self.record(format!("mkdir {} {mode:o}", s(path)))
    }
    fn mknod(&self, path: &CStr, mode: u32, dev: u64) -> SysResult {
        self.record(format!("mknod {} {mode:o} {dev:#x}", s(path)))
    }
    fn symlink(&self, target: &CStr, link: &CStr) -> SysResult {
        self.record(format!("symlink {} -> {}", s(link), s(target)))
    }
    fn sethostname(&self, name: &CStr) -> SysResult {
        self.record(format!("sethostname {}", s(name)))
    }
    fn chdir(&self, path: &CStr) -> SysResult {
        self.record(format!("chdir {}", s(path)))
    }
    fn unshare(&self, flags: i32) -> SysResult {
        self.record(format!("unshare {flags:#x}"))
    }
    fn setns(&self, fd: i32, nstype: i32) -> SysResult {
        self.record(format!("setns {fd} {nstype:#x}"))
    }
    fn loopback_up(&self) -> SysResult {
        self.record("loopback_up".into())
    }
    fn set_ids(&self, uid: u32, gid: u32, groups: &[u32]) -> SysResult {
        self.record(format!("set_ids {uid} {gid} {groups:?}"))
    }
    fn dup2(&self, from: i32, to: i32) -> SysResult {
        self.record(format!("dup2 {from} {to}"))
    }
    fn umask(&self, mask: u32) {
        let _ = self.record(format!("umask {mask:o}"));
    }
    fn join_cgroup(&self, tasks: i32) -> SysResult {
        self.record(format!("join_cgroup {tasks}"))
    }
    fn reset_signals(&self) {
        let _ = self.record("reset_signals".into());
    }
    fn set_parent_death_signal(&self, signal: i32) -> SysResult {
        self.record(format!("pdeathsig {signal}"))
    }
    fn cloexec_from(&self, first: u32) -> SysResult {
        self.record(format!("cloexec_from {first}"))
    }
    fn move_mount(&self, fd: i32, target: &CStr) -> SysResult {
        self.record(format!("move_mount {fd} {}", s(target)))
    }
    fn touch(&self, path: &CStr) -> SysResult {
        self.record(format!("touch {}", s(path)))
    }
    fn mask(&self, path: &CStr) -> SysResult {
        self.record(format!("mask {}", s(path)))
    }
    fn remount_read_only(&self, path: &CStr, bind: bool) -> SysResult {
        self.record(format!("read_only {} bind={bind}", s(path)))
    }
    fn drop_bounding(&self, keep: u64) -> SysResult {
        self.record(format!("drop_bounding keep={keep:#x}"))
    }
    fn set_caps(&self, caps: u64) -> SysResult {
        self.record(format!("set_caps {caps:#x}"))
    }
    fn open_terminal(&self, socket: i32, uid: u32, rows: u16, cols: u16) -> SysResult {
        self.record(format!("open_terminal socket={socket} uid={uid} size={rows}x{cols}"))
    }
    fn no_new_privs(&self) -> SysResult {
        self.record("no_new_privs".into())
    }
    fn seccomp(&self, program: &[u64]) -> SysResult {
        self.record(format!("seccomp {} instructions", program.len()))
    }
    fn set_rlimit(&self, resource: i32, soft: u64, hard: u64) -> SysResult {
        self.record(format!("set_rlimit {resource} {soft} {hard}"))
    }
    fn become_init(&self) -> SysResult {
        self.record("become_init".into())
    }
    fn exec(&self, path: &CStr, _argv: &[*const libc::c_char], _envp: &[*const libc::c_char]) -> Errno {
        match self.record(format!("exec {}", s(path))) {
            Err(e) => e,
            Ok(()) => Errno::UnknownErrno,
        }
    }
}
