//! The seam between sbx and the kernel for everything done inside a new container: every mount,
//! pivot, id change and exec goes through [`Syscall`], so the order of operations can be unit-tested
//! with [`fake::Recorder`] and integration-tested with [`linux::Linux`].
//!
//! Implementations must not allocate: the real one runs in the child between clone and exec, where
//! another thread of the parent may have held the allocator's lock.

mod beneath;
pub mod fake;
pub mod linux;
mod reaper;
pub mod status;
pub mod wait;

pub use beneath::{MountAttr, detached_overlay, mount_setattr};

use nix::errno::Errno;
use rustix::mount::MountAttrFlags;
use std::ffi::{CStr, CString};

pub type SysResult = Result<(), Errno>;

/// How the symlinks on the way to a [`Target`] are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Followed as if the container's root were `/` (openat2 `RESOLVE_IN_ROOT`): an image's `..`,
    /// `/` or `/etc` cannot lead out of it. For the paths a user, a policy or a spec names, which
    /// docker and runc resolve through the image's symlinks the same way.
    InRoot,
    /// Refused (`RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`): for /proc, /sys, /dev and what sbx makes
    /// in /dev, which must be real directories (the runtime spec; runc refuses such images too).
    Refused,
}

/// A path in the container, resolved by the kernel beneath the container's root descriptor when
/// an operation uses it, and used through the descriptor it resolved to: nothing resolves the
/// path again later, so a symlink swapped in meanwhile cannot redirect the operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Relative to the root, cleaned (no `.`, `..` or empty components), never the root itself.
    pub path: CString,
    /// Its parent relative to the root (`.` at the top), and its last component.
    pub parent: CString,
    pub name: CString,
    pub links: Links,
}

impl Target {
    /// The cleaned absolute `path` (`..` stops at the root, as in the container), or None for the
    /// root itself or a path holding NUL.
    pub fn new(path: &str, links: Links) -> Option<Target> {
        let mut parts: Vec<&str> = Vec::new();
        for c in path.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                c => parts.push(c),
            }
        }
        let (name, dirs) = parts.split_last()?;
        let parent = if dirs.is_empty() { ".".to_string() } else { dirs.join("/") };
        Some(Target {
            path: CString::new(parts.join("/")).ok()?,
            parent: CString::new(parent).ok()?,
            name: CString::new(*name).ok()?,
            links,
        })
    }

    /// The absolute path in the container, for messages.
    pub fn shown(&self) -> String {
        format!("/{}", self.path.to_string_lossy())
    }
}

/// One option of a new filesystem: a key and its value, or a flag.
pub type FsOption = (CString, Option<CString>);

pub trait Syscall {
    /// Makes every mount below `/` private: mount events stop reaching the host.
    fn make_root_private(&self) -> SysResult;
    /// An overlay of `lowers` (top first) with `upper` and `work` and the flag options `flags`
    /// (`userxattr`, `volatile`), mounted on `target`. Returns a descriptor of the overlay's root:
    /// every later [`Target`] is resolved beneath it.
    fn mount_overlay(
        &self,
        lowers: &[CString],
        upper: &CStr,
        work: &CStr,
        target: &CStr,
        flags: &[&CStr],
    ) -> Result<i32, Errno>;
    /// The same with one mount(2) whose options are `data` (kernels before 6.8).
    fn mount_overlay_legacy(&self, data: &CStr, target: &CStr) -> Result<i32, Errno>;
    /// Binds the directory `dir` (a bundle's root, named by the engine, not the container) onto
    /// itself, recursively. Returns a descriptor of its root, as the overlay's.
    fn bind_root(&self, dir: &CStr) -> Result<i32, Errno>;
    /// Makes the overlay whose root is `root` the root of the mount namespace and the working
    /// directory, and detaches the old root.
    fn pivot_root(&self, root: i32) -> SysResult;
    /// Sets `attrs` on the root mount `root` (not the mounts below it).
    fn set_root_attrs(&self, root: i32, attrs: MountAttrFlags) -> SysResult;
    /// mkdir of `at` beneath `root`; an existing directory is fine, anything else there is not.
    fn mkdir_at(&self, root: i32, at: &Target, mode: u32) -> SysResult;
    /// An empty file at `at` to mount a file over; an existing file is fine.
    fn touch_at(&self, root: i32, at: &Target) -> SysResult;
    fn mknod_at(&self, root: i32, at: &Target, mode: u32, dev: u64) -> SysResult;
    /// A symlink at `at` whose text is `text`.
    fn symlink_at(&self, root: i32, text: &CStr, at: &Target) -> SysResult;
    /// A new filesystem of type `fstype` with `options` and mount attributes `attrs`, on `at`.
    fn mount_at(&self, root: i32, at: &Target, fstype: &CStr, options: &[FsOption], attrs: MountAttrFlags)
    -> SysResult;
    /// Attaches the detached mount tree `fd` (made by open_tree in the parent) on `at`.
    fn attach_at(&self, root: i32, fd: i32, at: &Target) -> SysResult;
    /// Hides `at`: an empty read-only tmpfs over a directory, the container's /dev/null over
    /// anything else. A path that does not exist needs no hiding.
    fn mask_at(&self, root: i32, at: &Target) -> SysResult;
    /// Makes `at` (and the mounts below it) read-only through a read-only copy of its mount tree
    /// attached over it. A missing path is fine.
    fn read_only_at(&self, root: i32, at: &Target) -> SysResult;
    /// mkdir(2) that accepts an existing directory.
    fn mkdir(&self, path: &CStr, mode: u32) -> SysResult;
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
    /// The same through the path of the `tasks` file.
    fn join_cgroup_at(&self, tasks: &CStr) -> SysResult;
    /// The signals of `which` (bit n-1 for signal n, as /proc shows them) back to their default
    /// action, and every signal unblocked (an ignored signal survives exec).
    fn reset_signals(&self, which: u64);
    /// Asks the kernel to send `signal` to this process when its parent dies.
    fn set_parent_death_signal(&self, signal: i32) -> SysResult;
    /// Marks every descriptor from `first` on close-on-exec.
    fn cloexec_from(&self, first: u32) -> SysResult;
    /// Attaches the detached mount tree `fd` at the host path `target` (sbx's own store).
    fn move_mount(&self, fd: i32, target: &CStr) -> SysResult;
    /// Drops every capability not in the bit mask `keep` from the bounding set.
    fn drop_bounding(&self, keep: u64) -> SysResult;
    /// Sets the permitted and effective capabilities to the bit mask `caps`, the inheritable ones
    /// to `inheritable`.
    fn set_caps(&self, caps: u64, inheritable: u64) -> SysResult;
    /// Keeps the permitted capabilities when the ids change from root (PR_SET_KEEPCAPS).
    fn keep_caps(&self) -> SysResult;
    /// Raises each capability of the bit mask `caps` in the ambient set.
    fn raise_ambient(&self, caps: u64) -> SysResult;
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
