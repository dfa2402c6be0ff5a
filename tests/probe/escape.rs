//! A static probe run inside containers by the escape suite (tests/tests/isolation.rs): each
//! attempt tries one way out of the sandbox with raw syscalls and reports `blocked NAME: WHY` or
//! `ESCAPED NAME: WHAT`. Exit 0 when every attempt asked for was blocked. Built with
//! `rustc -C target-feature=+crt-static` (no crates), so it runs in any image.
//!
//! Usage: escape HOST_PID HOST_FILE ATTEMPT...

use std::ffi::CString;

extern "C" {
    fn syscall(n: i64, ...) -> i64;
    fn __errno_location() -> *mut i32;
    fn strerror(e: i32) -> *const u8;
    fn geteuid() -> u32;
}

#[cfg(target_arch = "x86_64")]
mod nr {
    pub const KEYCTL: i64 = 250;
    pub const ADD_KEY: i64 = 248;
    pub const BPF: i64 = 321;
    pub const PTRACE: i64 = 101;
    pub const UNSHARE: i64 = 272;
    pub const INIT_MODULE: i64 = 175;
    pub const FINIT_MODULE: i64 = 313;
    pub const KEXEC_LOAD: i64 = 246;
    pub const OPEN_BY_HANDLE_AT: i64 = 304;
    pub const MOUNT: i64 = 165;
    pub const UMOUNT2: i64 = 166;
    pub const CLOCK_SETTIME: i64 = 227;
    pub const SETHOSTNAME: i64 = 170;
    pub const USERFAULTFD: i64 = 323;
    pub const IO_URING_SETUP: i64 = 425;
    pub const SYSLOG: i64 = 103;
    pub const KILL: i64 = 62;
    pub const MKNODAT: i64 = 259;
    pub const CLONE: i64 = 56;
}

#[cfg(target_arch = "aarch64")]
mod nr {
    pub const KEYCTL: i64 = 219;
    pub const ADD_KEY: i64 = 217;
    pub const BPF: i64 = 280;
    pub const PTRACE: i64 = 117;
    pub const UNSHARE: i64 = 97;
    pub const INIT_MODULE: i64 = 105;
    pub const FINIT_MODULE: i64 = 273;
    pub const KEXEC_LOAD: i64 = 104;
    pub const OPEN_BY_HANDLE_AT: i64 = 265;
    pub const MOUNT: i64 = 40;
    pub const UMOUNT2: i64 = 39;
    pub const CLOCK_SETTIME: i64 = 112;
    pub const SETHOSTNAME: i64 = 161;
    pub const USERFAULTFD: i64 = 282;
    pub const IO_URING_SETUP: i64 = 425;
    pub const SYSLOG: i64 = 116;
    pub const KILL: i64 = 129;
    pub const MKNODAT: i64 = 33;
    pub const CLONE: i64 = 220;
}

fn errno() -> String {
    // SAFETY: errno is this thread's; strerror returns a NUL-terminated static string.
    unsafe {
        let e = *__errno_location();
        let s = std::ffi::CStr::from_ptr(strerror(e).cast());
        format!("errno {e} ({})", s.to_string_lossy())
    }
}

/// Ok(why it failed) or Err(what got through).
type Outcome = Result<String, String>;

/// A syscall that must fail.
fn call(ret: i64, what: &str) -> Outcome {
    if ret < 0 { Ok(errno()) } else { Err(format!("{what} returned {ret}")) }
}

fn c(s: &str) -> CString {
    CString::new(s).unwrap()
}

/// Every way this probe knows to reach `host_file`, a file on the host outside the container.
fn reach_host_file(host_file: &str) -> Outcome {
    let mut routes = vec![host_file.to_string()];
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let p = entry.path();
        routes.push(format!("{}/root{host_file}", p.display()));
        routes.push(format!("{}/cwd/../../../../../../../..{host_file}", p.display()));
    }
    for fd in std::fs::read_dir("/proc/self/fd").into_iter().flatten().flatten() {
        routes.push(format!("{}/../../../../../../..{host_file}", fd.path().display()));
    }
    routes.push(format!("/../../../../../../..{host_file}"));
    match routes.iter().find(|r| std::fs::read(r).is_ok()) {
        Some(r) => Err(format!("read the host's file through {r}")),
        None => Ok(format!("not found by {} routes", routes.len())),
    }
}

/// Links the container can make itself, to `..`, `/` and the roots /proc shows, followed to reach
/// `host_file`; and `..` climbed from `/` by chdir.
fn reach_host_by_links(host_file: &str) -> Outcome {
    let texts = ["..", "../../../../../..", "/", "/proc/1/root", "/proc/self/root/..", "/proc/self/cwd/../.."];
    let mut routes = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let link = format!("/tmp/probe-link-{i}");
        let _ = std::fs::remove_file(&link);
        if std::os::unix::fs::symlink(text, &link).is_ok() {
            routes.push(format!("{link}{host_file}"));
            routes.push(format!("{link}/../..{host_file}"));
        }
    }
    if let Some(r) = routes.iter().find(|r| std::fs::read(r).is_ok()) {
        return Err(format!("read the host's file through {r}"));
    }
    for _ in 0..16 {
        let _ = std::env::set_current_dir("..");
    }
    let relative = host_file.trim_start_matches('/');
    if std::fs::read(relative).is_ok() {
        return Err(format!("read the host's file as {relative} after climbing `..` from /"));
    }
    Ok(format!("not found through {} links or by climbing `..`", routes.len()))
}

/// The container's `/` is one mount, with nothing stacked on it or under it that `..` could reach
/// (the host's old root left behind a pivot), and `/..` is `/`.
fn root_stack() -> Outcome {
    use std::os::unix::fs::MetadataExt;
    let info = std::fs::read_to_string("/proc/self/mountinfo").map_err(|e| e.to_string())?;
    let at_root = info.lines().filter(|l| l.split(' ').nth(4) == Some("/")).count();
    if at_root != 1 {
        return Err(format!("{at_root} mounts at / in /proc/self/mountinfo:\n{info}"));
    }
    let (root, up) = (std::fs::metadata("/").map_err(|e| e.to_string())?, std::fs::metadata("/..").map_err(|e| e.to_string())?);
    if (root.dev(), root.ino()) != (up.dev(), up.ino()) {
        return Err("/.. is not /".into());
    }
    Ok("one mount at /, and /.. is /".into())
}

/// Only stdin, stdout and stderr may be open (the directory being read aside).
fn leaked_fds() -> Outcome {
    let dir = std::fs::read_dir("/proc/self/fd").map_err(|e| e.to_string())?;
    let mut open = Vec::new();
    for e in dir.flatten() {
        let n: i32 = e.file_name().to_string_lossy().parse().unwrap_or(-1);
        let target = std::fs::read_link(e.path()).map(|t| t.display().to_string()).unwrap_or_default();
        if n > 2 && !target.starts_with("/proc/") {
            open.push(format!("{n} -> {target}"));
        }
    }
    if open.is_empty() { Ok("only 0, 1, 2".into()) } else { Err(format!("inherited descriptors: {open:?}")) }
}

fn host_pid_visible(host_pid: i64) -> Outcome {
    if std::path::Path::new(&format!("/proc/{host_pid}")).exists() {
        return Err(format!("/proc/{host_pid} (a host process) is visible"));
    }
    let pids = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().chars().all(|c| c.is_ascii_digit()))
        .count();
    if pids > 20 { Err(format!("{pids} processes visible")) } else { Ok(format!("{pids} processes visible")) }
}

fn write_file(path: &str, data: &str) -> Outcome {
    match std::fs::write(path, data) {
        Ok(()) => Err(format!("wrote {path}")),
        Err(e) => Ok(e.to_string()),
    }
}

fn read_file(path: &str) -> Outcome {
    match std::fs::read(path) {
        Ok(b) if !b.is_empty() => Err(format!("read {} bytes of {path}", b.len())),
        Ok(_) => Ok(format!("{path} reads empty")),
        Err(e) => Ok(e.to_string()),
    }
}

/// Device nodes made here must not open: the host's kernel log, loop control, and the CPU
/// latency control (character devices root on the host opens without a capability).
fn device() -> Outcome {
    let mut why = Vec::new();
    for (name, major, minor) in [("kmsg", 1i64, 11i64), ("loop-control", 10, 237), ("cpu_dma_latency", 10, 259)] {
        let path = format!("/tmp/probe-{name}");
        // SAFETY: a raw syscall with a NUL-terminated path that lives across the call.
        unsafe { syscall(nr::MKNODAT, -100i64, c(&path).as_ptr(), 0o20600i64, (major << 8) | minor) };
        match std::fs::File::open(&path) {
            Ok(_) => return Err(format!("opened a node of the host's {name} ({major}:{minor})")),
            Err(e) => why.push(format!("{name}: {e}")),
        }
    }
    Ok(why.join(", "))
}

fn attempt(name: &str, host_pid: i64, host_file: &str) -> Outcome {
    let null = std::ptr::null::<u8>();
    let mut zeros = [0u8; 256];
    let z = zeros.as_mut_ptr();
    // SAFETY: raw syscalls the kernel must refuse; every pointer passed is to a live local (the
    // zeroed buffer `z`, NUL-terminated strings) or null. A probe may try anything, and does.
    unsafe {
        match name {
            "keyctl" => call(syscall(nr::KEYCTL, 1i64, null), "keyctl(JOIN_SESSION_KEYRING)"),
            // The x32 entry point: a filter that leaves it out lets its calls through, and one
            // whose missing x32 part kills the caller kills this probe before it reports.
            #[cfg(target_arch = "x86_64")]
            "x32-keyctl" => call(syscall(0x4000_0000 | nr::KEYCTL, 1i64, null), "keyctl through the x32 entry point"),
            #[cfg(not(target_arch = "x86_64"))]
            "x32-keyctl" => Ok("no x32 entry point on this architecture".into()),
            "add_key" => {
                let (t, d) = (c("user"), c("probe"));
                call(syscall(nr::ADD_KEY, t.as_ptr(), d.as_ptr(), d.as_ptr(), 5i64, -3i64), "add_key")
            }
            "bpf" => call(syscall(nr::BPF, 0i64, z, 72i64), "bpf(MAP_CREATE)"),
            "ptrace" => call(syscall(nr::PTRACE, 16i64, host_pid, 0i64, 0i64), "ptrace(ATTACH) of a host process"),
            "kill" => call(syscall(nr::KILL, host_pid, 0i64), "kill(0) of a host process"),
            "unshare-user" => call(syscall(nr::UNSHARE, 0x1000_0000i64), "unshare(CLONE_NEWUSER)"),
            "unshare-mount" => call(syscall(nr::UNSHARE, 0x0002_0000i64), "unshare(CLONE_NEWNS)"),
            "clone-user" => {
                let ret = syscall(nr::CLONE, 0x1000_0000i64 | 17, 0i64, 0i64, 0i64, 0i64);
                if ret == 0 {
                    std::process::exit(0);
                }
                call(ret, "clone(CLONE_NEWUSER)")
            }
            "mount" => {
                let (s, t, f) = (c("none"), c("/tmp"), c("tmpfs"));
                call(syscall(nr::MOUNT, s.as_ptr(), t.as_ptr(), f.as_ptr(), 0i64, null), "mount(tmpfs)")
            }
            "umount" => call(syscall(nr::UMOUNT2, c("/proc").as_ptr(), 2i64), "umount2(/proc)"),
            "module" => {
                let exe = std::fs::File::open("/proc/self/exe");
                let fd = exe.as_ref().map(std::os::fd::AsRawFd::as_raw_fd).unwrap_or(-1);
                let finit = syscall(nr::FINIT_MODULE, fd as i64, c("").as_ptr(), 0i64);
                if finit >= 0 {
                    return Err("finit_module returned".into());
                }
                call(syscall(nr::INIT_MODULE, z, 256i64, c("").as_ptr()), "init_module")
            }
            "kexec" => call(syscall(nr::KEXEC_LOAD, 0i64, 0i64, null, 0i64), "kexec_load"),
            "open_by_handle_at" => {
                *z = 8; // handle_bytes
                call(syscall(nr::OPEN_BY_HANDLE_AT, -100i64, z, 0i64), "open_by_handle_at")
            }
            "clock" => call(syscall(nr::CLOCK_SETTIME, 0i64, z), "clock_settime"),
            "hostname" => call(syscall(nr::SETHOSTNAME, c("escaped").as_ptr(), 7i64), "sethostname"),
            "userfaultfd" => call(syscall(nr::USERFAULTFD, 0i64), "userfaultfd"),
            "io_uring" => call(syscall(nr::IO_URING_SETUP, 1i64, z), "io_uring_setup"),
            "syslog" => call(syscall(nr::SYSLOG, 3i64, z, 256i64), "syslog(READ_ALL)"),
            "sysrq" => write_file("/proc/sysrq-trigger", "h"),
            "kcore" => read_file("/proc/kcore"),
            "proc-keys" => read_file("/proc/keys"),
            "sysfs" => write_file("/sys/kernel/uevent_helper", "/evil"),
            "cgroup" => write_file("/sys/fs/cgroup/pids/tasks", "1"),
            "core-pattern" => write_file("/proc/sys/kernel/core_pattern", "|/evil"),
            "device" => device(),
            "setuid" => match geteuid() {
                0 => Err("a setuid-root program ran with euid 0".into()),
                euid => Ok(format!("euid stays {euid}")),
            },
            "host-pids" => host_pid_visible(host_pid),
            "host-file" => reach_host_file(host_file),
            "host-file-links" => reach_host_by_links(host_file),
            "root-stack" => root_stack(),
            "fds" => leaked_fds(),
            other => Err(format!("unknown attempt {other}")),
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let host_pid: i64 = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(1);
    let host_file = args.get(2).cloned().unwrap_or_default();
    let mut escaped = false;
    for name in &args[3.min(args.len())..] {
        match attempt(name, host_pid, &host_file) {
            Ok(why) => println!("blocked {name}: {why}"),
            Err(what) => {
                println!("ESCAPED {name}: {what}");
                escaped = true;
            }
        }
    }
    std::process::exit(i32::from(escaped));
}
