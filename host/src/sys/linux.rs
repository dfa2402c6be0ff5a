//! The real [`Syscall`]: thin wrappers over rustix and nix where they have the call (neither
//! allocates), libc where they do not. Ids are changed with raw syscalls because glibc's setuid()
//! broadcasts to the threads it believes exist, and after a raw clone those belong to the parent.

use super::{FsOption, SysResult, Syscall, Target, beneath};
use nix::errno::Errno;
use rustix::mount::MountAttrFlags;
use std::ffi::{CStr, CString};
use std::os::unix::ffi::OsStrExt;
use std::ptr;

pub struct Linux;

fn check(ret: libc::c_long) -> SysResult {
    if ret < 0 { Err(Errno::last()) } else { Ok(()) }
}

const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        // SAFETY: an Fd owns the descriptor it holds, opened by this module.
        unsafe { libc::close(self.0) };
    }
}

fn errno(e: rustix::io::Errno) -> Errno {
    Errno::from_raw(e.raw_os_error())
}

impl Syscall for Linux {
    fn make_root_private(&self) -> SysResult {
        use rustix::mount::{MountPropagationFlags, mount_change};
        mount_change(c"/", MountPropagationFlags::REC | MountPropagationFlags::PRIVATE).map_err(errno)
    }

    /// Uses fsconfig `lowerdir+` (Linux 6.8), one layer at a time: mount(2) options stop at one
    /// page, about 140 absolute layer paths, and the kernel allows 500 lowers.
    fn mount_overlay(
        &self,
        lowers: &[CString],
        upper: &CStr,
        work: &CStr,
        target: &CStr,
        flags: &[&CStr],
    ) -> Result<i32, Errno> {
        beneath::mount_overlay(lowers, upper, work, target, flags)
    }

    fn mount_overlay_legacy(&self, data: &CStr, target: &CStr) -> Result<i32, Errno> {
        rustix::mount::mount(c"overlay", target, c"overlay", rustix::mount::MountFlags::empty(), data)
            .map_err(errno)?;
        beneath::open_root(target)
    }

    fn bind_root(&self, dir: &CStr) -> Result<i32, Errno> {
        rustix::mount::mount_bind_recursive(dir, dir).map_err(errno)?;
        beneath::open_root(dir)
    }

    fn pivot_root(&self, root: i32) -> SysResult {
        beneath::pivot_root(root)
    }

    fn set_root_attrs(&self, root: i32, attrs: MountAttrFlags) -> SysResult {
        beneath::set_root_attrs(root, attrs)
    }

    fn mkdir_at(&self, root: i32, at: &Target, mode: u32) -> SysResult {
        beneath::mkdir_at(root, at, mode)
    }

    fn touch_at(&self, root: i32, at: &Target) -> SysResult {
        beneath::touch_at(root, at)
    }

    fn mknod_at(&self, root: i32, at: &Target, mode: u32, dev: u64) -> SysResult {
        beneath::mknod_at(root, at, mode, dev)
    }

    fn symlink_at(&self, root: i32, text: &CStr, at: &Target) -> SysResult {
        beneath::symlink_at(root, text, at)
    }

    fn mount_at(
        &self,
        root: i32,
        at: &Target,
        fstype: &CStr,
        options: &[FsOption],
        attrs: MountAttrFlags,
    ) -> SysResult {
        beneath::mount_at(root, at, fstype, options, attrs)
    }

    fn attach_at(&self, root: i32, fd: i32, at: &Target) -> SysResult {
        beneath::attach_at(root, fd, at)
    }

    fn mask_at(&self, root: i32, at: &Target) -> SysResult {
        beneath::mask_at(root, at)
    }

    fn read_only_at(&self, root: i32, at: &Target) -> SysResult {
        beneath::read_only_at(root, at)
    }

    fn mkdir(&self, path: &CStr, mode: u32) -> SysResult {
        match rustix::fs::mkdir(path, rustix::fs::Mode::from_raw_mode(mode)) {
            Ok(()) | Err(rustix::io::Errno::EXIST) => Ok(()),
            Err(e) => Err(errno(e)),
        }
    }

    fn sethostname(&self, name: &CStr) -> SysResult {
        nix::unistd::sethostname(std::ffi::OsStr::from_bytes(name.to_bytes()))
    }

    fn chdir(&self, path: &CStr) -> SysResult {
        rustix::process::chdir(path).map_err(errno)
    }

    fn unshare(&self, flags: i32) -> SysResult {
        nix::sched::unshare(nix::sched::CloneFlags::from_bits_retain(flags))
    }

    fn setns(&self, fd: i32, nstype: i32) -> SysResult {
        // SAFETY: setns(2) takes two integers; the descriptor is the parent's, open until we exec.
        check(unsafe { libc::setns(fd, nstype) } as libc::c_long)
    }

    fn loopback_up(&self) -> SysResult {
        // SAFETY: socket(2) takes integers; its descriptor goes straight into an Fd.
        let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        check(sock as libc::c_long)?;
        let sock = Fd(sock);
        // SAFETY: ifreq is plain data for which all zeros is valid.
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        // SAFETY: SIOCGIFFLAGS fills the live `req`, whose name is NUL-terminated.
        check(unsafe { libc::ioctl(sock.0, libc::SIOCGIFFLAGS as _, &mut req) } as libc::c_long)?;
        // SAFETY: SIOCGIFFLAGS just set the flags member of the union.
        unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
        // SAFETY: SIOCSIFFLAGS reads the live `req`.
        check(unsafe { libc::ioctl(sock.0, libc::SIOCSIFFLAGS as _, &req) } as libc::c_long)
    }

    fn set_ids(&self, uid: u32, gid: u32, groups: &[u32]) -> SysResult {
        // SAFETY: the kernel reads `groups.len()` ids from the live slice (rustix's wrapper would
        // want them copied into Gids, an allocation the child may not make).
        check(unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) })?;
        use rustix::thread::{Gid, Uid, set_thread_res_gid, set_thread_res_uid};
        let (gid, uid) = (Gid::from_raw(gid), Uid::from_raw(uid));
        set_thread_res_gid(gid, gid, gid).map_err(errno)?;
        set_thread_res_uid(uid, uid, uid).map_err(errno)
    }

    fn dup2(&self, from: i32, to: i32) -> SysResult {
        // SAFETY: dup2(2) on two integers; `from` is the parent's, open until we exec.
        check(unsafe { libc::dup2(from, to) } as libc::c_long)
    }

    fn umask(&self, mask: u32) {
        rustix::process::umask(rustix::fs::Mode::from_raw_mode(mask));
    }

    fn join_cgroup(&self, tasks: i32) -> SysResult {
        // SAFETY: writes one byte of a literal to the parent's open `tasks` descriptor.
        check(unsafe { libc::write(tasks, c"0".as_ptr().cast(), 1) } as libc::c_long)
    }

    fn join_cgroup_at(&self, tasks: &CStr) -> SysResult {
        use rustix::fs::{Mode, OFlags};
        let fd = rustix::fs::open(tasks, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty()).map_err(errno)?;
        rustix::io::write(&fd, b"0").map(drop).map_err(errno)
    }

    fn reset_signals(&self, which: u64) {
        for sig in 1..=libc::SIGRTMAX() {
            if which & 1 << (sig - 1) != 0 && sig != libc::SIGKILL && sig != libc::SIGSTOP {
                // SAFETY: restoring the default action installs no handler of ours.
                unsafe { libc::signal(sig, libc::SIG_DFL) };
            }
        }
        // SAFETY: sigset_t is plain data for which all zeros is valid.
        let mut none: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: the live, emptied set unblocks every signal.
        unsafe {
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, ptr::null_mut());
        }
    }

    fn set_parent_death_signal(&self, signal: i32) -> SysResult {
        let signal = rustix::process::Signal::from_named_raw(signal);
        rustix::process::set_parent_process_death_signal(signal).map_err(errno)
    }

    fn cloexec_from(&self, first: u32) -> SysResult {
        // SAFETY: close_range(2) with CLOSE_RANGE_CLOEXEC only marks descriptors; none is closed.
        check(unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, CLOSE_RANGE_CLOEXEC) })
    }

    fn move_mount(&self, fd: i32, target: &CStr) -> SysResult {
        beneath::attach_host(fd, target)
    }

    fn drop_bounding(&self, keep: u64) -> SysResult {
        for cap in 0..64 {
            if keep & (1 << cap) != 0 {
                continue;
            }
            // SAFETY: prctl(2) with integers only.
            match check(unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } as libc::c_long) {
                // Past the kernel's last capability.
                Err(Errno::EINVAL) => break,
                other => other?,
            }
        }
        Ok(())
    }

    fn set_caps(&self, caps: u64, inheritable: u64) -> SysResult {
        use rustix::thread::{CapabilitySet, CapabilitySets, set_capabilities};
        let (caps, inheritable) = (CapabilitySet::from_bits_retain(caps), CapabilitySet::from_bits_retain(inheritable));
        let sets = CapabilitySets { effective: caps, permitted: caps, inheritable };
        set_capabilities(None, sets).map_err(errno)
    }

    fn keep_caps(&self) -> SysResult {
        // SAFETY: prctl(2) with integers only.
        check(unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) } as libc::c_long)
    }

    fn raise_ambient(&self, caps: u64) -> SysResult {
        for cap in (0..64).filter(|c| caps & (1 << c) != 0) {
            // SAFETY: prctl(2) with integers only.
            let raise = unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_RAISE, cap, 0, 0) };
            check(raise as libc::c_long)?;
        }
        Ok(())
    }

    fn open_terminal(&self, socket: i32, uid: u32, rows: u16, cols: u16) -> SysResult {
        // SAFETY: open(2) of a NUL-terminated literal; the descriptor goes straight into an Fd.
        let master = unsafe { libc::open(c"/dev/ptmx".as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
        check(master.into())?;
        let master = Fd(master);
        let unlock: libc::c_int = 0;
        // SAFETY: TIOCSPTLCK reads the live int `unlock`.
        check(unsafe { libc::ioctl(master.0, libc::TIOCSPTLCK, &unlock) }.into())?;
        if rows > 0 && cols > 0 {
            let size = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
            // SAFETY: TIOCSWINSZ reads the live `size`.
            check(unsafe { libc::ioctl(master.0, libc::TIOCSWINSZ, &size) }.into())?;
        }
        // The peer straight from the master: no path to build, none an image could redirect.
        // SAFETY: TIOCGPTPEER takes flags and returns a new descriptor, which goes into an Fd.
        let slave = unsafe { libc::ioctl(master.0, libc::TIOCGPTPEER, libc::O_RDWR | libc::O_NOCTTY) };
        check(slave.into())?;
        let slave = Fd(slave);
        // SAFETY: fchown(2) of our own descriptor, integers only.
        check(unsafe { libc::fchown(slave.0, uid, u32::MAX) }.into())?;
        nix::unistd::setsid()?;
        // SAFETY: TIOCSCTTY takes an integer argument.
        check(unsafe { libc::ioctl(slave.0, libc::TIOCSCTTY, 0) }.into())?;
        for to in 0..3 {
            // SAFETY: dup2(2) of our own descriptor onto stdin, stdout and stderr.
            check(unsafe { libc::dup2(slave.0, to) }.into())?;
        }
        if slave.0 < 3 {
            std::mem::forget(slave); // it is one of stdin, stdout, stderr now
        }
        send_fd(socket, master.0)
    }

    fn no_new_privs(&self) -> SysResult {
        rustix::thread::set_no_new_privs(true).map_err(errno)
    }

    fn seccomp(&self, program: &[u64]) -> SysResult {
        let prog = libc::sock_fprog { len: program.len() as u16, filter: program.as_ptr().cast_mut().cast() };
        // SAFETY: the kernel reads `prog.len` instructions from the live `program`, which `prog`
        // points to.
        check(unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &prog) })
    }

    fn set_rlimit(&self, resource: i32, soft: u64, hard: u64) -> SysResult {
        let limit = libc::rlimit { rlim_cur: soft, rlim_max: hard };
        // SAFETY: setrlimit(2) reads the live `limit`.
        check(unsafe { libc::setrlimit(resource as _, &limit) }.into())
    }

    fn become_init(&self) -> SysResult {
        super::reaper::fork_init()
    }

    fn exec(&self, path: &CStr, argv: &[*const libc::c_char], envp: &[*const libc::c_char]) -> Errno {
        debug_assert!(argv.last().is_some_and(|p| p.is_null()) && envp.last().is_some_and(|p| p.is_null()));
        // SAFETY: the path is NUL-terminated and both arrays are NULL-terminated arrays of
        // NUL-terminated strings the plan keeps alive (see child::Exec).
        unsafe { libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr()) };
        Errno::last()
    }
}

/// sendmsg(2) of one byte carrying `fd` (SCM_RIGHTS), from a buffer on the stack.
fn send_fd(socket: i32, fd: i32) -> SysResult {
    let mut byte = [0u8; 1];
    let mut iov = libc::iovec { iov_base: byte.as_mut_ptr().cast(), iov_len: 1 };
    // Room for one cmsghdr and one int, aligned as cmsghdr must be.
    let mut control = [0u64; 4];
    // SAFETY: CMSG_SPACE is arithmetic on its argument.
    let space = unsafe { libc::CMSG_SPACE(size_of::<i32>() as u32) } as usize;
    debug_assert!(space <= size_of_val(&control));
    // SAFETY: msghdr is plain data for which all zeros is valid.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space as _;
    // SAFETY: `control` holds `space` bytes, room for the first header and one int, so
    // CMSG_FIRSTHDR is not null and CMSG_DATA points inside `control`.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<i32>() as u32) as _;
        ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<i32>(), fd);
    }
    // SAFETY: `msg` and every buffer it points to are live for the call.
    check(unsafe { libc::sendmsg(socket, &msg, libc::MSG_NOSIGNAL) } as libc::c_long)
}
