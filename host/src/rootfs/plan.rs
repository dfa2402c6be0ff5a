//! The mount plan of a container, as data. Paths after the pivot are absolute in the container and
//! so resolve inside it: a symlink planted by an image (`/proc -> /etc`) can only redirect a mount
//! to somewhere else in the container's own tree.
//!
//! The overlay is built with fsconfig `lowerdir+`, one layer at a time (Linux 6.8+), which takes
//! the kernel's 500 lowers. Older kernels get mount(2) with all options in one page, which holds
//! about 140 layers under the default root; more than that is refused with a clear error.

use std::ffi::CString;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountOp {
    /// Stop mount events from reaching the host: everything below `/` becomes private.
    MakeRootPrivate,
    /// With fsconfig `lowerdir+`; lowers top first. `userxattr`: overlayfs keeps its metadata in
    /// `user.overlay.*` xattrs, as it must when mounted in a user namespace.
    Overlay {
        lowers: Vec<CString>,
        upper: CString,
        work: CString,
        target: CString,
        userxattr: bool,
    },
    /// The new root becomes `/`; the old root stays stacked on it, out of reach of the paths
    /// (which resolve from the new root), until [`MountOp::DetachOldRoot`]: the kernel mounts a
    /// new proc or sysfs in a user namespace only while one of the host's is in the namespace.
    PivotRoot {
        new_root: CString,
    },
    DetachOldRoot,
    /// In a user namespace: enter the container's directory, then become the namespace's root
    /// (setuid and setgid 0; with `--userns=auto`, host ids from the container's range): from
    /// here on the overlay is mounted and files are made by that root, whose host ids own the
    /// writable layer. The directory is entered first, as host root, because the container's root
    /// may search it but not the directories above it.
    EnterUsernsRoot {
        dir: CString,
    },
    Mkdir {
        path: CString,
        mode: u32,
    },
    Mount {
        source: CString,
        target: CString,
        fstype: CString,
        flags: u64,
        data: Option<CString>,
    },
    Mknod {
        path: CString,
        mode: u32,
        dev: u64,
    },
    Symlink {
        target: CString,
        link: CString,
    },
    /// The umask while the rootfs is built, so device and directory modes are exact.
    Umask(u32),
    /// Attach a bind mount the parent prepared (open_tree) at `target`.
    MoveMount {
        fd: i32,
        target: CString,
    },
    /// An empty file to mount a file over.
    Touch {
        path: CString,
    },
    Mask {
        path: CString,
    },
    ReadOnly {
        path: CString,
        /// Bind-mount it onto itself first (every path but `/`, which is a mount already).
        bind: bool,
    },
}

/// A mount the container's spec asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserMount {
    /// A host path, already opened as a detached mount tree by the parent.
    Bind {
        fd: i32,
        destination: String,
        is_dir: bool,
    },
    Tmpfs {
        destination: String,
        read_only: bool,
    },
}

pub struct RootfsSpec {
    /// Layer directories, bottom first (the image's order).
    pub layers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Where the overlay is mounted before it becomes `/`.
    pub target: PathBuf,
    /// In order, after /proc, /dev and /sys.
    pub mounts: Vec<UserMount>,
    /// Hidden, then made read-only, after the mounts.
    pub masked: Vec<String>,
    pub read_only: Vec<String>,
    pub read_only_root: bool,
    /// Host devices to create in /dev (`--device`): (path in the container, mode, device number).
    pub devices: Vec<(PathBuf, u32, u64)>,
    /// Set for a container in a user namespace: its own (`--userns=auto`) or a rootless sbx's.
    pub userns: Option<UsernsRootfs>,
}

/// What a container in a user namespace (its own, or a rootless sbx's) is built from instead: it
/// cannot make device nodes, and with a namespace of its own cannot read the layers' host-owned
/// files as their owner.
#[derive(Debug, Clone)]
pub struct UsernsRootfs {
    /// The container's directory, which holds `upper`, `work` and `target`.
    pub dir: PathBuf,
    /// Idmapped copies of the layers (detached mounts the parent made), in the order of `layers`:
    /// each is attached over its layer's directory and the overlay takes it through
    /// /proc/self/fd, which the namespace's root can follow where it cannot search the store.
    /// Empty for a rootless sbx, whose layers are its namespace's already.
    pub layers: Vec<i32>,
    /// Detached copies of the host's device nodes, bind-mounted in /dev: [`DEVICES`] then
    /// `devices`, in order.
    pub devices: Vec<i32>,
}

pub fn cstr(path: impl AsRef<Path>) -> CString {
    CString::new(path.as_ref().as_os_str().as_bytes()).expect("paths built by sbx hold no NUL")
}

const NOSUID: u64 = libc::MS_NOSUID;
const NODEV: u64 = libc::MS_NODEV;
const NOEXEC: u64 = libc::MS_NOEXEC;

fn mount(source: &str, target: &str, fstype: &str, flags: u64, data: Option<&str>) -> MountOp {
    MountOp::Mount { source: cstr(source), target: cstr(target), fstype: cstr(fstype), flags, data: data.map(cstr) }
}

fn mkdir(path: &str, mode: u32) -> MountOp {
    MountOp::Mkdir { path: cstr(path), mode }
}

/// The devices every container gets: (name, major, minor). Nothing else of the host's /dev.
pub const DEVICES: [(&str, u32, u32); 6] =
    [("null", 1, 3), ("zero", 1, 5), ("full", 1, 7), ("random", 1, 8), ("urandom", 1, 9), ("tty", 5, 0)];

/// The first kernel whose overlayfs takes `lowerdir+` through fsconfig.
pub const LOWERDIR_PLUS_SINCE: (u32, u32) = (6, 8);

/// overlayfs stacks at most this many lower layers (OVL_MAX_STACK).
pub const MAX_LAYERS: usize = 500;

/// mount(2) copies its options into one page.
const PAGE: usize = 4096;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("the image has {0} layers; overlayfs stacks at most {MAX_LAYERS}")]
    OverMax(usize),
    #[error(
        "the image has {layers} layers, too many for one mount(2) on Linux {}.{} (overlayfs takes them one by one from Linux 6.8); use fewer layers or a newer kernel",
        kernel.0, kernel.1
    )]
    TooManyLayers { layers: usize, kernel: (u32, u32) },
    #[error("the path {0} holds ',' or ':', which mount(2) options cannot carry on this kernel; use another --root")]
    BadPath(String),
}

/// (major, minor) of a kernel release string such as `6.1.0-18-amd64`.
pub fn kernel_version(release: &str) -> (u32, u32) {
    let mut parts = release.split(|c: char| !c.is_ascii_digit()).map(|p| p.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// The overlay's directories as its mounter names them: absolute paths, or in a user namespace
/// the layers through /proc/self/fd and the rest relative to the container's directory.
struct OverlayPaths {
    lowers: Vec<PathBuf>,
    upper: PathBuf,
    work: PathBuf,
    target: PathBuf,
}

fn overlay_paths(spec: &RootfsSpec) -> OverlayPaths {
    let Some(userns) = spec.userns.as_ref().filter(|u| !u.layers.is_empty()) else {
        return OverlayPaths {
            lowers: spec.layers.iter().rev().cloned().collect(),
            upper: spec.upper.clone(),
            work: spec.work.clone(),
            target: spec.target.clone(),
        };
    };
    let inside = |p: &Path| p.strip_prefix(&userns.dir).map_or_else(|_| p.to_path_buf(), Path::to_path_buf);
    OverlayPaths {
        lowers: userns.layers.iter().rev().map(|fd| PathBuf::from(format!("/proc/self/fd/{fd}"))).collect(),
        upper: inside(&spec.upper),
        work: inside(&spec.work),
        target: inside(&spec.target),
    }
}

fn overlay(spec: &RootfsSpec, kernel: (u32, u32)) -> Result<MountOp, PlanError> {
    if spec.layers.len() > MAX_LAYERS {
        return Err(PlanError::OverMax(spec.layers.len()));
    }
    let paths = overlay_paths(spec);
    let userxattr = spec.userns.is_some();
    if kernel >= LOWERDIR_PLUS_SINCE {
        return Ok(MountOp::Overlay {
            lowers: paths.lowers.iter().map(cstr).collect(),
            upper: cstr(&paths.upper),
            work: cstr(&paths.work),
            target: cstr(&paths.target),
            userxattr,
        });
    }
    let text = |p: &Path| {
        let t = p.to_string_lossy().into_owned();
        if t.contains([',', ':']) { Err(PlanError::BadPath(t)) } else { Ok(t) }
    };
    let lowers: Vec<String> = paths.lowers.iter().map(|p| text(p)).collect::<Result<_, _>>()?;
    let mut data =
        format!("lowerdir={},upperdir={},workdir={}", lowers.join(":"), text(&paths.upper)?, text(&paths.work)?);
    if userxattr {
        data.push_str(",userxattr");
    }
    if data.len() >= PAGE {
        return Err(PlanError::TooManyLayers { layers: spec.layers.len(), kernel });
    }
    Ok(MountOp::Mount {
        source: cstr("overlay"),
        target: cstr(&paths.target),
        fstype: cstr("overlay"),
        flags: 0,
        data: Some(cstr(data)),
    })
}

/// A device node in /dev: made, or in a user namespace (where mknod is refused) the host's node
/// bind-mounted from the detached copy `bind`.
fn device(path: &str, mode: u32, dev: u64, bind: Option<i32>) -> Vec<MountOp> {
    match bind {
        Some(fd) => vec![MountOp::Touch { path: cstr(path) }, MountOp::MoveMount { fd, target: cstr(path) }],
        None => vec![MountOp::Mknod { path: cstr(path), mode, dev }],
    }
}

/// The mount plan on a kernel of version `kernel` (see [`kernel_version`]).
pub fn plan(spec: &RootfsSpec, kernel: (u32, u32)) -> Result<Vec<MountOp>, PlanError> {
    let mut ops = vec![MountOp::Umask(0), MountOp::MakeRootPrivate];
    if let Some(userns) = &spec.userns {
        ops.extend(
            userns
                .layers
                .iter()
                .zip(&spec.layers)
                .map(|(fd, layer)| MountOp::MoveMount { fd: *fd, target: cstr(layer) }),
        );
        ops.push(MountOp::EnterUsernsRoot { dir: cstr(&userns.dir) });
    }
    ops.extend([
        overlay(spec, kernel)?,
        MountOp::PivotRoot { new_root: cstr(overlay_paths(spec).target) },
        mkdir("/proc", 0o555),
        mount("proc", "/proc", "proc", NOSUID | NODEV | NOEXEC, None),
        mkdir("/dev", 0o755),
        mount("tmpfs", "/dev", "tmpfs", NOSUID | libc::MS_STRICTATIME, Some("mode=755,size=65536k")),
    ]);
    let mut binds = spec.userns.as_ref().map(|u| u.devices.iter().copied());
    let mut bind = || binds.as_mut().and_then(Iterator::next);
    for (name, major, minor) in DEVICES {
        let dev = nix::sys::stat::makedev(major.into(), minor.into());
        ops.extend(device(&format!("/dev/{name}"), libc::S_IFCHR | 0o666, dev, bind()));
    }
    for (path, mode, dev) in &spec.devices {
        let (parents, path) = mkdir_chain(&path.to_string_lossy());
        ops.extend(parents);
        ops.extend(device(&path, *mode, *dev, bind()));
    }
    ops.extend([
        mkdir("/dev/pts", 0o755),
        mount("devpts", "/dev/pts", "devpts", NOSUID | NOEXEC, Some("newinstance,ptmxmode=0666,mode=0620,gid=5")),
        MountOp::Symlink { target: cstr("pts/ptmx"), link: cstr("/dev/ptmx") },
        mkdir("/dev/shm", 0o1777),
        mount("shm", "/dev/shm", "tmpfs", NOSUID | NODEV | NOEXEC, Some("mode=1777,size=65536k")),
        MountOp::Symlink { target: cstr("/proc/self/fd"), link: cstr("/dev/fd") },
        MountOp::Symlink { target: cstr("/proc/self/fd/0"), link: cstr("/dev/stdin") },
        MountOp::Symlink { target: cstr("/proc/self/fd/1"), link: cstr("/dev/stdout") },
        MountOp::Symlink { target: cstr("/proc/self/fd/2"), link: cstr("/dev/stderr") },
        mkdir("/sys", 0o555),
        mount("sysfs", "/sys", "sysfs", libc::MS_RDONLY | NOSUID | NODEV | NOEXEC, None),
        MountOp::DetachOldRoot,
    ]);
    for m in &spec.mounts {
        match m {
            UserMount::Bind { fd, destination, is_dir } => {
                let (parents, last) = mkdir_chain(destination);
                ops.extend(parents);
                ops.push(if *is_dir { mkdir(&last, 0o755) } else { MountOp::Touch { path: cstr(&last) } });
                ops.push(MountOp::MoveMount { fd: *fd, target: cstr(destination) });
            }
            UserMount::Tmpfs { destination, read_only } => {
                let (parents, last) = mkdir_chain(destination);
                ops.extend(parents);
                ops.push(mkdir(&last, 0o755));
                let ro = if *read_only { libc::MS_RDONLY } else { 0 };
                ops.push(mount("tmpfs", destination, "tmpfs", NOSUID | NODEV | ro, Some("mode=1777")));
            }
        }
    }
    ops.extend(spec.masked.iter().map(|p| MountOp::Mask { path: cstr(p) }));
    ops.extend(spec.read_only.iter().map(|p| MountOp::ReadOnly { path: cstr(p), bind: true }));
    if spec.read_only_root {
        ops.push(MountOp::ReadOnly { path: cstr("/"), bind: false });
    }
    ops.push(MountOp::Umask(0o022));
    Ok(ops)
}

/// mkdir ops for every parent of the absolute `path`, and `path` itself (the caller decides what
/// it becomes). Each level is made in the container, after the pivot, so symlinks resolve there.
fn mkdir_chain(path: &str) -> (Vec<MountOp>, String) {
    let parts: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let mut ops = Vec::new();
    let mut partial = String::new();
    for c in &parts[..parts.len().saturating_sub(1)] {
        partial.push('/');
        partial.push_str(c);
        ops.push(mkdir(&partial, 0o755));
    }
    (ops, path.to_string())
}

impl fmt::Display for MountOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |c: &CString| c.to_string_lossy().into_owned();
        match self {
            MountOp::MakeRootPrivate => write!(f, "make / private"),
            MountOp::Overlay { lowers, target, .. } => {
                write!(f, "mount the overlay of {} layers on {}", lowers.len(), s(target))
            }
            MountOp::PivotRoot { new_root } => write!(f, "pivot_root into {}", s(new_root)),
            MountOp::DetachOldRoot => write!(f, "detach the host's root"),
            MountOp::EnterUsernsRoot { dir } => {
                write!(f, "become root of the user namespace in {}", s(dir))
            }
            MountOp::Mkdir { path, .. } => write!(f, "mkdir {}", s(path)),
            MountOp::Mount { fstype, target, .. } => {
                write!(f, "mount {} on {}", s(fstype), s(target))
            }
            MountOp::Mknod { path, .. } => write!(f, "mknod {}", s(path)),
            MountOp::Symlink { link, .. } => write!(f, "symlink {}", s(link)),
            MountOp::Umask(m) => write!(f, "umask {m:o}"),
            MountOp::MoveMount { target, .. } => write!(f, "bind-mount onto {}", s(target)),
            MountOp::Touch { path } => write!(f, "create the mount point {}", s(path)),
            MountOp::Mask { path } => write!(f, "mask {}", s(path)),
            MountOp::ReadOnly { path, .. } => write!(f, "make {} read-only", s(path)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: (u32, u32) = (6, 18);
    const OLD: (u32, u32) = (6, 1);

    #[test]
    fn kernel_versions() {
        assert_eq!(kernel_version("6.18.44-fc-v857"), (6, 18));
        assert_eq!(kernel_version("6.1.0-18-amd64"), (6, 1));
        assert!(kernel_version("6.8.0") >= LOWERDIR_PLUS_SINCE && kernel_version("6.7.12") < LOWERDIR_PLUS_SINCE);
    }

    #[test]
    fn old_kernels_get_one_mount_call_while_it_fits_a_page() {
        let ops = plan(&spec(2), OLD).unwrap();
        let MountOp::Mount { fstype, data: Some(data), target, .. } = &ops[2] else { panic!("{ops:?}") };
        assert_eq!((fstype.to_str().unwrap(), target.to_str().unwrap()), ("overlay", "/s/c/rootfs"));
        assert_eq!(
            data.to_str().unwrap(),
            "lowerdir=/s/layers/1/diff:/s/layers/0/diff,upperdir=/s/c/upper,workdir=/s/c/work"
        );
        let many = RootfsSpec {
            layers: (0..128).map(|i| PathBuf::from(format!("/var/lib/sbx/layers/{:064x}/diff", i))).collect(),
            ..spec(0)
        };
        assert_eq!(plan(&many, OLD), Err(PlanError::TooManyLayers { layers: 128, kernel: OLD }));
        assert!(plan(&many, NEW).is_ok());
        let too_many = RootfsSpec { layers: vec![PathBuf::from("/l"); 501], ..spec(0) };
        assert_eq!(plan(&too_many, NEW), Err(PlanError::OverMax(501)));
        let bad = RootfsSpec { upper: "/odd,root/upper".into(), ..spec(1) };
        assert!(matches!(plan(&bad, OLD), Err(PlanError::BadPath(_))));
    }

    fn spec(n: usize) -> RootfsSpec {
        RootfsSpec {
            layers: (0..n).map(|i| PathBuf::from(format!("/s/layers/{i}/diff"))).collect(),
            upper: "/s/c/upper".into(),
            work: "/s/c/work".into(),
            target: "/s/c/rootfs".into(),
            mounts: vec![],
            masked: vec![],
            read_only: vec![],
            read_only_root: false,
            devices: vec![],
            userns: None,
        }
    }

    #[test]
    fn user_mounts_then_masks_then_read_only_come_last() {
        let with = RootfsSpec {
            mounts: vec![
                UserMount::Bind { fd: 7, destination: "/srv/data".into(), is_dir: true },
                UserMount::Bind { fd: 8, destination: "/etc/app.conf".into(), is_dir: false },
                UserMount::Tmpfs { destination: "/run".into(), read_only: false },
            ],
            masked: vec!["/proc/kcore".into()],
            read_only: vec!["/proc/sys".into()],
            read_only_root: true,
            ..spec(1)
        };
        let ops: Vec<String> = plan(&with, NEW).unwrap().iter().map(ToString::to_string).collect();
        let sys = ops.iter().position(|o| o == "mount sysfs on /sys").unwrap();
        assert_eq!(
            ops[sys + 1..],
            [
                "detach the host's root",
                "mkdir /srv",
                "mkdir /srv/data",
                "bind-mount onto /srv/data",
                "mkdir /etc",
                "create the mount point /etc/app.conf",
                "bind-mount onto /etc/app.conf",
                "mkdir /run",
                "mount tmpfs on /run",
                "mask /proc/kcore",
                "make /proc/sys read-only",
                "make / read-only",
                "umask 22"
            ]
        );
    }

    #[test]
    fn in_a_user_namespace_idmapped_layers_are_attached_and_root_of_it_mounts_the_overlay() {
        let devices = vec![(PathBuf::from("/dev/kmsg"), libc::S_IFCHR | 0o600, 0x10b)];
        let userns = UsernsRootfs { dir: "/s/c".into(), layers: vec![10, 11], devices: (20..27).collect() };
        let with = RootfsSpec { devices, userns: Some(userns), ..spec(2) };
        let ops = plan(&with, NEW).unwrap();
        assert_eq!(
            ops[..6],
            [
                MountOp::Umask(0),
                MountOp::MakeRootPrivate,
                MountOp::MoveMount { fd: 10, target: cstr("/s/layers/0/diff") },
                MountOp::MoveMount { fd: 11, target: cstr("/s/layers/1/diff") },
                MountOp::EnterUsernsRoot { dir: cstr("/s/c") },
                MountOp::Overlay {
                    lowers: vec![cstr("/proc/self/fd/11"), cstr("/proc/self/fd/10")],
                    upper: cstr("upper"),
                    work: cstr("work"),
                    target: cstr("rootfs"),
                    userxattr: true,
                },
            ]
        );
        assert_eq!(ops[6], MountOp::PivotRoot { new_root: cstr("rootfs") });
        assert!(!ops.iter().any(|o| matches!(o, MountOp::Mknod { .. })), "no mknod in a user namespace: {ops:?}");
        let at = |op: &MountOp| ops.iter().position(|o| o == op).unwrap();
        let null = at(&MountOp::MoveMount { fd: 20, target: cstr("/dev/null") });
        assert_eq!(ops[null - 1], MountOp::Touch { path: cstr("/dev/null") });
        assert!(at(&MountOp::MoveMount { fd: 26, target: cstr("/dev/kmsg") }) > null);
        // proc and sysfs are mounted while the host's root is still there (the kernel's condition
        // for mounting them in a user namespace).
        let sysfs =
            ops.iter().position(|o| matches!(o, MountOp::Mount { fstype, .. } if fstype.as_bytes() == b"sysfs"));
        assert!(sysfs.unwrap() < at(&MountOp::DetachOldRoot));

        let legacy = plan(&with, OLD).unwrap();
        let MountOp::Mount { data: Some(data), target, .. } = &legacy[5] else { panic!("{legacy:?}") };
        assert_eq!(
            (data.to_str().unwrap(), target.to_str().unwrap()),
            ("lowerdir=/proc/self/fd/11:/proc/self/fd/10,upperdir=upper,workdir=work,userxattr", "rootfs")
        );
    }

    #[test]
    fn overlay_lowers_are_top_first_and_pivot_follows() {
        let ops = plan(&spec(3), NEW).unwrap();
        let MountOp::Overlay { lowers, .. } = &ops[2] else { panic!("overlay is third: {ops:?}") };
        assert_eq!(lowers, &vec![cstr("/s/layers/2/diff"), cstr("/s/layers/1/diff"), cstr("/s/layers/0/diff")]);
        assert_eq!(ops[1], MountOp::MakeRootPrivate);
        assert_eq!(ops[3], MountOp::PivotRoot { new_root: cstr("/s/c/rootfs") });
    }

    #[test]
    fn every_mount_after_the_pivot_is_inside_the_container() {
        let ops = plan(&spec(1), NEW).unwrap();
        let pivot = ops.iter().position(|o| matches!(o, MountOp::PivotRoot { .. })).unwrap();
        for op in &ops[pivot + 1..] {
            if let MountOp::Mount { target, .. }
            | MountOp::Mkdir { path: target, .. }
            | MountOp::Mknod { path: target, .. } = op
            {
                let t = target.to_str().unwrap();
                assert!(["/proc", "/dev", "/sys"].iter().any(|p| t.starts_with(p)), "{t}");
            }
        }
    }

    #[test]
    fn only_safe_devices_and_proc_before_sys() {
        let ops = plan(&spec(1), NEW).unwrap();
        let nodes: Vec<String> = ops
            .iter()
            .filter_map(|o| {
                if let MountOp::Mknod { path, .. } = o { Some(path.to_string_lossy().into_owned()) } else { None }
            })
            .collect();
        assert_eq!(nodes, ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"]);
        let sys = ops
            .iter()
            .position(|o| matches!(o, MountOp::Mount { fstype, .. } if fstype.as_bytes() == b"sysfs"))
            .unwrap();
        let MountOp::Mount { flags, .. } = &ops[sys] else { unreachable!() };
        assert_ne!(flags & libc::MS_RDONLY, 0, "sysfs is read-only");
        assert_eq!(ops.last(), Some(&MountOp::Umask(0o022)));
    }
}
