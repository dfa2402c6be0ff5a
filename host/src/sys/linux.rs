//! The real [`Syscall`]: thin wrappers over libc. Ids are changed with raw syscalls because glibc's
//! setuid() broadcasts to the threads it believes exist, and after a raw clone those belong to the
//! parent.

use super::{FsOption, SysResult, Syscall, Target, beneath};
use nix::errno::Errno;
use rustix::mount::MountAttrFlags;
use std::ffi::{CStr, CString};
use std::ptr;

pub struct Linux;

fn check(ret: libc::c_long) -> SysResult {
    if ret < 0 { Err(Errno::last()) } else { Ok(()) }
}

fn ptr_or_null(c: Option<&CStr>) -> *const libc::c_char {
    c.map_or(ptr::null(), CStr::as_ptr)
}

const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;

struct Fd(libc::c_int);

impl Drop for Fd {
    fn drop(&mut self) {
        unsafe { libc::close(self.0) };
    }
}

impl Syscall for Linux {
    fn mount(
        &self,
        source: Option<&CStr>,
        target: &CStr,
        fstype: Option<&CStr>,
        flags: u64,
        data: Option<&CStr>,
    ) -> SysResult {
        let ret = unsafe {
            libc::mount(
                ptr_or_null(source),
                target.as_ptr(),
                ptr_or_null(fstype),
                flags as libc::c_ulong,
                ptr_or_null(data).cast(),
            )
        };
        check(ret as libc::c_long)
    }

    /// Uses fsconfig `lowerdir+` (Linux 6.8), one layer at a time: mount(2) options stop at one
    /// page, about 140 absolute layer paths, and the kernel allows 500 lowers.
    fn mount_overlay(
        &self,
        lowers: &[CString],
        upper: &CStr,
        work: &CStr,
        target: &CStr,
        userxattr: bool,
    ) -> Result<i32, Errno> {
        beneath::mount_overlay(lowers, upper, work, target, userxattr)
    }

    fn mount_overlay_legacy(&self, data: &CStr, target: &CStr) -> Result<i32, Errno> {
        self.mount(Some(c"overlay"), target, Some(c"overlay"), 0, Some(data))?;
        beneath::open_root(target)
    }

    fn pivot_root(&self, root: i32) -> SysResult {
        beneath::pivot_root(root)
    }

    fn read_only_root(&self, root: i32) -> SysResult {
        beneath::read_only_root(root)
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
        match check(unsafe { libc::mkdir(path.as_ptr(), mode) } as libc::c_long) {
            Err(Errno::EEXIST) => Ok(()),
            other => other,
        }
    }

    fn sethostname(&self, name: &CStr) -> SysResult {
        let bytes = name.to_bytes();
        check(unsafe { libc::sethostname(bytes.as_ptr().cast(), bytes.len()) } as libc::c_long)
    }

    fn chdir(&self, path: &CStr) -> SysResult {
        check(unsafe { libc::chdir(path.as_ptr()) } as libc::c_long)
    }

    fn unshare(&self, flags: i32) -> SysResult {
        check(unsafe { libc::unshare(flags) } as libc::c_long)
    }

    fn setns(&self, fd: i32, nstype: i32) -> SysResult {
        check(unsafe { libc::setns(fd, nstype) } as libc::c_long)
    }

    fn loopback_up(&self) -> SysResult {
        let sock = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
        check(sock as libc::c_long)?;
        let sock = Fd(sock);
        let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
        for (dst, src) in req.ifr_name.iter_mut().zip(b"lo\0") {
            *dst = *src as libc::c_char;
        }
        check(unsafe { libc::ioctl(sock.0, libc::SIOCGIFFLAGS, &mut req) } as libc::c_long)?;
        unsafe { req.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short };
        check(unsafe { libc::ioctl(sock.0, libc::SIOCSIFFLAGS, &req) } as libc::c_long)
    }

    fn set_ids(&self, uid: u32, gid: u32, groups: &[u32]) -> SysResult {
        check(unsafe { libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr()) })?;
        check(unsafe { libc::syscall(libc::SYS_setresgid, gid, gid, gid) })?;
        check(unsafe { libc::syscall(libc::SYS_setresuid, uid, uid, uid) })
    }

    fn dup2(&self, from: i32, to: i32) -> SysResult {
        check(unsafe { libc::dup2(from, to) } as libc::c_long)
    }

    fn umask(&self, mask: u32) {
        unsafe { libc::umask(mask) };
    }

    fn join_cgroup(&self, tasks: i32) -> SysResult {
        check(unsafe { libc::write(tasks, c"0".as_ptr().cast(), 1) } as libc::c_long)
    }

    fn reset_signals(&self) {
        for sig in 1..libc::SIGRTMAX() {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                unsafe { libc::signal(sig, libc::SIG_DFL) };
            }
        }
        let mut none: libc::sigset_t = unsafe { std::mem::zeroed() };
        unsafe {
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, ptr::null_mut());
        }
    }

    fn set_parent_death_signal(&self, signal: i32) -> SysResult {
        check(unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal as libc::c_ulong) } as libc::c_long)
    }

    fn cloexec_from(&self, first: u32) -> SysResult {
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
            match check(unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) } as libc::c_long) {
                // Past the kernel's last capability.
                Err(Errno::EINVAL) => break,
                other => other?,
            }
        }
        Ok(())
    }

    fn set_caps(&self, caps: u64) -> SysResult {
        #[repr(C)]
        struct Header {
            version: u32,
            pid: i32,
        }
        #[repr(C)]
        #[derive(Clone, Copy)]
        struct Data {
            effective: u32,
            permitted: u32,
            inheritable: u32,
        }
        const VERSION_3: u32 = 0x2008_0522;
        let header = Header { version: VERSION_3, pid: 0 };
        let word = |i: u32| Data {
            effective: (caps >> (32 * i)) as u32,
            permitted: (caps >> (32 * i)) as u32,
            inheritable: 0,
        };
        let data = [word(0), word(1)];
        check(unsafe { libc::syscall(libc::SYS_capset, &header as *const Header, data.as_ptr()) })
    }

    fn open_terminal(&self, socket: i32, uid: u32, rows: u16, cols: u16) -> SysResult {
        let master = unsafe { libc::open(c"/dev/ptmx".as_ptr(), libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC) };
        check(master.into())?;
        let master = Fd(master);
        let unlock: libc::c_int = 0;
        check(unsafe { libc::ioctl(master.0, libc::TIOCSPTLCK, &unlock) }.into())?;
        if rows > 0 && cols > 0 {
            let size = libc::winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 };
            check(unsafe { libc::ioctl(master.0, libc::TIOCSWINSZ, &size) }.into())?;
        }
        // The peer straight from the master: no path to build, none an image could redirect.
        let slave = unsafe { libc::ioctl(master.0, libc::TIOCGPTPEER, libc::O_RDWR | libc::O_NOCTTY) };
        check(slave.into())?;
        let slave = Fd(slave);
        check(unsafe { libc::fchown(slave.0, uid, u32::MAX) }.into())?;
        check(unsafe { libc::setsid() }.into())?;
        check(unsafe { libc::ioctl(slave.0, libc::TIOCSCTTY, 0) }.into())?;
        for to in 0..3 {
            check(unsafe { libc::dup2(slave.0, to) }.into())?;
        }
        if slave.0 < 3 {
            std::mem::forget(slave); // it is one of stdin, stdout, stderr now
        }
        send_fd(socket, master.0)
    }

    fn no_new_privs(&self) -> SysResult {
        check(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }.into())
    }

    fn seccomp(&self, program: &[u64]) -> SysResult {
        let prog = libc::sock_fprog { len: program.len() as u16, filter: program.as_ptr().cast_mut().cast() };
        check(unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &prog) })
    }

    fn set_rlimit(&self, resource: i32, soft: u64, hard: u64) -> SysResult {
        let limit = libc::rlimit { rlim_cur: soft, rlim_max: hard };
        check(unsafe { libc::setrlimit(resource as _, &limit) }.into())
    }

    fn become_init(&self) -> SysResult {
        super::reaper::fork_init()
    }

    fn exec(&self, path: &CStr, argv: &[*const libc::c_char], envp: &[*const libc::c_char]) -> Errno {
        debug_assert!(argv.last().is_some_and(|p| p.is_null()) && envp.last().is_some_and(|p| p.is_null()));
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
    let space = unsafe { libc::CMSG_SPACE(size_of::<i32>() as u32) } as usize;
    debug_assert!(space <= size_of_val(&control));
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = space;
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(size_of::<i32>() as u32) as usize;
        ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<i32>(), fd);
    }
    check(unsafe { libc::sendmsg(socket, &msg, libc::MSG_NOSIGNAL) } as libc::c_long)
}
