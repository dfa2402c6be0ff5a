//! An OCI bundle's config.json (runtime-spec 1.0 to 1.2, read with the oci-spec crate's types) as
//! the one spec sbx runs, [`ContainerSpec`], with the exact user it names. What sbx cannot give is
//! refused with the field named, never dropped in silence; what it gives its own way is said in
//! [`Bundle::notices`]. Pure.

use super::seccomp::Profile;
use super::security::{self, Seccomp};
use super::user::User;
use super::{CgroupMount, ContainerSpec, Limits, Mount, MountKind, Network, Sharing, Userns, caps, sysctl};
use oci_spec::runtime::{Capabilities, LinuxNamespaceType, Process, Spec};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

/// The runtime-spec versions sbx reads: 1.0.x, 1.1.x and 1.2.x.
pub const VERSIONS: &str = "1.0, 1.1 and 1.2";

/// The annotations engines put the image's name in, in the order they are tried.
const IMAGE_ANNOTATIONS: [&str; 3] =
    ["io.kubernetes.cri.image-name", "io.containerd.image.name", "org.opencontainers.image.ref.name"];

/// Whether a bundle's `annotations` name the image its root filesystem was made of.
pub fn names_image(annotations: &std::collections::BTreeMap<String, String>) -> bool {
    IMAGE_ANNOTATIONS.iter().any(|k| annotations.contains_key(*k))
}

/// The filesystems sbx mounts in every container, its own way (see [`crate::rootfs::plan`]):
/// a bundle's mount of one of these at its place is the same mount.
const OWN_MOUNTS: [(&str, &str); 6] = [
    ("/proc", "proc"),
    ("/dev", "tmpfs"),
    ("/dev/pts", "devpts"),
    ("/dev/shm", "tmpfs"),
    ("/dev/mqueue", "mqueue"),
    ("/sys", "sysfs"),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OciError {
    #[error(
        "config.json: ociVersion {0} is not one sbx knows (it reads {VERSIONS}); write the bundle for one of those"
    )]
    Version(String),
    #[error("config.json: {field}: {message}")]
    Field { field: &'static str, message: String },
    #[error(
        "config.json: {field} is not supported by sbx yet ({what}); leave it out of the bundle or run it with runc"
    )]
    Unsupported { field: &'static str, what: String },
}

fn field(field: &'static str, message: impl Into<String>) -> OciError {
    OciError::Field { field, message: message.into() }
}

fn unsupported(field: &'static str, what: impl Into<String>) -> OciError {
    OciError::Unsupported { field, what: what.into() }
}

/// What a bundle asks for, as sbx will run it.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub spec: ContainerSpec,
    /// The ids exactly as config.json gives them (no /etc/passwd lookup; `groups` are the
    /// additional gids alone).
    pub user: User,
    /// The root filesystem, absolute.
    pub root: PathBuf,
    /// What sbx does its own way, for the log.
    pub notices: Vec<String>,
    /// The bundle's hooks (see [`crate::runtime::hooks`]).
    pub hooks: Option<oci_spec::runtime::Hooks>,
    /// The namespaces it joins rather than gets.
    pub joins: Vec<Join>,
    /// `process.oomScoreAdj`.
    pub oom_score_adj: Option<i32>,
    /// `linux.cgroupsPath`, checked to be a path of plain names.
    pub cgroups_path: Option<PathBuf>,
    /// The id maps of its own user namespace, if it has one.
    pub id_maps: Option<IdMaps>,
}

/// `linux.uidMappings` and `linux.gidMappings`, as the lines of /proc/PID/uid_map and gid_map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMaps {
    pub uid: String,
    pub gid: String,
}

/// The id maps of a bundle whose `linux.namespaces` has a user namespace of its own (`user_ns`).
/// sbx enters that namespace as its root before it changes to the process's user, so both maps
/// must give the container's id 0 a host id. sysfs can be mounted only in a network namespace of
/// the user namespace's own, so the container must have one (runc binds the host's /sys instead).
fn id_maps(spec: &Spec, user_ns: bool, own_network: bool) -> Result<Option<IdMaps>, OciError> {
    let linux = spec.linux().as_ref();
    let uids = linux.and_then(|l| l.uid_mappings().clone()).unwrap_or_default();
    let gids = linux.and_then(|l| l.gid_mappings().clone()).unwrap_or_default();
    if !user_ns {
        return match uids.is_empty() && gids.is_empty() {
            true => Ok(None),
            false => Err(field(
                "linux.uidMappings",
                "given, but linux.namespaces has no user namespace: add {\"type\": \"user\"} or leave the mappings out",
            )),
        };
    }
    if !own_network {
        return Err(unsupported(
            "linux.namespaces",
            "a user namespace with the host's or a joined network namespace (sysfs cannot be mounted there): give the container a network namespace of its own",
        ));
    }
    let lines = |name: &'static str, maps: &[oci_spec::runtime::LinuxIdMapping]| -> Result<String, OciError> {
        if maps.is_empty() {
            return Err(field(name, "missing: a user namespace needs its ids mapped to host ids"));
        }
        if let Some(m) = maps.iter().find(|m| m.size() == 0) {
            return Err(field(name, format!("the mapping of container id {} has size 0", m.container_id())));
        }
        if !maps.iter().any(|m| m.container_id() == 0) {
            return Err(field(
                name,
                "maps no host id to the container's id 0 (its root): add a mapping with containerID 0",
            ));
        }
        Ok(maps.iter().map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size())).collect())
    };
    Ok(Some(IdMaps { uid: lines("linux.uidMappings", &uids)?, gid: lines("linux.gidMappings", &gids)? }))
}

fn cgroups_path(spec: &Spec) -> Result<Option<PathBuf>, OciError> {
    let Some(path) = spec.linux().as_ref().and_then(|l| l.cgroups_path().clone()) else { return Ok(None) };
    let plain = path.components().all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
    if !plain || !path.components().any(|c| matches!(c, Component::Normal(_))) {
        return Err(field("linux.cgroupsPath", format!("{} is not a path of cgroup names", path.display())));
    }
    // runc's systemd form (slice:prefix:name) names no directory.
    if path.to_string_lossy().contains(':') {
        return Err(unsupported("linux.cgroupsPath", format!("{}: systemd's slice:prefix:name form", path.display())));
    }
    Ok(Some(path))
}

/// `linux.sysctl`, each checked to be of a namespace of the container's own.
fn sysctls(spec: &Spec, network: Network) -> Result<BTreeMap<String, String>, OciError> {
    let listed = spec.linux().as_ref().and_then(|l| l.sysctl().as_ref());
    let mut out = BTreeMap::new();
    for (key, value) in listed.into_iter().flatten() {
        sysctl::check(key, network, &Sharing::Private).map_err(|e| field("linux.sysctl", e))?;
        out.insert(key.clone(), value.clone());
    }
    Ok(out)
}

/// `linux.devices` as device nodes sbx makes in the container's /dev (and allows in its device
/// cgroup), readable and writable as docker's `--device`.
fn devices(spec: &Spec) -> Result<Vec<security::Device>, OciError> {
    let listed = spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    let mut out = Vec::new();
    for d in listed.into_iter().flatten() {
        let path = d.path().to_string_lossy().into_owned();
        let (kind, type_bits) = match d.typ() {
            oci_spec::runtime::LinuxDeviceType::C | oci_spec::runtime::LinuxDeviceType::U => ('c', libc::S_IFCHR),
            oci_spec::runtime::LinuxDeviceType::B => ('b', libc::S_IFBLK),
            other => return Err(unsupported("linux.devices", format!("{path}: a device of type {other:?}"))),
        };
        if !path.starts_with("/dev/") || path.split('/').any(|p| p == "..") {
            return Err(field("linux.devices", format!("{path} is not a path under /dev")));
        }
        if d.uid().unwrap_or(0) != 0 || d.gid().unwrap_or(0) != 0 {
            return Err(unsupported("linux.devices", format!("{path}: an owner other than root")));
        }
        let major = u32::try_from(d.major()).map_err(|_| field("linux.devices", format!("{path}: bad major")))?;
        let minor = u32::try_from(d.minor()).map_err(|_| field("linux.devices", format!("{path}: bad minor")))?;
        out.push(security::Device {
            host_path: path.clone(),
            container_path: path,
            permissions: "rwm".into(),
            kind,
            major,
            minor,
            mode: type_bits | d.file_mode().unwrap_or(0o666),
        });
    }
    Ok(out)
}

/// Whether sbx reads config.json of runtime-spec `version`.
pub fn known_version(version: &str) -> bool {
    let mut parts = version.split(['.', '-', '+']);
    parts.next() == Some("1") && matches!(parts.next(), Some("0" | "1" | "2"))
}

fn cap_names(set: &Option<Capabilities>) -> BTreeSet<String> {
    set.iter().flatten().map(|c| format!("CAP_{c}")).collect()
}

fn capabilities(process: &Process, notices: &mut Vec<String>) -> Result<Option<Caps>, OciError> {
    let Some(c) = process.capabilities().as_ref() else {
        return Ok(None);
    };
    let bounding = cap_names(c.bounding());
    let root = process.user().uid() == 0;
    // Root keeps its permitted and effective sets across exec: sbx gives root one set. Another
    // user's are emptied by exec whatever they were (as with runc) but for the ambient ones:
    // they only need to be within the bounding set.
    let (effective, permitted) = (cap_names(c.effective()), cap_names(c.permitted()));
    let fits = match root {
        true => effective == bounding && permitted == bounding,
        false => effective.is_subset(&bounding) && permitted.is_subset(&bounding),
    };
    if !fits {
        return Err(unsupported(
            "process.capabilities",
            "effective and permitted sets that differ from the bounding set; sbx gives the process one set",
        ));
    }
    let canonical = |set: BTreeSet<String>| -> Result<Vec<String>, OciError> {
        set.into_iter()
            .map(|n| caps::canonical(&n).map(str::to_string).map_err(|e| field("process.capabilities", e.to_string())))
            .collect()
    };
    let (inheritable, ambient) = (cap_names(c.inheritable()), cap_names(c.ambient()));
    // The kernel raises an ambient capability only if it is permitted and inheritable; runc and
    // crun go on without the others (crun's default spec lists ambient ones it does not inherit).
    let (ambient, skipped): (BTreeSet<String>, BTreeSet<String>) =
        ambient.into_iter().partition(|a| permitted.contains(a) && inheritable.contains(a));
    if !skipped.is_empty() {
        let names: Vec<&str> = skipped.iter().map(String::as_str).collect();
        notices.push(format!(
            "process.capabilities.ambient: {} not raised (not both permitted and inheritable)",
            names.join(", ")
        ));
    }
    Ok(Some(Caps {
        bounding: canonical(bounding)?,
        inheritable: canonical(inheritable)?,
        ambient: canonical(ambient)?,
    }))
}

/// A process's capabilities as sbx applies them: the bounding set (also permitted and effective
/// for root), and the inheritable and ambient sets.
struct Caps {
    bounding: Vec<String>,
    inheritable: Vec<String>,
    ambient: Vec<String>,
}

fn ulimits(process: &Process) -> Result<Vec<security::Ulimit>, OciError> {
    process
        .rlimits()
        .iter()
        .flatten()
        .map(|r| {
            let typ = r.typ().to_string();
            let name = typ.strip_prefix("RLIMIT_").unwrap_or(&typ).to_ascii_lowercase();
            if security::resource_of(&name).is_none() {
                return Err(unsupported("process.rlimits", typ));
            }
            Ok(security::Ulimit { name, soft: r.soft(), hard: r.hard() })
        })
        .collect()
}

fn limits(spec: &Spec) -> Limits {
    spec.linux().as_ref().and_then(|l| l.resources().as_ref()).map(resource_limits).unwrap_or_default()
}

/// The limits sbx sets of `r` (`linux.resources`, or what `update --resources` reads).
pub fn resource_limits(r: &oci_spec::runtime::LinuxResources) -> Limits {
    let positive = |v: Option<i64>| v.filter(|v| *v > 0).map(|v| v as u64);
    let memory = r.memory().as_ref();
    let cpu = r.cpu().as_ref();
    let cpu_millis = cpu.and_then(|c| {
        let quota = positive(c.quota())?;
        Some(quota * 1000 / c.period().filter(|p| *p > 0).unwrap_or(100_000))
    });
    Limits {
        memory_bytes: positive(memory.and_then(|m| m.limit())),
        memory_swap: memory.and_then(|m| m.swap()).filter(|s| *s != 0),
        pids: r.pids().as_ref().and_then(|p| positive(Some(p.limit()))),
        cpu_millis,
        cpu_shares: cpu.and_then(|c| c.shares()).filter(|s| *s > 0),
        cpuset_cpus: cpu.and_then(|c| c.cpus().clone()).filter(|c| !c.is_empty()),
    }
}

fn is_cgroup_mount(destination: &str, typ: &str) -> bool {
    destination == "/sys/fs/cgroup" && matches!(typ, "cgroup" | "cgroup2")
}

/// The bundle's cgroup filesystem (either type: the host's version decides which is mounted).
fn cgroup_mount(spec: &Spec) -> Option<CgroupMount> {
    let m = spec
        .mounts()
        .iter()
        .flatten()
        .find(|m| is_cgroup_mount(&m.destination().to_string_lossy(), m.typ().as_deref().unwrap_or("")))?;
    Some(CgroupMount { read_only: m.options().iter().flatten().any(|o| o == "ro") })
}

fn mounts(spec: &Spec, bundle: &Path) -> Result<Vec<Mount>, OciError> {
    let mut out = Vec::new();
    for m in spec.mounts().iter().flatten() {
        let destination = m.destination().to_string_lossy().into_owned();
        if !destination.starts_with('/') {
            return Err(field("mounts", format!("destination {destination} is not absolute")));
        }
        let typ = m.typ().as_deref().unwrap_or("");
        let options = m.options().as_deref().unwrap_or(&[]);
        let has = |o: &str| options.iter().any(|x| x == o);
        if OWN_MOUNTS.contains(&(destination.as_str(), typ)) {
            continue;
        }
        if is_cgroup_mount(&destination, typ) {
            continue;
        }
        let read_only = has("ro");
        let bind = matches!(typ, "bind" | "rbind") || (matches!(typ, "" | "none") && (has("bind") || has("rbind")));
        let kind = match typ {
            _ if bind => MountKind::Bind,
            "tmpfs" => MountKind::Tmpfs,
            other => return Err(unsupported("mounts", format!("a mount of type '{other}' at {destination}"))),
        };
        let source = match (&kind, m.source()) {
            (MountKind::Tmpfs, _) => String::new(),
            (MountKind::Bind, Some(s)) => bundle.join(s).to_string_lossy().into_owned(),
            (MountKind::Bind, None) => {
                return Err(field("mounts", format!("the bind mount at {destination} has no source")));
            }
        };
        // A bundle's tmpfs keeps the options sbx knows (its size, mode, owner) and is noexec only if
        // it says so; the others (nosuid, nodev, propagation) are sbx's defaults or not applied.
        let mut kept: Vec<String> = Vec::new();
        if kind == MountKind::Tmpfs {
            let known = ["size=", "mode=", "uid=", "gid=", "nr_inodes="];
            kept.extend(options.iter().filter(|o| known.iter().any(|k| o.starts_with(k))).cloned());
            kept.push(if has("noexec") { "noexec" } else { "exec" }.to_string());
        }
        out.push(Mount { kind, source, destination, read_only, options: kept });
    }
    Ok(out)
}

/// A namespace the container joins instead of getting its own (`linux.namespaces[].path`, as
/// CRI engines give a pod's): its name under /proc/PID/ns, its clone flag, and the path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    pub proc_name: &'static str,
    pub flag: i32,
    pub path: PathBuf,
}

fn namespaces(spec: &Spec) -> Result<(Vec<String>, Network, Vec<Join>), OciError> {
    let listed = spec.linux().as_ref().and_then(|l| l.namespaces().as_ref());
    let mut names = Vec::new();
    let mut joins = Vec::new();
    for ns in listed.into_iter().flatten() {
        let (name, proc_name, flag) = match ns.typ() {
            LinuxNamespaceType::Mount => ("mount", "mnt", libc::CLONE_NEWNS),
            LinuxNamespaceType::Pid => ("pid", "pid", libc::CLONE_NEWPID),
            LinuxNamespaceType::Uts => ("uts", "uts", libc::CLONE_NEWUTS),
            LinuxNamespaceType::Ipc => ("ipc", "ipc", libc::CLONE_NEWIPC),
            LinuxNamespaceType::Network => ("network", "net", libc::CLONE_NEWNET),
            LinuxNamespaceType::Cgroup => ("cgroup", "cgroup", libc::CLONE_NEWCGROUP),
            LinuxNamespaceType::User => ("user", "user", libc::CLONE_NEWUSER),
            LinuxNamespaceType::Time => return Err(unsupported("linux.namespaces", "a time namespace")),
        };
        if let Some(path) = ns.path() {
            if matches!(name, "mount" | "user") {
                return Err(unsupported(
                    "linux.namespaces",
                    format!("joining the {name} namespace at {}", path.display()),
                ));
            }
            joins.push(Join { proc_name, flag, path: path.clone() });
        }
        names.push(name);
    }
    for own in ["mount", "pid", "uts", "ipc"] {
        if !names.contains(&own) {
            return Err(unsupported(
                "linux.namespaces",
                format!("the host's {own} namespace (sbx gives every container its own)"),
            ));
        }
    }
    let network = if names.contains(&"network") { Network::None } else { Network::Host };
    if !names.contains(&"cgroup") {
        names.push("cgroup");
    }
    Ok((names.into_iter().map(String::from).collect(), network, joins))
}

/// Puts `process` (config.json's, or the process.json of an exec) into `spec`: its command, env,
/// working directory, user, terminal, capabilities, rlimits and no_new_privs. Returns the user, its
/// ids exactly as given.
pub fn apply_process(spec: &mut ContainerSpec, process: &Process, notices: &mut Vec<String>) -> Result<User, OciError> {
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        return Err(field("process.args", "empty: name the program to run"));
    }
    let cwd = process.cwd().to_string_lossy().into_owned();
    if !cwd.starts_with('/') {
        return Err(field("process.cwd", format!("{cwd} is not absolute")));
    }
    if let Some(profile) = process.apparmor_profile().as_ref().filter(|p| !p.is_empty()) {
        notices.push(format!("AppArmor profile {profile} not applied: sbx does not use AppArmor"));
    }
    let user = process.user();
    spec.args = args;
    spec.env = process.env().clone().unwrap_or_default();
    spec.cwd = cwd;
    spec.user = format!("{}:{}", user.uid(), user.gid());
    spec.terminal = process.terminal().unwrap_or(false);
    spec.no_new_privileges = process.no_new_privileges().unwrap_or(false);
    // An exec's process without them keeps the container's.
    if let Some(caps) = capabilities(process, notices)? {
        spec.capabilities = caps.bounding;
        spec.inheritable_capabilities = caps.inheritable;
        spec.ambient_capabilities = caps.ambient;
    }
    if process.rlimits().is_some() {
        spec.ulimits = ulimits(process)?;
    }
    // Exactly the additional gids, as runc sets them: the primary group is not added.
    let groups = user.additional_gids().clone().unwrap_or_default();
    Ok(User { uid: user.uid(), gid: user.gid(), groups, home: "/".into() })
}

/// Reads `spec`, the config.json of the bundle at `bundle` (absolute).
pub fn from_oci(spec: &Spec, bundle: &Path) -> Result<Bundle, OciError> {
    if !known_version(spec.version()) {
        return Err(OciError::Version(spec.version().clone()));
    }
    let process = spec.process().as_ref().ok_or_else(|| field("process", "missing: the bundle runs nothing"))?;
    let root = spec.root().as_ref().ok_or_else(|| field("root", "missing: name the root filesystem"))?;
    let linux = spec.linux().as_ref();
    if let Some(h) = spec.hooks() {
        let all =
            [h.prestart(), h.create_runtime(), h.create_container(), h.start_container(), h.poststart(), h.poststop()];
        for hook in all.into_iter().flatten().flatten() {
            if !hook.path().is_absolute() {
                return Err(field("hooks", format!("the path {} is not absolute", hook.path().display())));
            }
            if hook.timeout().is_some_and(|t| t <= 0) {
                return Err(field("hooks", format!("the timeout of {} is not positive", hook.path().display())));
            }
        }
    }
    let mut notices = Vec::new();
    let seccomp = match linux.and_then(|l| l.seccomp().as_ref()) {
        None => Seccomp::Unconfined,
        Some(s) => {
            let text = serde_json::to_string(s).map_err(|e| field("linux.seccomp", e.to_string()))?;
            Seccomp::Profile(Box::new(
                Profile::parse(&text, "linux.seccomp").map_err(|e| field("linux.seccomp", e.to_string()))?,
            ))
        }
    };
    let (namespaces, network, joins) = namespaces(spec)?;
    let own_network = network == Network::None && !joins.iter().any(|j| j.flag == libc::CLONE_NEWNET);
    let id_maps = id_maps(spec, namespaces.iter().any(|n| n == "user"), own_network)?;
    if joins.iter().any(|j| j.flag == libc::CLONE_NEWUTS) && spec.hostname().as_ref().is_some_and(|h| !h.is_empty()) {
        return Err(field("hostname", "cannot be set in a UTS namespace the container joins; leave it out"));
    }
    let annotations: std::collections::BTreeMap<String, String> =
        spec.annotations().iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
    let image = IMAGE_ANNOTATIONS
        .iter()
        .find_map(|k| annotations.get(*k).cloned())
        .unwrap_or_else(|| bundle.to_string_lossy().into_owned());
    let mut container = ContainerSpec {
        image,
        args: Vec::new(),
        env: Vec::new(),
        user: String::new(),
        cwd: String::new(),
        hostname: spec.hostname().clone().unwrap_or_default(),
        mounts: mounts(spec, bundle)?,
        read_only_rootfs: root.readonly().unwrap_or(false),
        capabilities: Vec::new(),
        inheritable_capabilities: Vec::new(),
        ambient_capabilities: Vec::new(),
        masked_paths: linux.and_then(|l| l.masked_paths().clone()).unwrap_or_default(),
        read_only_paths: linux.and_then(|l| l.readonly_paths().clone()).unwrap_or_default(),
        namespaces,
        limits: limits(spec),
        network,
        networks: Vec::new(),
        ports: Vec::new(),
        userns: if id_maps.is_some() { Userns::Auto } else { Userns::Host },
        annotations,
        terminal: false,
        init: false,
        no_new_privileges: false,
        seccomp,
        devices: devices(spec)?,
        ulimits: Vec::new(),
        privileged: false,
        cgroup_mount: cgroup_mount(spec),
        cgroups: super::Cgroups::Enabled,
        extra_hosts: Vec::new(),
        dns: Vec::new(),
        dns_search: Vec::new(),
        dns_options: Vec::new(),
        labels: Default::default(),
        stop_signal: None,
        stop_timeout: None,
        shm_size: None,
        restart: Default::default(),
        group_add: Vec::new(),
        sysctls: sysctls(spec, network)?,
        ipc: Sharing::Private,
        pid: Sharing::Private,
        healthcheck: None,
    };
    let user = apply_process(&mut container, process, &mut notices)?;
    Ok(Bundle {
        spec: container,
        user,
        root: bundle.join(root.path()),
        notices,
        hooks: spec.hooks().clone(),
        joins,
        oom_score_adj: process.oom_score_adj(),
        cgroups_path: cgroups_path(spec)?,
        id_maps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::{Hook, Hooks, LinuxNamespaceBuilder};

    fn with_namespaces(edit: impl Fn(&mut Vec<oci_spec::runtime::LinuxNamespace>)) -> Spec {
        let mut spec = Spec::default();
        let mut linux = spec.linux().clone().unwrap();
        let mut list = linux.namespaces().clone().unwrap();
        edit(&mut list);
        linux.set_namespaces(Some(list));
        spec.set_linux(Some(linux));
        spec
    }

    fn join(typ: LinuxNamespaceType, path: &str) -> impl Fn(&mut Vec<oci_spec::runtime::LinuxNamespace>) {
        let path = path.to_string();
        move |list| {
            list.retain(|n| n.typ() != typ);
            list.push(LinuxNamespaceBuilder::default().typ(typ).path(path.clone()).build().unwrap());
        }
    }

    #[test]
    fn a_user_namespace_takes_the_bundles_mappings_as_map_lines() {
        use oci_spec::runtime::LinuxIdMappingBuilder;
        let map = |c: u32, h: u32, n: u32| LinuxIdMappingBuilder::default().container_id(c).host_id(h).size(n).build();
        let with = |uids: Vec<_>, gids: Vec<_>| {
            let mut spec = with_namespaces(|l| {
                l.push(LinuxNamespaceBuilder::default().typ(LinuxNamespaceType::User).build().unwrap())
            });
            let mut linux = spec.linux().clone().unwrap();
            linux.set_uid_mappings(Some(uids)).set_gid_mappings(Some(gids));
            spec.set_linux(Some(linux));
            from_oci(&spec, Path::new("/b"))
        };
        let b = with(vec![map(0, 1000, 1).unwrap(), map(1, 100000, 65535).unwrap()], vec![map(0, 1000, 10).unwrap()])
            .unwrap();
        let maps = IdMaps { uid: "0 1000 1\n1 100000 65535\n".into(), gid: "0 1000 10\n".into() };
        assert_eq!((b.id_maps, b.spec.userns), (Some(maps), Userns::Auto));
        assert!(b.spec.namespaces.contains(&"user".to_string()));
        let err = |r: Result<Bundle, OciError>| r.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(with(vec![], vec![map(0, 1, 1).unwrap()])).contains("linux.uidMappings: missing"));
        assert!(err(with(vec![map(1, 1, 1).unwrap()], vec![map(0, 1, 1).unwrap()])).contains("container's id 0"));
        assert!(err(with(vec![map(0, 1, 0).unwrap()], vec![map(0, 1, 1).unwrap()])).contains("size 0"));
        assert_eq!(from_oci(&Spec::default(), Path::new("/b")).unwrap().id_maps, None);
    }

    #[test]
    fn a_namespace_with_a_path_is_joined_and_still_listed() {
        let b = from_oci(&Spec::default(), Path::new("/b")).unwrap();
        assert!(b.joins.is_empty());
        assert_eq!(b.spec.network, Network::None);
        let mut spec = with_namespaces(join(LinuxNamespaceType::Network, "/run/netns/pod"));
        spec.set_hostname(None);
        let b = from_oci(&spec, Path::new("/b")).unwrap();
        assert_eq!(b.joins, [Join { proc_name: "net", flag: libc::CLONE_NEWNET, path: "/run/netns/pod".into() }]);
        assert!(b.spec.namespaces.contains(&"network".to_string()));
        assert_eq!(b.spec.network, Network::None, "a pod's network is not the host's");
    }

    #[test]
    fn joins_sbx_cannot_make_are_refused_by_name() {
        let e = from_oci(&with_namespaces(join(LinuxNamespaceType::Mount, "/proc/1/ns/mnt")), Path::new("/b"));
        assert!(e.unwrap_err().to_string().contains("joining the mount namespace at /proc/1/ns/mnt"));
        let mut spec = with_namespaces(join(LinuxNamespaceType::Uts, "/proc/9/ns/uts"));
        spec.set_hostname(Some("box".into()));
        let e = from_oci(&spec, Path::new("/b")).unwrap_err();
        assert_eq!(e, field("hostname", "cannot be set in a UTS namespace the container joins; leave it out"));
    }

    #[test]
    fn ambient_capabilities_the_process_cannot_inherit_are_left_out_and_said() {
        let mut spec = Spec::default();
        let mut process = spec.process().clone().unwrap();
        let mut caps = process.capabilities().clone().unwrap();
        caps.set_inheritable(Some([oci_spec::runtime::Capability::Kill].into()));
        caps.set_ambient(Some([oci_spec::runtime::Capability::Kill, oci_spec::runtime::Capability::AuditWrite].into()));
        process.set_capabilities(Some(caps));
        spec.set_process(Some(process));
        let b = from_oci(&spec, Path::new("/b")).unwrap();
        assert_eq!(b.spec.ambient_capabilities, ["CAP_KILL"]);
        assert!(b.notices.iter().any(|n| n.contains("CAP_AUDIT_WRITE not raised")), "{:?}", b.notices);
    }

    #[test]
    fn hooks_need_absolute_paths_and_positive_timeouts() {
        let spec_with = |path: &str, timeout: Option<i64>| {
            let mut hook = Hook::default();
            hook.set_path(path.into());
            hook.set_timeout(timeout);
            let mut hooks = Hooks::default();
            hooks.set_create_runtime(Some(vec![hook]));
            let mut spec = Spec::default();
            spec.set_hooks(Some(hooks));
            spec
        };
        let b = from_oci(&spec_with("/usr/bin/hook", Some(5)), Path::new("/b")).unwrap();
        assert_eq!(b.hooks.unwrap().create_runtime().as_ref().unwrap().len(), 1);
        let e = from_oci(&spec_with("hook", None), Path::new("/b")).unwrap_err();
        assert_eq!(e, field("hooks", "the path hook is not absolute"));
        let e = from_oci(&spec_with("/h", Some(0)), Path::new("/b")).unwrap_err();
        assert_eq!(e, field("hooks", "the timeout of /h is not positive"));
    }
}
