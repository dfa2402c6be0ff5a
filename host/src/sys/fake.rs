//! A recording [`Syscall`] for unit tests of ordering: every call is appended as one line of text,
//! and calls listed in `fail_on` return the given errno.

use super::{FsOption, Links, SysResult, Syscall, Target};
use nix::errno::Errno;
use rustix::mount::MountAttrFlags;
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

/// The root descriptor the recorder hands out for a mounted overlay.
pub const ROOT: i32 = 100;

/// A target as recorded: its absolute path, with `!` when its symlinks are refused.
fn shown(at: &Target) -> String {
    let refused = if at.links == Links::Refused { "!" } else { "" };
    format!("{}{refused}", at.shown())
}

/// Every target resolves beneath the overlay's root; anything else is marked in the line.
fn beneath(root: i32) -> String {
    if root == ROOT { String::new() } else { format!("(root {root}) ") }
}

impl Syscall for Recorder {
    fn make_root_private(&self) -> SysResult {
        self.record("make_root_private".into())
    }
    fn mount_overlay(
        &self,
        lowers: &[CString],
        upper: &CStr,
        work: &CStr,
        target: &CStr,
        flags: &[&CStr],
    ) -> Result<i32, Errno> {
        let lowers: Vec<String> = lowers.iter().map(|l| s(l)).collect();
        let x: String = flags.iter().map(|f| format!(" {}", s(f))).collect();
        self.record(format!("overlay {} upper={} work={} on {}{x}", lowers.join(":"), s(upper), s(work), s(target)))
            .map(|()| ROOT)
    }
    fn mount_overlay_legacy(&self, data: &CStr, target: &CStr) -> Result<i32, Errno> {
        self.record(format!("overlay {} on {}", s(data), s(target))).map(|()| ROOT)
    }
    fn bind_root(&self, dir: &CStr) -> Result<i32, Errno> {
        self.record(format!("bind {} onto itself", s(dir))).map(|()| ROOT)
    }
    fn pivot_root(&self, root: i32) -> SysResult {
        self.record(format!("pivot_root {root}"))
    }
    fn set_root_attrs(&self, root: i32, attrs: MountAttrFlags) -> SysResult {
        self.record(format!("set_root_attrs {root} {:#x}", attrs.bits()))
    }
    fn mkdir_at(&self, root: i32, at: &Target, mode: u32) -> SysResult {
        self.record(format!("mkdir {}{} {mode:o}", beneath(root), shown(at)))
    }
    fn touch_at(&self, root: i32, at: &Target) -> SysResult {
        self.record(format!("touch {}{}", beneath(root), shown(at)))
    }
    fn mknod_at(&self, root: i32, at: &Target, mode: u32, dev: u64) -> SysResult {
        self.record(format!("mknod {}{} {mode:o} {dev:#x}", beneath(root), shown(at)))
    }
    fn symlink_at(&self, root: i32, text: &CStr, at: &Target) -> SysResult {
        self.record(format!("symlink {}{} -> {}", beneath(root), shown(at), s(text)))
    }
    fn mount_at(
        &self,
        root: i32,
        at: &Target,
        fstype: &CStr,
        options: &[FsOption],
        attrs: MountAttrFlags,
    ) -> SysResult {
        let options: Vec<String> =
            options.iter().map(|(k, v)| v.as_ref().map_or_else(|| s(k), |v| format!("{}={}", s(k), s(v)))).collect();
        let attrs = attrs.bits();
        let line = format!("mount {} {}{} {attrs:#x} {}", s(fstype), beneath(root), shown(at), options.join(","));
        self.record(line)
    }
    fn attach_at(&self, root: i32, fd: i32, at: &Target) -> SysResult {
        self.record(format!("attach {fd} {}{}", beneath(root), shown(at)))
    }
    fn mask_at(&self, root: i32, at: &Target) -> SysResult {
        self.record(format!("mask {}{}", beneath(root), shown(at)))
    }
    fn read_only_at(&self, root: i32, at: &Target) -> SysResult {
        self.record(format!("read_only {}{}", beneath(root), shown(at)))
    }
    fn mkdir(&self, path: &CStr, mode: u32) -> SysResult {
        self.record(format!("mkdir {} {mode:o}", s(path)))
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
    fn join_cgroup_at(&self, tasks: &CStr) -> SysResult {
        self.record(format!("join_cgroup {}", s(tasks)))
    }
    fn reset_signals(&self, _which: u64) {
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
    fn drop_bounding(&self, keep: u64) -> SysResult {
        self.record(format!("drop_bounding keep={keep:#x}"))
    }
    fn set_caps(&self, caps: u64, inheritable: u64) -> SysResult {
        match inheritable {
            0 => self.record(format!("set_caps {caps:#x}")),
            _ => self.record(format!("set_caps {caps:#x} inheritable={inheritable:#x}")),
        }
    }
    fn keep_caps(&self) -> SysResult {
        self.record("keep_caps".to_string())
    }
    fn raise_ambient(&self, caps: u64) -> SysResult {
        self.record(format!("raise_ambient {caps:#x}"))
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
