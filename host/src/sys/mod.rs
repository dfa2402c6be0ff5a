//! The seam between sbx and the kernel for everything done inside a new container: every mount,
//! pivot, id change and exec goes through [`Syscall`], so the order of operations can be unit-tested
//! with [`fake::Recorder`] and integration-tested with [`linux::Linux`].
//!
//! Implementations must not allocate: the real one runs in the child between clone and exec, where
//! another thread of the parent may have held the allocator's lock.

pub mod fake;
pub mod linux;
mod reaper;

use nix::errno::Errno;
use std::ffi::{CStr, CString};

pub type SysResult = Result<(), Errno>;

pub trait Syscall {
    /// mount(2); `None` stands for a NULL argument.
    fn mount(
        &self,
        source: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: u64,
        data: Option<&CStr>,
    ) -> SysResult;
    /// An overlay of `lowers` (top first) with `upper` and `work`, mounted on `target`; with
    /// `userxattr`, overlayfs keeps its metadata in `user.overlay.*` xattrs.
    fn mount_overlay(&self, lowers: &[CString], upper: &CStr, work: &CStr, target: &CStr, userxattr: bool)
    -> SysResult;
    /// Makes `new_root` the root of the mount namespace and the working directory; the old root
    /// stays stacked on it until [`Syscall::detach_old_root`].
    fn pivot_root(&self, new_root: &CStr) -> SysResult;
    /// Detaches the old root left by [`Syscall::pivot_root`].
    fn detach_old_root(&self) -> SysResult;
    /// mkdir(2) that accepts an existing directory.
    fn mkdir(&self, path: &CStr, mode: u32) -> SysResult;
    fn mknod(&self, path: &CStr, mode: u32, dev: u64) -> SysResult;
    fn symlink(&self, target: &CStr, link: &CStr) -> SysResult;
    fn sethostname(&self, name: &CStr) -> SysResult;
    fn chdir(&self, path: &CStr) -> SysResult;
    fn unshare(&self, flags: i32) -> SysResult;
    /// setns(2): joins the namespace `fd` refers to.
    fn setns(&self, fd: i32, nstype: i32) -> SysResult;
    /// Brings the loopback interface of the current network namespace up.
    fn loopback_up(&self) -> SysResult;
    /// setgroups, setgid, setuid in that order.
    fn set_ids(&self, uid: u32, gid: u32, groups: &[u32]) -> SysResult;
    /// dup2(from, to).
    fn dup2(&self, from: i32, to: i32) -> SysResult;
    fn umask(&self, mask: u32);
    /// Moves this (single-threaded) process into a v1 cgroup: writes "0" to its open `tasks` file.
    fn join_cgroup(&self, tasks: i32) -> SysResult;
    /// Every signal back to its default action and unblocked (an ignored signal survives exec).
    fn reset_signals(&self);
    /// Asks the kernel to send `signal` to this process when its parent dies.
    fn set_parent_death_signal(&self, signal: i32) -> SysResult;
    /// Marks every descriptor from `first` on close-on-exec.
    fn cloexec_from(&self, first: u32) -> SysResult;
    /// Attaches the detached mount tree `fd` (made by open_tree in the parent) at `target`.
    fn move_mount(&self, fd: i32, target: &CStr) -> SysResult;
    /// Creates an empty file to mount over; an existing file is fine.
    fn touch(&self, path: &CStr) -> SysResult;
    /// Hides `path`: an empty read-only tmpfs over a directory, /dev/null over anything else. A path
    /// that does not exist needs no hiding.
    fn mask(&self, path: &CStr) -> SysResult;
    /// Makes `path` read-only, keeping its other mount flags. With `bind` it is first bind-mounted
    /// onto itself, so that only it (not the whole mount it is on) changes. A missing path is fine.
    fn remount_read_only(&self, path: &CStr, bind: bool) -> SysResult;
    /// Drops every capability not in the bit mask `keep` from the bounding set.
    fn drop_bounding(&self, keep: u64) -> SysResult;
    /// Sets the permitted and effective capabilities to the bit mask `caps`, inheritable to none.
    fn set_caps(&self, caps: u64) -> SysResult;
    /// Opens a new terminal in the /dev/pts this process sees (the container's): sets its window
    /// size (when `rows` and `cols` are not 0), gives the terminal to `uid`, makes it the controlling
    /// terminal of a new session and stdin, stdout and stderr, and sends the master side over the
    /// unix socket `socket` (SCM_RIGHTS) to whoever copies between it and the user.
    fn open_terminal(&self, socket: i32, uid: u32, rows: u16, cols: u16) -> SysResult;
    /// `--init`: forks. The child returns Ok and goes on to exec the command, in its own process
    /// group (the terminal's foreground group, when there is a terminal). This process stays as the
    /// container's PID 1 and never returns: it closes every descriptor from 3 on, forwards the
    /// signals it gets to the child, reaps every process that ends, and exits as the child did
    /// (128+N for signal N).
    fn become_init(&self) -> SysResult;
    /// prctl(PR_SET_NO_NEW_PRIVS): exec can no longer grant privileges (setuid bits, file
    /// capabilities).
    fn no_new_privs(&self) -> SysResult;
    /// Installs the seccomp BPF `program` (8-byte `sock_filter`s) on this process.
    fn seccomp(&self, program: &[u64]) -> SysResult;
    /// setrlimit(2) of `resource`.
    fn set_rlimit(&self, resource: i32, soft: u64, hard: u64) -> SysResult;
    /// execve(2); returns only on failure.
    fn exec(&self, path: &CStr, argv: &[*const libc::c_char], envp: &[*const libc::c_char]) -> Errno;
}
