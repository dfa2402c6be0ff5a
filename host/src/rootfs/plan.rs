//! The mount plan of a container, as data. The overlay is mounted first, and its root
//! descriptor is where every later path resolves: each [`Target`] is looked up by the kernel beneath
//! that root (openat2) when its step runs, and the mount goes onto the descriptor found, so neither
//! an image's symlinks (`/proc -> ..`, `/data -> /etc`, absolute links, chains of them) nor one
//! swapped in by a container sharing a volume can send a mount, a device node or a directory out
//! of the container. Everything is mounted before pivot_root, while the host's root is not stacked
//! anywhere a path of the container could reach.
//!
//! What sbx mounts itself (/proc, /dev and what it makes there, /sys) must be real directories
//! ([`Links::Refused`]): an image with a symlink there is refused, naming the path, as runc refuses
//! one, rather than fixed in its writable layer, since such an image is broken or hostile and
//! changing it silently would hide that. Paths that users, policies or specs name (`-v`, `--tmpfs`,
//! masked and read-only paths) follow the image's symlinks as docker does, but only inside the
//! container ([`Links::InRoot`]); one that lands on the container's root itself is refused.
//!
//! The overlay is built with fsconfig `lowerdir+`, one layer at a time (Linux 6.8+), which takes
//! the kernel's 500 lowers. Older kernels get mount(2) with all options in one page, which holds
//! about 140 layers under the default root; more than that is refused with a clear error.

use crate::sys::{FsOption, Links, Target};
use rustix::mount::MountAttrFlags;
use std::ffi::{CStr, CString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountOp {
    /// The umask while the rootfs is built, so device and directory modes are exact.
    Umask(u32),
    /// Stop mount events from reaching the host: everything below `/` becomes private.
    MakeRootPrivate,
    /// In a user namespace: attach an idmapped copy of a layer (a detached mount the parent made)
    /// over the layer's own directory in sbx's store.
    AttachLayer {
        fd: i32,
        path: CString,
    },
    /// In a user namespace: enter the container's directory, then become the namespace's root
    /// (setuid and setgid 0; with `--userns=auto`, host ids from the container's range): from
    /// here on the overlay is mounted and files are made by that root, whose host ids own the
    /// writable layer. The directory is entered first, as host root, because the container's root
    /// may search it but not the directories above it.
    EnterUsernsRoot {
        dir: CString,
    },
    /// With fsconfig `lowerdir+`; lowers top first. `flags` are overlayfs's flag options (see
    /// [`overlay_flags`]). `userxattr`: overlayfs keeps its metadata in
    /// `user.overlay.*` xattrs, as it must when mounted in a user namespace. Its root is where the
    /// targets of the later steps resolve.
    Overlay {
        lowers: Vec<CString>,
        upper: CString,
        work: CString,
        target: CString,
        flags: Vec<&'static CStr>,
    },
    /// An OCI bundle's root directory bound onto itself (so pivot_root can make it the root); its
    /// root is where the targets of the later steps resolve.
    BindRoot {
        dir: CString,
    },
    /// The overlay with one mount(2) of these options (kernels before 6.8).
    LegacyOverlay {
        data: CString,
        target: CString,
    },
    Mkdir {
        at: Target,
        mode: u32,
    },
    /// An empty file to mount a file over.
    Touch {
        at: Target,
    },
    Mknod {
        at: Target,
        mode: u32,
        dev: u64,
    },
    Symlink {
        text: CString,
        at: Target,
    },
    /// A new filesystem.
    Mount {
        fstype: CString,
        options: Vec<FsOption>,
        attrs: MountAttrFlags,
        at: Target,
    },
    /// A detached mount tree the parent prepared (open_tree): a bind mount or a host device node.
    Attach {
        fd: i32,
        at: Target,
    },
    Mask {
        at: Target,
    },
    ReadOnly {
        at: Target,
    },
    /// The child stops here until the parent says go (see [`crate::isolate::ChildPlan`]): once,
    /// before the pivot or before the cgroup filesystem (see [`RootfsSpec::pause_at_cgroup_fs`]).
    Pause,
    /// The overlay becomes `/` and the host's root is detached.
    PivotRoot,
    /// Sets `attrs` (read-only, nodev) on the root mount, not the mounts below it.
    RootAttrs(MountAttrFlags),
}

impl MountOp {
    /// The path in the container this step works on.
    pub fn target(&self) -> Option<&Target> {
        match self {
            MountOp::Mkdir { at, .. }
            | MountOp::Touch { at }
            | MountOp::Mknod { at, .. }
            | MountOp::Symlink { at, .. }
            | MountOp::Mount { at, .. }
            | MountOp::Attach { at, .. }
            | MountOp::Mask { at }
            | MountOp::ReadOnly { at } => Some(at),
            _ => None,
        }
    }
}

/// A mount the container's spec asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserMount {
    /// A host path, already opened as a detached mount tree by the parent.
    Bind { fd: i32, destination: String, is_dir: bool },
    Tmpfs {
        destination: String,
        read_only: bool,
        /// As spec::parse_tmpfs checked them: `size=`, `mode=`... for the filesystem, and `exec`
        /// or `noexec`.
        options: Vec<String>,
    },
}

pub struct RootfsSpec {
    /// Layer directories, bottom first (the image's order).
    pub layers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Where the overlay is mounted before it becomes `/`.
    pub target: PathBuf,
    /// `target` is an OCI bundle's root directory, the root as it is: bound onto itself, with no
    /// overlay (`layers`, `upper` and `work` are unused).
    pub bundle: bool,
    /// In order, after /proc, /dev and /sys.
    pub mounts: Vec<UserMount>,
    /// Hidden, then made read-only, after the mounts.
    pub masked: Vec<String>,
    pub read_only: Vec<String>,
    pub read_only_root: bool,
    /// No device node in the root mount opens (a container without a device cgroup: see
    /// [`crate::spec::Cgroups`]); /dev is a mount of its own.
    pub nodev_root: bool,
    /// Host devices to create in /dev (`--device`): (path in the container, mode, device number).
    pub devices: Vec<(PathBuf, u32, u64)>,
    /// Set for a container in a user namespace: its own (`--userns=auto`) or a rootless sbx's.
    pub userns: Option<UsernsRootfs>,
    /// The writable layer is removed with the container (`--rm`): see [`overlay_flags`].
    pub volatile: bool,
    /// The cgroup filesystem at /sys/fs/cgroup, if the container gets one.
    pub cgroup_fs: Option<CgroupFs>,
    /// Pause before the cgroup filesystem rather than before the pivot: the child joins its
    /// cgroup (and makes its cgroup namespace) at the pause, and the filesystem must show that.
    pub pause_at_cgroup_fs: bool,
    /// The size of /dev/shm in bytes (`--shm-size`); docker's 64 MiB when None.
    pub shm_size: Option<u64>,
}

/// The cgroup filesystem at /sys/fs/cgroup (see [`crate::spec::CgroupMount`]). It is mounted in
/// the container's cgroup namespace, so its root is the container's own cgroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CgroupFs {
    /// cgroup v2: one cgroup2 filesystem.
    V2 { read_only: bool },
    /// v1: a tmpfs with a directory per hierarchy of the host, each holding that hierarchy:
    /// (directory, the options that name its controllers, as `cpu` or `name=systemd`).
    V1 { read_only: bool, hierarchies: Vec<(String, Vec<String>)> },
}

fn cgroup_fs(fs: &CgroupFs) -> Vec<MountOp> {
    let attrs = |read_only: bool| NOSUID | NODEV | NOEXEC | if read_only { RDONLY } else { MountAttrFlags::empty() };
    let at = own("/sys/fs/cgroup");
    match fs {
        CgroupFs::V2 { read_only } => {
            vec![MountOp::Mount { fstype: cstr("cgroup2"), options: vec![], attrs: attrs(*read_only), at }]
        }
        CgroupFs::V1 { read_only, hierarchies } => {
            let holder = options(&[("mode", Some("755"))]);
            let mut ops = vec![MountOp::Mount { fstype: cstr("tmpfs"), options: holder, attrs: attrs(false), at }];
            for (dir, controllers) in hierarchies {
                let at = own(&format!("/sys/fs/cgroup/{dir}"));
                let opts: Vec<(&str, Option<&str>)> = controllers
                    .iter()
                    .map(|c| c.split_once('=').map_or((c.as_str(), None), |(k, v)| (k, Some(v))))
                    .collect();
                ops.push(MountOp::Mkdir { at: at.clone(), mode: 0o755 });
                ops.push(MountOp::Mount {
                    fstype: cstr("cgroup"),
                    options: options(&opts),
                    attrs: attrs(*read_only),
                    at,
                });
            }
            ops
        }
    }
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

const NOSUID: MountAttrFlags = MountAttrFlags::MOUNT_ATTR_NOSUID;
const NODEV: MountAttrFlags = MountAttrFlags::MOUNT_ATTR_NODEV;
const NOEXEC: MountAttrFlags = MountAttrFlags::MOUNT_ATTR_NOEXEC;
const RDONLY: MountAttrFlags = MountAttrFlags::MOUNT_ATTR_RDONLY;

/// One of sbx's own paths, which must hold no symlink.
fn own(path: &str) -> Target {
    Target::new(path, Links::Refused).expect("sbx's own paths are not the root")
}

fn options(pairs: &[(&str, Option<&str>)]) -> Vec<FsOption> {
    pairs.iter().map(|(k, v)| (cstr(k), v.map(cstr))).collect()
}

/// mkdir then a new filesystem on one of sbx's own directories.
fn own_fs(path: &str, mode: u32, fstype: &str, opts: &[(&str, Option<&str>)], attrs: MountAttrFlags) -> [MountOp; 2] {
    [
        MountOp::Mkdir { at: own(path), mode },
        MountOp::Mount { fstype: cstr(fstype), options: options(opts), attrs, at: own(path) },
    ]
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
    #[error("cannot mount on {0}: it is the container's root (choose a directory in it)")]
    RootDestination(String),
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

/// overlayfs's flag options for `spec`: `userxattr` in a user namespace (its metadata in
/// `user.overlay.*` xattrs, as it must be there); `volatile` for a writable layer that goes with
/// the container (no sync of the upper filesystem when it is unmounted, as podman mounts --rm
/// containers; after a host crash overlayfs refuses to mount that layer again, which nothing will).
fn overlay_flags(spec: &RootfsSpec) -> Vec<&'static CStr> {
    let mut flags = Vec::new();
    if spec.userns.is_some() {
        flags.push(c"userxattr");
    }
    if spec.volatile {
        flags.push(c"volatile");
    }
    flags
}

fn overlay(spec: &RootfsSpec, kernel: (u32, u32)) -> Result<MountOp, PlanError> {
    if spec.layers.len() > MAX_LAYERS {
        return Err(PlanError::OverMax(spec.layers.len()));
    }
    let paths = overlay_paths(spec);
    let flags = overlay_flags(spec);
    if kernel >= LOWERDIR_PLUS_SINCE {
        return Ok(MountOp::Overlay {
            lowers: paths.lowers.iter().map(cstr).collect(),
            upper: cstr(&paths.upper),
            work: cstr(&paths.work),
            target: cstr(&paths.target),
            flags,
        });
    }
    let text = |p: &Path| {
        let t = p.to_string_lossy().into_owned();
        if t.contains([',', ':']) { Err(PlanError::BadPath(t)) } else { Ok(t) }
    };
    let lowers: Vec<String> = paths.lowers.iter().map(|p| text(p)).collect::<Result<_, _>>()?;
    let mut data =
        format!("lowerdir={},upperdir={},workdir={}", lowers.join(":"), text(&paths.upper)?, text(&paths.work)?);
    for flag in flags {
        data.push(',');
        data.push_str(&flag.to_string_lossy());
    }
    if data.len() >= PAGE {
        return Err(PlanError::TooManyLayers { layers: spec.layers.len(), kernel });
    }
    Ok(MountOp::LegacyOverlay { data: cstr(data), target: cstr(&paths.target) })
}

/// A device node in /dev: made, or in a user namespace (where mknod is refused) the host's node
/// bind-mounted from the detached copy `bind`.
fn device(at: Target, mode: u32, dev: u64, bind: Option<i32>) -> Vec<MountOp> {
    match bind {
        Some(fd) => vec![MountOp::Touch { at: at.clone() }, MountOp::Attach { fd, at }],
        None => vec![MountOp::Mknod { at, mode, dev }],
    }
}

/// Directories for every parent of `at`, each resolved as `at` is.
fn parents(at: &Target) -> Vec<MountOp> {
    let parts: Vec<&[u8]> = at.path.as_bytes().split(|b| *b == b'/').collect();
    (1..parts.len())
        .map(|n| {
            let dir = format!("/{}", String::from_utf8_lossy(&parts[..n].join(&b'/')));
            MountOp::Mkdir { at: Target::new(&dir, at.links).expect("a parent is below the root"), mode: 0o755 }
        })
        .collect()
}

fn user_target(destination: &str) -> Result<Target, PlanError> {
    Target::new(destination, Links::InRoot).ok_or_else(|| PlanError::RootDestination(destination.to_string()))
}

/// The mount plan on a kernel of version `kernel` (see [`kernel_version`]).
pub fn plan(spec: &RootfsSpec, kernel: (u32, u32)) -> Result<Vec<MountOp>, PlanError> {
    let mut ops = vec![MountOp::Umask(0), MountOp::MakeRootPrivate];
    let root = match spec.bundle {
        true => MountOp::BindRoot { dir: cstr(&spec.target) },
        false => overlay(spec, kernel)?,
    };
    match &spec.userns {
        None => ops.push(root),
        // A bundle's root is bound while the child still has the host's ids (and its namespace's
        // capabilities): the path to it may pass directories that only the host's root may search.
        Some(userns) if spec.bundle => {
            ops.push(root);
            ops.push(MountOp::EnterUsernsRoot { dir: cstr(&userns.dir) });
        }
        Some(userns) => {
            ops.extend(
                userns
                    .layers
                    .iter()
                    .zip(&spec.layers)
                    .map(|(fd, layer)| MountOp::AttachLayer { fd: *fd, path: cstr(layer) }),
            );
            ops.push(MountOp::EnterUsernsRoot { dir: cstr(&userns.dir) });
            ops.push(root);
        }
    }
    ops.extend(own_fs("/proc", 0o555, "proc", &[], NOSUID | NODEV | NOEXEC));
    let dev_attrs = NOSUID | MountAttrFlags::MOUNT_ATTR_STRICTATIME;
    ops.extend(own_fs("/dev", 0o755, "tmpfs", &[("mode", Some("755")), ("size", Some("65536k"))], dev_attrs));
    let mut binds = spec.userns.as_ref().map(|u| u.devices.iter().copied());
    let mut bind = || binds.as_mut().and_then(Iterator::next);
    for (name, major, minor) in DEVICES {
        let dev = nix::sys::stat::makedev(major.into(), minor.into());
        ops.extend(device(own(&format!("/dev/{name}")), libc::S_IFCHR | 0o666, dev, bind()));
    }
    for (path, mode, dev) in &spec.devices {
        let at = own(&path.to_string_lossy());
        ops.extend(parents(&at));
        ops.extend(device(at, *mode, *dev, bind()));
    }
    let devpts = [("newinstance", None), ("ptmxmode", Some("0666")), ("mode", Some("0620")), ("gid", Some("5"))];
    ops.extend(own_fs("/dev/pts", 0o755, "devpts", &devpts, NOSUID | NOEXEC));
    ops.push(MountOp::Symlink { text: cstr("pts/ptmx"), at: own("/dev/ptmx") });
    let shm_size = spec.shm_size.map_or_else(|| "65536k".to_string(), |b| b.to_string());
    let shm = [("mode", Some("1777")), ("size", Some(shm_size.as_str()))];
    ops.extend(own_fs("/dev/shm", 0o1777, "tmpfs", &shm, NOSUID | NODEV | NOEXEC));
    ops.extend(own_fs("/dev/mqueue", 0o1777, "mqueue", &[], NOSUID | NODEV | NOEXEC));
    for (link, text) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ] {
        ops.push(MountOp::Symlink { text: cstr(text), at: own(&format!("/dev/{link}")) });
    }
    ops.extend(own_fs("/sys", 0o555, "sysfs", &[], RDONLY | NOSUID | NODEV | NOEXEC));
    if spec.pause_at_cgroup_fs {
        ops.push(MountOp::Pause);
    }
    ops.extend(spec.cgroup_fs.iter().flat_map(cgroup_fs));
    for m in &spec.mounts {
        match m {
            UserMount::Bind { fd, destination, is_dir } => {
                let at = user_target(destination)?;
                ops.extend(parents(&at));
                ops.push(if *is_dir {
                    MountOp::Mkdir { at: at.clone(), mode: 0o755 }
                } else {
                    MountOp::Touch { at: at.clone() }
                });
                ops.push(MountOp::Attach { fd: *fd, at });
            }
            UserMount::Tmpfs { destination, read_only, options: given } => {
                let at = user_target(destination)?;
                ops.extend(parents(&at));
                ops.push(MountOp::Mkdir { at: at.clone(), mode: 0o755 });
                let mut attrs = NOSUID | NODEV | if *read_only { RDONLY } else { MountAttrFlags::empty() };
                // docker's and podman's --tmpfs is noexec unless it says exec.
                if !given.iter().any(|o| o == "exec") {
                    attrs |= MountAttrFlags::MOUNT_ATTR_NOEXEC;
                }
                let mut data: Vec<(&str, Option<&str>)> =
                    given.iter().filter_map(|o| o.split_once('=')).map(|(k, v)| (k, Some(v))).collect();
                if !data.iter().any(|(k, _)| *k == "mode") {
                    data.push(("mode", Some("1777")));
                }
                ops.push(MountOp::Mount { fstype: cstr("tmpfs"), options: options(&data), attrs, at });
            }
        }
    }
    for p in &spec.masked {
        ops.push(MountOp::Mask { at: user_target(p)? });
    }
    for p in &spec.read_only {
        ops.push(MountOp::ReadOnly { at: user_target(p)? });
    }
    if !spec.pause_at_cgroup_fs {
        ops.push(MountOp::Pause);
    }
    ops.push(MountOp::PivotRoot);
    let root_attrs = if spec.read_only_root { RDONLY } else { MountAttrFlags::empty() }
        | if spec.nodev_root { NODEV } else { MountAttrFlags::empty() };
    if !root_attrs.is_empty() {
        ops.push(MountOp::RootAttrs(root_attrs));
    }
    ops.push(MountOp::Umask(0o022));
    Ok(ops)
}

impl fmt::Display for MountOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |c: &CString| c.to_string_lossy().into_owned();
        match self {
            MountOp::Umask(m) => write!(f, "umask {m:o}"),
            MountOp::MakeRootPrivate => write!(f, "make / private"),
            MountOp::AttachLayer { path, .. } => write!(f, "attach the idmapped layer {}", s(path)),
            MountOp::EnterUsernsRoot { dir } => {
                write!(f, "become root of the user namespace in {}", s(dir))
            }
            MountOp::Overlay { lowers, target, .. } => {
                write!(f, "mount the overlay of {} layers on {}", lowers.len(), s(target))
            }
            MountOp::LegacyOverlay { target, .. } => write!(f, "mount the overlay on {}", s(target)),
            MountOp::BindRoot { dir } => write!(f, "bind the root filesystem {} onto itself", s(dir)),
            MountOp::Mkdir { at, .. } => write!(f, "create the directory {}", at.shown()),
            MountOp::Touch { at } => write!(f, "create the mount point {}", at.shown()),
            MountOp::Mknod { at, .. } => write!(f, "create the device {}", at.shown()),
            MountOp::Symlink { at, .. } => write!(f, "create the symlink {}", at.shown()),
            MountOp::Mount { fstype, at, .. } => write!(f, "mount {} on {}", s(fstype), at.shown()),
            MountOp::Attach { at, .. } => write!(f, "bind-mount onto {}", at.shown()),
            MountOp::Mask { at } => write!(f, "mask {}", at.shown()),
            MountOp::ReadOnly { at } => write!(f, "make {} read-only", at.shown()),
            MountOp::Pause => write!(f, "wait for sbx before the last mounts"),
            MountOp::PivotRoot => write!(f, "pivot_root into the container's root"),
            MountOp::RootAttrs(attrs) => {
                let words = [(RDONLY, "read-only"), (NODEV, "nodev")];
                let words: Vec<&str> = words.iter().filter(|(a, _)| attrs.contains(*a)).map(|(_, w)| *w).collect();
                write!(f, "make / {}", words.join(" and "))
            }
        }
    }
}

/// Why a step of the plan failed with `errno`, in words the user can act on, where the errno alone
/// does not say it.
pub fn explain(op: &MountOp, errno: nix::errno::Errno) -> Option<String> {
    use nix::errno::Errno;
    if matches!(op, MountOp::Overlay { .. } | MountOp::LegacyOverlay { .. }) && errno == Errno::EINVAL {
        return Some("overlayfs refused it: is the store's filesystem usable as an overlayfs upper layer?".into());
    }
    let at = op.target()?;
    let path = at.shown();
    Some(match (at.links, errno) {
        (Links::Refused, Errno::ELOOP) => format!(
            "{path} in the image is a symlink or goes through one: sbx mounts its own filesystems there and never follows the image's links to do it (runc refuses such images too); the image is broken or hostile"
        ),
        (Links::Refused, Errno::ENOTDIR) => format!(
            "{path} in the image is not a directory: sbx mounts its own filesystems there; the image is broken or hostile"
        ),
        (Links::InRoot, Errno::EXDEV) => format!(
            "{path} leads to the container's root through the image's symlinks, and a mount there would cover the whole container; choose another destination"
        ),
        (Links::InRoot, Errno::ELOOP) => format!("the image's symlinks on the way to {path} loop"),
        (Links::InRoot, Errno::ENOENT) => {
            format!("{path}, or a directory above it, is a symlink of the image that leads nowhere")
        }
        _ => return None,
    })
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
        let MountOp::LegacyOverlay { data, target } = &ops[2] else { panic!("{ops:?}") };
        assert_eq!(target.to_str().unwrap(), "/s/c/rootfs");
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

    #[test]
    fn a_bundle_root_is_bound_onto_itself_instead_of_an_overlay() {
        let ops = plan(&RootfsSpec { bundle: true, target: "/b/rootfs".into(), ..spec(0) }, NEW).unwrap();
        assert_eq!(ops[2], MountOp::BindRoot { dir: cstr("/b/rootfs") });
        assert!(!ops.iter().any(|op| matches!(op, MountOp::Overlay { .. } | MountOp::LegacyOverlay { .. })));
        assert!(ops.contains(&MountOp::PivotRoot));
    }

    #[test]
    fn in_a_user_namespace_a_bundle_root_is_bound_before_the_ids_change() {
        let userns = UsernsRootfs { dir: "/b/rootfs".into(), layers: vec![], devices: (20..26).collect() };
        let with = RootfsSpec { bundle: true, target: "/b/rootfs".into(), userns: Some(userns), ..spec(0) };
        let ops = plan(&with, NEW).unwrap();
        assert_eq!(
            ops[2..4],
            [MountOp::BindRoot { dir: cstr("/b/rootfs") }, MountOp::EnterUsernsRoot { dir: cstr("/b/rootfs") }]
        );
        assert!(!ops.iter().any(|op| matches!(op, MountOp::Mknod { .. })), "devices are bound, not made");
    }

    fn spec(n: usize) -> RootfsSpec {
        RootfsSpec {
            layers: (0..n).map(|i| PathBuf::from(format!("/s/layers/{i}/diff"))).collect(),
            upper: "/s/c/upper".into(),
            work: "/s/c/work".into(),
            target: "/s/c/rootfs".into(),
            bundle: false,
            mounts: vec![],
            masked: vec![],
            read_only: vec![],
            read_only_root: false,
            nodev_root: false,
            devices: vec![],
            userns: None,
            volatile: false,
            cgroup_fs: None,
            pause_at_cgroup_fs: false,
            shm_size: None,
        }
    }

    #[test]
    fn the_cgroup_filesystem_goes_under_sysfs_one_hierarchy_a_directory_on_v1() {
        let hierarchies = vec![
            ("cpu,cpuacct".into(), vec!["cpu".into(), "cpuacct".into()]),
            ("systemd".into(), vec!["name=systemd".into()]),
        ];
        let v1 = RootfsSpec { cgroup_fs: Some(CgroupFs::V1 { read_only: true, hierarchies }), ..spec(1) };
        let lines = shown(&plan(&v1, NEW).unwrap());
        let sysfs = lines.iter().position(|l| l.starts_with("mount sysfs")).unwrap();
        assert_eq!(
            lines[sysfs + 1..sysfs + 6],
            [
                "mount tmpfs on /sys/fs/cgroup",
                "create the directory /sys/fs/cgroup/cpu,cpuacct",
                "mount cgroup on /sys/fs/cgroup/cpu,cpuacct",
                "create the directory /sys/fs/cgroup/systemd",
                "mount cgroup on /sys/fs/cgroup/systemd",
            ],
            "{lines:?}"
        );
        let ops = plan(&v1, NEW).unwrap();
        let MountOp::Mount { options, attrs, .. } = &ops[sysfs + 5] else { panic!() };
        assert_eq!(options, &[(cstr("name"), Some(cstr("systemd")))]);
        assert!(attrs.contains(RDONLY | NOSUID | NODEV | NOEXEC));
        let v2 = RootfsSpec { cgroup_fs: Some(CgroupFs::V2 { read_only: false }), ..spec(1) };
        let ops = plan(&v2, NEW).unwrap();
        let MountOp::Mount { fstype, attrs, .. } = &ops[sysfs + 1] else { panic!() };
        assert_eq!((fstype.to_str().unwrap(), attrs.contains(RDONLY)), ("cgroup2", false));
        assert!(!shown(&plan(&spec(1), NEW).unwrap()).iter().any(|l| l.contains("cgroup")), "none unless asked");
    }

    #[test]
    fn a_writable_layer_that_goes_with_its_container_is_mounted_volatile() {
        let spec = RootfsSpec { volatile: true, ..spec(1) };
        let ops = plan(&spec, NEW).unwrap();
        let MountOp::Overlay { flags, .. } = &ops[2] else { panic!("{ops:?}") };
        assert_eq!(flags, &[c"volatile"]);
        let ops = plan(&spec, OLD).unwrap();
        let MountOp::LegacyOverlay { data, .. } = &ops[2] else { panic!("{ops:?}") };
        assert!(data.to_str().unwrap().ends_with(",workdir=/s/c/work,volatile"), "{data:?}");
        let MountOp::Overlay { flags, .. } = &plan(&self::spec(1), NEW).unwrap()[2] else { panic!() };
        assert!(flags.is_empty(), "a kept container's layer is synced as any file system");
    }

    fn shown(ops: &[MountOp]) -> Vec<String> {
        ops.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn user_mounts_then_masks_then_read_only_then_the_pivot() {
        let with = RootfsSpec {
            mounts: vec![
                UserMount::Bind { fd: 7, destination: "/srv/data".into(), is_dir: true },
                UserMount::Bind { fd: 8, destination: "/etc/app.conf".into(), is_dir: false },
                UserMount::Tmpfs { destination: "/run/../run/./x/".into(), read_only: false, options: Vec::new() },
            ],
            masked: vec!["/proc/kcore".into()],
            read_only: vec!["/proc/sys".into()],
            read_only_root: true,
            nodev_root: false,
            ..spec(1)
        };
        let ops = plan(&with, NEW).unwrap();
        let text = shown(&ops);
        let sys = text.iter().position(|o| o == "mount sysfs on /sys").unwrap();
        assert_eq!(
            text[sys + 1..],
            [
                "create the directory /srv",
                "create the directory /srv/data",
                "bind-mount onto /srv/data",
                "create the directory /etc",
                "create the mount point /etc/app.conf",
                "bind-mount onto /etc/app.conf",
                "create the directory /run",
                "create the directory /run/x",
                "mount tmpfs on /run/x",
                "mask /proc/kcore",
                "make /proc/sys read-only",
                "wait for sbx before the last mounts",
                "pivot_root into the container's root",
                "make / read-only",
                "umask 22"
            ]
        );
        // What users and specs name follows the image's links inside the root; sbx's own paths
        // refuse them.
        for op in &ops[sys + 1..] {
            if let Some(at) = op.target() {
                assert_eq!(at.links, Links::InRoot, "{op}");
            }
        }
        for op in &ops[..=sys] {
            if let Some(at) = op.target() {
                assert_eq!(at.links, Links::Refused, "{op}");
            }
        }
    }

    #[test]
    fn a_mount_on_the_root_itself_is_refused() {
        for dest in ["/", "/..", "/a/..", "//."] {
            let with = RootfsSpec {
                mounts: vec![UserMount::Tmpfs { destination: dest.into(), read_only: false, options: Vec::new() }],
                ..spec(1)
            };
            assert_eq!(plan(&with, NEW), Err(PlanError::RootDestination(dest.into())));
        }
        let with = RootfsSpec { masked: vec!["/".into()], ..spec(1) };
        assert_eq!(plan(&with, NEW), Err(PlanError::RootDestination("/".into())));
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
                MountOp::AttachLayer { fd: 10, path: cstr("/s/layers/0/diff") },
                MountOp::AttachLayer { fd: 11, path: cstr("/s/layers/1/diff") },
                MountOp::EnterUsernsRoot { dir: cstr("/s/c") },
                MountOp::Overlay {
                    lowers: vec![cstr("/proc/self/fd/11"), cstr("/proc/self/fd/10")],
                    upper: cstr("upper"),
                    work: cstr("work"),
                    target: cstr("rootfs"),
                    flags: vec![c"userxattr"],
                },
            ]
        );
        assert!(!ops.iter().any(|o| matches!(o, MountOp::Mknod { .. })), "no mknod in a user namespace: {ops:?}");
        let at = |op: &MountOp| ops.iter().position(|o| o == op).unwrap();
        let null = at(&MountOp::Attach { fd: 20, at: own("/dev/null") });
        assert_eq!(ops[null - 1], MountOp::Touch { at: own("/dev/null") });
        assert!(at(&MountOp::Attach { fd: 26, at: own("/dev/kmsg") }) > null);
        // proc and sysfs are mounted while the host's root is still there (the kernel's condition
        // for mounting them in a user namespace).
        let sysfs =
            ops.iter().position(|o| matches!(o, MountOp::Mount { fstype, .. } if fstype.as_bytes() == b"sysfs"));
        assert!(sysfs.unwrap() < at(&MountOp::PivotRoot));

        let legacy = plan(&with, OLD).unwrap();
        let MountOp::LegacyOverlay { data, target } = &legacy[5] else { panic!("{legacy:?}") };
        assert_eq!(
            (data.to_str().unwrap(), target.to_str().unwrap()),
            ("lowerdir=/proc/self/fd/11:/proc/self/fd/10,upperdir=upper,workdir=work,userxattr", "rootfs")
        );
    }

    #[test]
    fn overlay_lowers_are_top_first_and_everything_is_mounted_before_the_pivot() {
        let ops = plan(&spec(3), NEW).unwrap();
        let MountOp::Overlay { lowers, .. } = &ops[2] else { panic!("overlay is third: {ops:?}") };
        assert_eq!(lowers, &vec![cstr("/s/layers/2/diff"), cstr("/s/layers/1/diff"), cstr("/s/layers/0/diff")]);
        assert_eq!(ops[1], MountOp::MakeRootPrivate);
        assert_eq!(ops[ops.len() - 3..], [MountOp::Pause, MountOp::PivotRoot, MountOp::Umask(0o022)]);
        // Every step between the overlay and the pivot works on a target beneath its root.
        for op in &ops[3..ops.len() - 3] {
            assert!(op.target().is_some(), "{op}");
        }
    }

    #[test]
    fn only_safe_devices_and_a_read_only_sysfs() {
        let ops = plan(&spec(1), NEW).unwrap();
        let nodes: Vec<String> = ops
            .iter()
            .filter_map(|o| if let MountOp::Mknod { at, .. } = o { Some(at.shown()) } else { None })
            .collect();
        assert_eq!(nodes, ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/tty"]);
        let sys = ops
            .iter()
            .find_map(|o| match o {
                MountOp::Mount { fstype, attrs, .. } if fstype.as_bytes() == b"sysfs" => Some(*attrs),
                _ => None,
            })
            .unwrap();
        assert!(sys.contains(RDONLY), "sysfs is read-only");
        let fs: Vec<String> = shown(&ops).into_iter().filter(|o| o.starts_with("mount ")).collect();
        assert_eq!(
            fs,
            [
                "mount the overlay of 1 layers on /s/c/rootfs",
                "mount proc on /proc",
                "mount tmpfs on /dev",
                "mount devpts on /dev/pts",
                "mount tmpfs on /dev/shm",
                "mount mqueue on /dev/mqueue",
                "mount sysfs on /sys"
            ]
        );
    }
}
