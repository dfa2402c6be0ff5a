//! The process a container runs, from the image config and the run flags. Pure.

use super::security::{self, Device, Seccomp, SecurityError, SecurityOpts, Ulimit};
use crate::spec::caps;
use oci_spec::image::Config;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// CMD from the command line; replaces the image's Cmd.
    pub cmd: Vec<String>,
    /// `--entrypoint`: replaces the image's Entrypoint, and drops its Cmd (as docker does); empty
    /// clears it.
    pub entrypoint: Option<String>,
    /// `-e K=V`, or `-e K` to take K from sbx's own environment.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    /// `-v HOST:CTR[:ro]`.
    pub volumes: Vec<String>,
    /// `--tmpfs PATH`.
    pub tmpfs: Vec<String>,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub limits: Limits,
    pub tty: bool,
    pub init: bool,
    pub security: SecurityOpts,
    pub privileged: bool,
    pub devices: Vec<Device>,
    pub ulimits: Vec<Ulimit>,
    pub network: Network,
    /// The bridge networks of `--network` (with `network` Bridge), with `--network-alias`.
    pub networks: Vec<NetworkAttachment>,
    /// `-p`, and `-P` (the image's exposed ports, added when the spec is built).
    pub ports: Vec<super::PublishedPort>,
    pub publish_all: bool,
    pub userns: Userns,
    /// `--cgroups`: a cgroup of its own, or none (see [`super::cgroups`]).
    pub cgroups: super::Cgroups,
    /// `--add-host NAME:IP`, `--dns IP`, `--dns-search DOMAIN`, `--dns-option OPT`.
    pub extra_hosts: Vec<String>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// `--label KEY=VALUE` (or KEY, for an empty value), `--stop-signal`, `--stop-timeout`.
    pub labels: Vec<String>,
    pub stop_signal: Option<String>,
    pub stop_timeout: Option<u64>,
    pub shm_size: Option<u64>,
    /// `--restart`: what the monitor of a detached container does when it ends.
    pub restart: super::restart::RestartPolicy,
    /// `--group-add`.
    pub group_add: Vec<String>,
    /// `--sysctl KEY=VALUE`.
    pub sysctls: BTreeMap<String, String>,
    /// `--ipc`, `--pid`.
    pub ipc: super::Sharing,
    pub pid: super::Sharing,
    /// `--health-*`, `--no-healthcheck` (see [`super::health::resolve`]).
    pub health: super::health::HealthFlags,
    /// The spec's annotations (a build's RUN step says which step it is).
    pub annotations: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MountKind {
    Bind,
    Tmpfs,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Mount {
    pub kind: MountKind,
    /// The host path of a bind mount; empty for tmpfs.
    #[serde(default)]
    pub source: String,
    pub destination: String,
    #[serde(default)]
    pub read_only: bool,
    /// A tmpfs's options as `--tmpfs PATH:OPTS` gave them, checked by [`parse_tmpfs`]: `size=`,
    /// `mode=`, `uid=`, `gid=`, `nr_inodes=`, and `exec` (a tmpfs is noexec unless it says so).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Limits {
    pub memory_bytes: Option<u64>,
    pub pids: Option<u64>,
    /// Thousandths of a CPU.
    pub cpu_millis: Option<u64>,
    /// `--memory-swap`: memory plus swap, in bytes; -1 for no limit on swap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_swap: Option<i64>,
    /// `--cpu-shares`: the relative weight (docker's 2..262144, 1024 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<u64>,
    /// `--cpuset-cpus`: the CPUs it may run on (0-3, 0,2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuset_cpus: Option<String>,
}

impl Limits {
    /// These limits, with `earlier`'s where these set none (`update` changes what it names).
    pub fn over(self, earlier: &Limits) -> Limits {
        Limits {
            memory_bytes: self.memory_bytes.or(earlier.memory_bytes),
            pids: self.pids.or(earlier.pids),
            cpu_millis: self.cpu_millis.or(earlier.cpu_millis),
            memory_swap: self.memory_swap.or(earlier.memory_swap),
            cpu_shares: self.cpu_shares.or(earlier.cpu_shares),
            cpuset_cpus: self.cpuset_cpus.or_else(|| earlier.cpuset_cpus.clone()),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Network {
    /// Its own network namespace with only loopback.
    #[default]
    None,
    Host,
    /// Its own network namespace, with loopback and an interface on each bridge network of the
    /// spec's `networks` (docker's default).
    Bridge,
    /// Its own network namespace, with loopback and a tap device that slirp4netns carries through
    /// sockets of the user's (rootless podman's network; the default of a rootless sbx).
    Slirp4netns,
}

impl Network {
    /// Whether the container has a network namespace of its own (not the host's).
    pub fn is_own(self) -> bool {
        self != Network::Host
    }
}

/// A bridge network a container is on, and the names (beyond its own) it has there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct NetworkAttachment {
    pub name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// `--userns`: whose user ids the container runs with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Userns {
    /// The host's: root in the container is root on the host (docker's default).
    #[default]
    Host,
    /// Its own user namespace, mapped to a private range of host ids (podman's `auto`; for an OCI
    /// bundle, the ranges its `linux.uidMappings` and `gidMappings` give).
    Auto,
}

/// `--userns`: `host` or `auto`.
pub fn parse_userns(text: &str) -> Result<Userns, String> {
    match text {
        "host" | "" => Ok(Userns::Host),
        "auto" => Ok(Userns::Auto),
        other => Err(format!(
            "user namespace mode '{other}' is not supported: use host (the host's ids, the default) or auto (a private range of host ids from /etc/subuid and /etc/subgid)"
        )),
    }
}

/// Everything a container is run with: what spec policies see and adjust, and what sbx applies.
/// Written to the container's directory as `spec.json`; `sbx policy test --spec` reads it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct ContainerSpec {
    /// The image as the user named it.
    pub image: String,
    pub args: Vec<String>,
    pub env: Vec<String>,
    /// As written (`bob`, `1000:1000`); resolved against the container's files later.
    pub user: String,
    pub cwd: String,
    pub hostname: String,
    #[serde(default)]
    pub mounts: Vec<Mount>,
    #[serde(default)]
    pub read_only_rootfs: bool,
    pub capabilities: Vec<String>,
    /// The inheritable set (an OCI bundle's; empty for sbx's own containers, as docker's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inheritable_capabilities: Vec<String>,
    /// The ambient set, kept across exec even by a user other than root (an OCI bundle's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ambient_capabilities: Vec<String>,
    #[serde(default)]
    pub masked_paths: Vec<String>,
    #[serde(default)]
    pub read_only_paths: Vec<String>,
    pub namespaces: Vec<String>,
    #[serde(default)]
    pub limits: Limits,
    #[serde(default)]
    pub network: Network,
    /// With `network` Bridge: the networks it is on, in order (its eth0 is on the first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworkAttachment>,
    /// Host ports that lead to its ports, through its first network (`-p`, `-P`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<super::PublishedPort>,
    #[serde(default)]
    pub userns: Userns,
    /// `--cgroups=disabled`: no cgroup of its own (no limits, stats, pause or device cgroup; see
    /// [`super::cgroups`]).
    #[serde(default, skip_serializing_if = "super::Cgroups::is_enabled")]
    pub cgroups: super::Cgroups,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// `-t`: the process gets a terminal (a pty in the container's /dev/pts) as stdin, stdout and
    /// stderr.
    #[serde(default)]
    pub terminal: bool,
    /// `--init`: a minimal init is PID 1, reaping zombies and forwarding signals to the command.
    #[serde(default)]
    pub init: bool,
    /// no_new_privs: exec grants no privileges (setuid bits, file capabilities). On by default;
    /// `--security-opt no-new-privileges=false` turns it off.
    #[serde(default = "yes")]
    pub no_new_privileges: bool,
    #[serde(default)]
    pub seccomp: Seccomp,
    /// Host devices the container may use (`--device`), beyond the safe default ones.
    #[serde(default)]
    pub devices: Vec<Device>,
    #[serde(default)]
    pub ulimits: Vec<Ulimit>,
    /// `--privileged`: every capability, no seccomp filter, no masked or read-only paths, every
    /// device allowed by the device cgroup.
    #[serde(default)]
    pub privileged: bool,
    /// The cgroup filesystem at /sys/fs/cgroup, as the container's cgroup namespace sees it (only
    /// its own cgroup): a bundle's `cgroup` mount; `sbx run` gives it read-only (read-write with
    /// `--privileged`), as docker does, to a container not in a user namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_mount: Option<CgroupMount>,
    /// Entries added to the container's /etc/hosts (`NAME:IP`), and what replaces the host's
    /// servers, search domains and options in its /etc/resolv.conf (see container::etc_files).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_options: Vec<String>,
    /// The container's labels: the image's, then `--label`'s (docker's Config.Labels).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The signal `sbx stop` sends first (`--stop-signal`, else the image's StopSignal; SIGTERM
    /// when neither), and the seconds it waits before SIGKILL (`--stop-timeout`; 10 when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u64>,
    /// The size of the container's /dev/shm in bytes (`--shm-size`; 64 MiB when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    /// `--group-add`: more supplementary groups (gids, or names in the container's /etc/group).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    /// `--restart`: kept for the monitor of a detached container.
    #[serde(default, skip_serializing_if = "super::restart::RestartPolicy::is_no")]
    pub restart: super::restart::RestartPolicy,
    /// Kernel parameters set in the container's own namespaces (`--sysctl`, `linux.sysctl`;
    /// see [`super::sysctl`]).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    /// `--ipc`, `--pid`: its own IPC and PID namespaces, the host's, or another container's (by
    /// id). A namespace of the host's is not in `namespaces`.
    #[serde(default, skip_serializing_if = "super::Sharing::is_private")]
    pub ipc: super::Sharing,
    #[serde(default, skip_serializing_if = "super::Sharing::is_private")]
    pub pid: super::Sharing,
    /// The health check the monitor of a running container runs (the image's HEALTHCHECK or
    /// `--health-cmd`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<super::health::Healthcheck>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct CgroupMount {
    pub read_only: bool,
}

fn yes() -> bool {
    true
}

/// The namespaces every container gets.
pub const NAMESPACES: [&str; 7] = ["mount", "pid", "uts", "ipc", "network", "cgroup", "user"];

/// Hidden from every container, as runc does: kernel memory, keys and timers that leak host
/// state, and firmware interfaces.
pub const MASKED_PATHS: [&str; 10] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/timer_stats",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
];

/// Read-only in every container, as runc does: kernel tunables and triggers.
pub const READ_ONLY_PATHS: [&str; 5] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SpecError {
    #[error("no command specified: the image has no Entrypoint or Cmd; give one after the image name")]
    NoCommand,
    #[error("unknown stop signal '{0}': give a name such as TERM, SIGQUIT or HUP, or a number")]
    BadStopSignal(String),
    #[error("--shm-size must be more than 0 bytes")]
    BadShmSize,
    #[error("bad label '{0}': expected KEY=VALUE or KEY, with a key")]
    BadLabel(String),
    #[error("the working directory '{0}' is not an absolute path")]
    RelativeWorkdir(String),
    #[error("bad environment variable '{0}': expected KEY=VALUE or KEY")]
    BadEnv(String),
    #[error("bad volume '{0}': expected HOST:CONTAINER or HOST:CONTAINER:ro with absolute paths")]
    BadVolume(String),
    #[error(
        "-v {0}: a named volume is made by `sbx run` and `sbx create` only; give a host directory here (-v /srv/data:/data)"
    )]
    NamedVolume(String),
    #[error(
        "'{0}' is not a valid volume name: use letters, digits, '_', '.' and '-', starting with a letter or digit, at least two characters"
    )]
    BadVolumeName(String),
    #[error(
        "volume {0}: volumes are not supported with --userns=auto yet (their files would not be the container's ids); bind a host directory the container's ids own"
    )]
    VolumeWithUserns(String),
    #[error("invalid restart policy '{0}': give no, on-failure[:MAX_RETRIES], always or unless-stopped")]
    BadRestart(String),
    #[error("bad --mount '{arg}': {why}")]
    BadMount { arg: String, why: String },
    #[error("bad mount destination '{0}': expected an absolute path other than / without '..'")]
    BadDestination(String),
    #[error("bad tmpfs option '{option}' in --tmpfs {arg}: {why}")]
    BadTmpfs { arg: String, option: String, why: &'static str },
    #[error("two mounts at {0}; give each destination once")]
    DuplicateMount(String),
    #[error("bad path '{0}': expected an absolute path without '..'")]
    BadPath(String),
    #[error("{0}")]
    Capability(#[from] caps::UnknownCapability),
    #[error(transparent)]
    Security(#[from] SecurityError),
    #[error("--memory-swap needs --memory (-m): it is memory plus swap")]
    SwapWithoutMemory,
    #[error("--memory-swap is memory plus swap: it cannot be below --memory")]
    SwapBelowMemory,
    #[error(
        "--userns=auto cannot be combined with --network host: a user namespace cannot mount the host network's /sys; use --network none"
    )]
    UsernsWithHostNetwork,
    #[error("{0} is not supported rootless: it needs root on the host; run sbx as root for it")]
    Rootless(&'static str),
    #[error("--cgroups=disabled gives the container no cgroup, which {0}: drop the flag or run with cgroups")]
    NoCgroups(&'static str),
    #[error(
        "--cgroups=disabled gives the container no device cgroup, without which {0} would let it make or reach host device nodes: leave it out or run with cgroups"
    )]
    NoDeviceCgroup(&'static str),
    #[error("a spec's networks are for its bridge network mode only, and that mode needs at least one")]
    NetworksWithoutBridge,
    #[error(
        "publishing {0} needs a bridge network (--network bridge or a network's name) or slirp4netns; with --network host the container's ports are the host's"
    )]
    PortsWithoutBridge(String),
    #[error("bad host address '{0}' for a published port: expected an IPv4 address, or empty for all")]
    BadPortHostIp(String),
    #[error("{0}")]
    Limit(String),
    #[error(
        "bad --add-host '{0}': expected NAME:IP, such as db:10.0.0.5 (host-gateway is not supported yet: give the address)"
    )]
    BadHost(String),
    #[error("{0}")]
    Health(String),
    #[error("bad --sysctl: {0}")]
    Sysctl(String),
    #[error(
        "{0} cannot be combined with --userns=auto: a user namespace of its own cannot use the host's or another container's namespaces"
    )]
    SharingWithUserns(&'static str),
    #[error("bad --dns '{0}': expected an IP address")]
    BadDns(String),
    #[error("bad --{flag} '{value}': expected one word, without spaces or control characters")]
    BadDnsWord { flag: &'static str, value: String },
}

/// The ranges the command line takes for each limit; a limit that came from a plugin or a file is
/// held to them too (a memory limit of 0 would kill the container at its first page).
pub fn validate_limits(l: &Limits) -> Result<(), SpecError> {
    let bad = |what: String| Err(SpecError::Limit(what));
    if let Some(m) = l.memory_bytes.filter(|m| *m < 1 << 20) {
        return bad(format!("a memory limit of {m} bytes is too small: the memory limit must be at least 1m"));
    }
    if let Some(s) = l.memory_swap.filter(|s| *s < -1) {
        return bad(format!("a memory-swap limit of {s} is not valid: give bytes, or -1 for no limit on swap"));
    }
    if let Some(p) = l.pids.filter(|p| *p == 0) {
        return bad(format!("a pids limit of {p} would let the container start no process: give at least 1"));
    }
    if let Some(c) = l.cpu_millis.filter(|c| !(10..=1_024_000).contains(c)) {
        return bad(format!("{c} thousandths of a CPU is out of range: give between 0.01 and 1024 CPUs"));
    }
    if let Some(w) = l.cpu_shares.filter(|w| !(2..=262_144).contains(w)) {
        return bad(format!("a CPU weight of {w} is out of range: give between 2 and 262144"));
    }
    if let Some(cpus) = &l.cpuset_cpus {
        parse_cpuset(cpus).map_err(SpecError::Limit)?;
    }
    Ok(())
}

/// The variables of an `--env-file`: KEY=VALUE or KEY lines; blank lines and `#` comments skipped.
pub fn env_file_lines(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(str::to_string).collect()
}

/// `--memory-swap`: like `--memory`, or -1 for no limit on swap.
pub fn parse_memory_swap(text: &str) -> Result<i64, String> {
    if text.trim() == "-1" {
        return Ok(-1);
    }
    parse_memory(text).map(|b| b as i64)
}

/// `--cpuset-cpus`: a list of CPU numbers and ranges (0-3,5).
pub fn parse_cpuset(text: &str) -> Result<String, String> {
    let number = |n: &str| n.parse::<u32>().is_ok();
    let ok = !text.is_empty()
        && text.split(',').all(|part| match part.split_once('-') {
            Some((a, b)) => number(a) && number(b) && a.parse::<u32>().ok() <= b.parse::<u32>().ok(),
            None => number(part),
        });
    if ok {
        Ok(text.to_string())
    } else {
        Err(format!("'{text}' is not a CPU list: expected numbers and ranges, such as 0-3,5"))
    }
}

/// A container's name as docker takes it: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
pub fn valid_container_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// `--network` and `--network-alias`: `none` (its own namespace with only loopback), `host` (the
/// host's network namespace), or the name of a bridge network (`bridge`, the default one, or one
/// of `sbx network create`), whose existence is the store's business.
pub fn parse_network(text: &str, aliases: &[String]) -> Result<(Network, Vec<NetworkAttachment>), String> {
    let mode = match text {
        "none" => Network::None,
        "host" => Network::Host,
        "slirp4netns" => Network::Slirp4netns,
        other if other.starts_with("container:") => {
            return Err(format!(
                "--network {other} is not supported: sbx does not share one container's network with another; put both on one network (`sbx network create`)"
            ));
        }
        "" => return Err("--network needs a value: none, host, bridge, slirp4netns or a network's name".into()),
        _ => Network::Bridge,
    };
    if !aliases.is_empty() && (mode != Network::Bridge || text == "bridge") {
        return Err(format!(
            "--network-alias needs a user-defined network (`sbx network create NAME`), not --network {text}: names are resolved on those only, as in docker"
        ));
    }
    let networks = match mode {
        Network::Bridge => vec![NetworkAttachment { name: text.to_string(), aliases: aliases.to_vec() }],
        _ => Vec::new(),
    };
    Ok((mode, networks))
}

/// `--memory`: bytes, or a number with a unit b, k, m, g (powers of 1024), as docker takes it.
pub fn parse_memory(text: &str) -> Result<u64, String> {
    let t = text.trim().to_ascii_lowercase();
    let (digits, shift) = match t.char_indices().last() {
        Some((i, 'b')) => (&t[..i], 0),
        Some((i, 'k')) => (&t[..i], 10),
        Some((i, 'm')) => (&t[..i], 20),
        Some((i, 'g')) => (&t[..i], 30),
        _ => (t.as_str(), 0),
    };
    let n: u64 =
        digits.parse().map_err(|_| format!("'{text}' is not a size: expected bytes or a number with b, k, m or g"))?;
    n.checked_shl(shift)
        .filter(|v| v >> shift == n && *v >= 1 << 20)
        .ok_or_else(|| format!("'{text}' is out of range: the memory limit must be at least 1m"))
}

/// `--cpus`: a positive decimal number of CPUs, in thousandths.
pub fn parse_cpus(text: &str) -> Result<u64, String> {
    let cpus: f64 = text.trim().parse().map_err(|_| format!("'{text}' is not a number of CPUs (such as 0.5 or 2)"))?;
    if !(0.01..=1024.0).contains(&cpus) {
        return Err(format!("'{text}' is out of range: give between 0.01 and 1024 CPUs"));
    }
    Ok((cpus * 1000.0).round() as u64)
}

/// `--cpus` against the CPUs the host has: docker refuses more.
pub fn check_cpus_of_host(millis: u64, host_cpus: u64) -> Result<(), String> {
    if millis > host_cpus * 1000 {
        return Err(format!(
            "--cpus {}: the range of CPUs is from 0.01 to {host_cpus}.00, as this host has only {host_cpus} CPUs",
            millis as f64 / 1000.0
        ));
    }
    Ok(())
}

/// Checks a container path: absolute, no `..`, not `/` itself. Returns it without a trailing `/`.
pub fn check_destination(path: &str) -> Result<String, SpecError> {
    let trimmed = path.trim_end_matches('/');
    let ok = path.starts_with('/') && !trimmed.is_empty() && !trimmed.split('/').any(|c| c == "..");
    if ok { Ok(trimmed.to_string()) } else { Err(SpecError::BadDestination(path.to_string())) }
}

/// `-v HOST:CTR[:ro|rw]` as a bind mount.
pub fn parse_volume(v: &str) -> Result<Mount, SpecError> {
    let bad = || SpecError::BadVolume(v.to_string());
    let parts: Vec<&str> = v.split(':').collect();
    let (source, destination, read_only) = match parts.as_slice() {
        [s, d] => (*s, *d, false),
        [s, d, "ro"] => (*s, *d, true),
        [s, d, "rw"] => (*s, *d, false),
        _ => return Err(bad()),
    };
    if !source.is_empty() && !source.starts_with(['/', '.']) && !source.contains('/') {
        return Err(SpecError::NamedVolume(v.to_string()));
    }
    if !source.starts_with('/') || source.split('/').any(|c| c == "..") {
        return Err(bad());
    }
    Ok(Mount {
        kind: MountKind::Bind,
        source: source.into(),
        destination: check_destination(destination)?,
        read_only,
        options: Vec::new(),
    })
}

const KNOWN_TMPFS_OPTIONS: &str = "known are ro, rw, size=, mode=, uid=, gid=, nr_inodes=, exec, noexec";

/// `--tmpfs PATH[:OPTIONS]` as docker takes it: `ro`/`rw`, `size=` (bytes, with k, m or g, or a
/// percentage of memory), `mode=` (octal), `uid=`, `gid=`, `nr_inodes=`, `exec`/`noexec`;
/// `nosuid` and `nodev` are always on (`suid` and `dev` are refused). Pure.
pub fn parse_tmpfs(arg: &str) -> Result<Mount, SpecError> {
    let (path, opts) = arg.split_once(':').unwrap_or((arg, ""));
    let mut mount = Mount {
        kind: MountKind::Tmpfs,
        source: String::new(),
        destination: check_destination(path)?,
        read_only: false,
        options: Vec::new(),
    };
    for option in opts.split(',').filter(|o| !o.is_empty()) {
        let bad = |why| SpecError::BadTmpfs { arg: arg.to_string(), option: option.to_string(), why };
        let number = |v: &str, units: &[char]| {
            let digits = v.strip_suffix(units).unwrap_or(v);
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        };
        match option.split_once('=') {
            None => match option {
                "ro" => mount.read_only = true,
                "rw" => mount.read_only = false,
                "exec" | "noexec" => {
                    mount.options.retain(|o| o != "exec" && o != "noexec");
                    mount.options.push(option.to_string());
                }
                "nosuid" | "nodev" => {}
                "suid" | "dev" => return Err(bad("sbx mounts every tmpfs nosuid and nodev")),
                _ => return Err(bad(KNOWN_TMPFS_OPTIONS)),
            },
            Some((key, value)) => {
                let ok = match key {
                    "size" => number(value, &['k', 'K', 'm', 'M', 'g', 'G', '%']),
                    "nr_inodes" => number(value, &['k', 'K', 'm', 'M', 'g', 'G']),
                    "uid" | "gid" => value.parse::<u32>().is_ok(),
                    "mode" => !value.is_empty() && value.len() <= 4 && u32::from_str_radix(value, 8).is_ok(),
                    _ => return Err(bad(KNOWN_TMPFS_OPTIONS)),
                };
                if !ok {
                    return Err(bad("not a valid value"));
                }
                mount.options.retain(|o| !o.starts_with(&format!("{key}=")));
                mount.options.push(option.to_string());
            }
        }
    }
    Ok(mount)
}

/// What a rootless sbx cannot give a container (see [`crate::isolate::rootless`]). Pure.
pub fn check_rootless(spec: &ContainerSpec) -> Result<(), SpecError> {
    if spec.limits != Limits::default() {
        return Err(SpecError::Rootless("a resource limit (--memory, --pids-limit, --cpus..., which need cgroups)"));
    }
    if spec.network == Network::Host {
        return Err(SpecError::Rootless("--network host"));
    }
    if spec.network == Network::Bridge {
        return Err(SpecError::Rootless(
            "a bridge network (--network bridge or a network's name; use --network slirp4netns or none)",
        ));
    }
    if spec.userns == Userns::Auto {
        return Err(SpecError::Rootless("--userns=auto"));
    }
    if !spec.ipc.is_private() {
        return Err(SpecError::Rootless("--ipc host or container:"));
    }
    if !spec.pid.is_private() {
        return Err(SpecError::Rootless("--pid host or container:"));
    }
    if !spec.sysctls.is_empty() {
        return Err(SpecError::Rootless("--sysctl"));
    }
    Ok(())
}

/// Checks what a spec holds that may have come from a plugin or a file: paths, capabilities, unique
/// mount destinations.
pub fn validate(spec: &ContainerSpec) -> Result<(), SpecError> {
    let mut seen = std::collections::BTreeSet::new();
    for m in &spec.mounts {
        let dest = check_destination(&m.destination)?;
        if !seen.insert(dest.clone()) {
            return Err(SpecError::DuplicateMount(dest));
        }
        if m.kind == MountKind::Bind
            && (!m.source.starts_with('/') || m.source.split('/').any(|c| c == "..") || !m.options.is_empty())
        {
            return Err(SpecError::BadVolume(format!("{}:{}", m.source, m.destination)));
        }
        if m.kind == MountKind::Tmpfs {
            parse_tmpfs(&format!("{}:{}", m.destination, m.options.join(",")))?;
        }
    }
    for p in spec.masked_paths.iter().chain(&spec.read_only_paths) {
        if !p.starts_with('/') || p.split('/').any(|c| c == "..") {
            return Err(SpecError::BadPath(p.clone()));
        }
    }
    if !spec.cwd.starts_with('/') {
        return Err(SpecError::RelativeWorkdir(spec.cwd.clone()));
    }
    caps::mask(&spec.capabilities)?;
    if let Some(s) = spec.stop_signal.as_ref().filter(|s| super::signal::number(s).is_none()) {
        return Err(SpecError::BadStopSignal(s.clone()));
    }
    if spec.shm_size == Some(0) {
        return Err(SpecError::BadShmSize);
    }
    if let Some(k) = spec.labels.keys().find(|k| k.is_empty()) {
        return Err(SpecError::BadLabel(format!("={}", spec.labels[k])));
    }
    if spec.userns == Userns::Auto && spec.network == Network::Host {
        return Err(SpecError::UsernsWithHostNetwork);
    }
    if (spec.network == Network::Bridge) == spec.networks.is_empty() {
        return Err(SpecError::NetworksWithoutBridge);
    }
    if !matches!(spec.network, Network::Bridge | Network::Slirp4netns) && !spec.ports.is_empty() {
        return Err(SpecError::PortsWithoutBridge(spec.ports[0].key()));
    }
    if spec.userns == Userns::Auto && !spec.ipc.is_private() {
        return Err(SpecError::SharingWithUserns("--ipc host or container:"));
    }
    if spec.userns == Userns::Auto && !spec.pid.is_private() {
        return Err(SpecError::SharingWithUserns("--pid host or container:"));
    }
    for key in spec.sysctls.keys() {
        super::sysctl::check(key, spec.network, &spec.ipc).map_err(SpecError::Sysctl)?;
    }
    validate_limits(&spec.limits)?;
    super::cgroups::check(spec)?;
    if let Some(swap) = spec.limits.memory_swap {
        match spec.limits.memory_bytes {
            None => return Err(SpecError::SwapWithoutMemory),
            Some(m) if swap >= 0 && (swap as u64) < m => return Err(SpecError::SwapBelowMemory),
            Some(_) => {}
        }
    }
    for u in &spec.ulimits {
        if security::resource_of(&u.name).is_none() || u.soft > u.hard {
            return Err(SecurityError::BadUlimit(format!("{}={}:{}", u.name, u.soft, u.hard)).into());
        }
    }
    for h in &spec.extra_hosts {
        let ok = h.split_once(':').is_some_and(|(name, ip)| {
            !name.is_empty() && !name.contains(char::is_whitespace) && ip.parse::<std::net::IpAddr>().is_ok()
        });
        if !ok {
            return Err(SpecError::BadHost(h.clone()));
        }
    }
    if let Some(bad) = spec.dns.iter().find(|d| d.parse::<std::net::IpAddr>().is_err()) {
        return Err(SpecError::BadDns(bad.clone()));
    }
    // Each becomes a word of a resolv.conf line: no room for another line.
    let word = |w: &String| !w.is_empty() && !w.chars().any(|c| c.is_whitespace() || c.is_control());
    for (flag, values) in [("dns-search", &spec.dns_search), ("dns-option", &spec.dns_options)] {
        if let Some(bad) = values.iter().find(|v| !word(v)) {
            return Err(SpecError::BadDnsWord { flag, value: bad.clone() });
        }
    }
    for d in &spec.devices {
        security::parse_device(&format!("{}:{}:{}", d.host_path, d.container_path, d.permissions))?;
    }
    Ok(())
}

/// The KEY=VALUE entries of an image's config as set_env of each in turn would leave them (each key
/// once, with its last value, in the order of the last assignments), in linear time: an image may
/// carry a hundred thousand. Entries without `=` are dropped.
fn dedup_env(entries: Vec<String>) -> Vec<String> {
    let key = |e: &String| e.split_once('=').map(|(k, _)| k.to_string());
    let last: std::collections::HashMap<String, usize> =
        entries.iter().enumerate().filter_map(|(i, e)| Some((key(e)?, i))).collect();
    let keep: Vec<bool> = entries.iter().enumerate().map(|(i, e)| key(e).is_some_and(|k| last[&k] == i)).collect();
    entries.into_iter().zip(keep).filter_map(|(e, k)| k.then_some(e)).collect()
}

/// Sets `key` in a KEY=VALUE list, replacing an earlier value.
pub fn set_env(env: &mut Vec<String>, key: &str, value: &str) {
    env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
    env.push(format!("{key}={value}"));
}

/// Applies `-e` flags to `env`: `K=V` sets K, a bare `K` takes K's value from sbx's own
/// environment (and is skipped when sbx has none).
pub fn apply_env_flags(
    env: &mut Vec<String>,
    flags: &[String],
    host_env: impl Fn(&str) -> Option<String>,
) -> Result<(), SpecError> {
    for e in flags {
        match e.split_once('=') {
            Some(("", _)) => return Err(SpecError::BadEnv(e.clone())),
            Some((k, v)) => set_env(env, k, v),
            None if e.is_empty() => return Err(SpecError::BadEnv(e.clone())),
            None => {
                if let Some(v) = host_env(e) {
                    set_env(env, e, &v);
                }
            }
        }
    }
    Ok(())
}

pub fn get_env<'a>(env: &'a [String], key: &str) -> Option<&'a str> {
    env.iter().rev().find_map(|e| e.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v))
}

/// The spec of a container of `image` from its config and the run flags, with the defaults every
/// container gets.
pub fn build(
    image: &str,
    config: Option<&Config>,
    o: &Overrides,
    default_hostname: &str,
    host_env: impl Fn(&str) -> Option<String>,
) -> Result<ContainerSpec, SpecError> {
    let field = |f: fn(&Config) -> &Option<Vec<String>>| config.and_then(|c| f(c).clone()).unwrap_or_default();
    let mut args = match &o.entrypoint {
        None => field(Config::entrypoint),
        Some(e) if e.is_empty() => Vec::new(),
        Some(e) => vec![e.clone()],
    };
    let image_cmd = if o.entrypoint.is_some() { Vec::new() } else { field(Config::cmd) };
    args.extend(if o.cmd.is_empty() { image_cmd } else { o.cmd.clone() });
    if args.is_empty() {
        return Err(SpecError::NoCommand);
    }
    let mut env = dedup_env(field(Config::env));
    if get_env(&env, "PATH").is_none() {
        set_env(&mut env, "PATH", DEFAULT_PATH);
    }
    let hostname = o.hostname.clone().unwrap_or_else(|| default_hostname.to_string());
    set_env(&mut env, "HOSTNAME", &hostname);
    apply_env_flags(&mut env, &o.env, host_env)?;
    if o.tty && get_env(&env, "TERM").is_none() {
        set_env(&mut env, "TERM", "xterm"); // as docker's, unless the image or -e sets one
    }
    let cwd = o
        .workdir
        .clone()
        .or_else(|| config.and_then(|c| c.working_dir().clone()))
        .filter(|w| !w.is_empty())
        .unwrap_or_else(|| "/".into());
    if !cwd.starts_with('/') {
        return Err(SpecError::RelativeWorkdir(cwd));
    }
    let user = o.user.clone().or_else(|| config.and_then(|c| c.user().clone())).unwrap_or_default();
    let mut mounts = o.volumes.iter().map(|v| parse_volume(v)).collect::<Result<Vec<_>, _>>()?;
    for t in &o.tmpfs {
        mounts.push(parse_tmpfs(t)?);
    }
    let spec = ContainerSpec {
        image: image.to_string(),
        args,
        env,
        user,
        cwd,
        hostname,
        mounts,
        read_only_rootfs: o.read_only,
        capabilities: if o.privileged {
            caps::resolve(&["ALL".into()], &[])?
        } else {
            super::cgroups::default_capabilities(o.cgroups, caps::resolve(&o.cap_add, &o.cap_drop)?, &o.cap_add)
        },
        masked_paths: if o.privileged { Vec::new() } else { MASKED_PATHS.iter().map(|p| p.to_string()).collect() },
        read_only_paths: if o.privileged {
            Vec::new()
        } else {
            READ_ONLY_PATHS.iter().map(|p| p.to_string()).collect()
        },
        namespaces: NAMESPACES
            .iter()
            .filter(|n| o.network.is_own() || **n != "network")
            .filter(|n| o.userns == Userns::Auto || **n != "user")
            .filter(|n| o.ipc != super::Sharing::Host || **n != "ipc")
            .filter(|n| o.pid != super::Sharing::Host || **n != "pid")
            .map(|n| n.to_string())
            .collect(),
        limits: o.limits.clone(),
        network: o.network,
        networks: o.networks.clone(),
        ports: {
            let mut ports = o.ports.clone();
            if o.publish_all {
                let exposed = config.and_then(|c| c.exposed_ports().clone()).unwrap_or_default();
                ports.extend(super::ports::exposed(&exposed));
            }
            ports
        },
        userns: o.userns,
        annotations: o.annotations.clone(),
        terminal: o.tty,
        init: o.init,
        no_new_privileges: o.security.no_new_privileges.unwrap_or(!o.privileged),
        seccomp: o.security.seccomp.clone().unwrap_or(if o.privileged {
            Seccomp::Unconfined
        } else {
            Seccomp::Default
        }),
        devices: o.devices.clone(),
        ulimits: o.ulimits.clone(),
        inheritable_capabilities: Vec::new(),
        ambient_capabilities: Vec::new(),
        privileged: o.privileged,
        cgroup_mount: o.cgroups.is_enabled().then_some(CgroupMount { read_only: !o.privileged }),
        cgroups: o.cgroups,
        extra_hosts: o.extra_hosts.clone(),
        dns: o.dns.clone(),
        dns_search: o.dns_search.clone(),
        dns_options: o.dns_options.clone(),
        labels: labels(config, &o.labels),
        stop_signal: o.stop_signal.clone().or_else(|| config.and_then(|c| c.stop_signal().clone())),
        stop_timeout: o.stop_timeout,
        shm_size: o.shm_size,
        restart: o.restart,
        group_add: o.group_add.clone(),
        sysctls: o.sysctls.clone(),
        ipc: o.ipc.clone(),
        pid: o.pid.clone(),
        healthcheck: None,
    };
    validate(&spec)?;
    Ok(spec)
}

/// The image's labels, then those of `--label` (KEY=VALUE, or KEY for an empty value) over them.
fn labels(config: Option<&Config>, flags: &[String]) -> BTreeMap<String, String> {
    let mut labels =
        config.and_then(|c| c.labels().clone()).unwrap_or_default().into_iter().collect::<BTreeMap<_, _>>();
    for l in flags {
        let (k, v) = l.split_once('=').unwrap_or((l, ""));
        labels.insert(k.to_string(), v.to_string());
    }
    labels
}

/// The full paths to try for `arg0`: itself when it has a slash, else each PATH entry in order.
pub fn exec_candidates(arg0: &str, path: &str) -> Vec<String> {
    if arg0.contains('/') {
        return vec![arg0.to_string()];
    }
    path.split(':')
        .map(|dir| if dir.is_empty() { "." } else { dir })
        .map(|dir| format!("{}/{arg0}", dir.trim_end_matches('/')))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::image::ConfigBuilder;

    fn config() -> Config {
        ConfigBuilder::default()
            .entrypoint(vec!["/entry".to_string()])
            .cmd(vec!["serve".to_string()])
            .env(vec!["PATH=/bin".to_string(), "A=1".to_string()])
            .working_dir("/srv".to_string())
            .user("www".to_string())
            .build()
            .unwrap()
    }

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn image_defaults() {
        let s = build("img", Some(&config()), &Overrides::default(), "abc", none).unwrap();
        assert_eq!(s.args, ["/entry", "serve"]);
        assert_eq!(s.env, ["PATH=/bin", "A=1", "HOSTNAME=abc"]);
        assert_eq!((s.cwd.as_str(), s.user.as_str(), s.hostname.as_str()), ("/srv", "www", "abc"));
    }

    #[test]
    fn flags_override() {
        let o = Overrides {
            cmd: vec!["check".into()],
            env: vec!["A=2".into(), "FROM_HOST".into(), "MISSING".into()],
            workdir: Some("/tmp".into()),
            user: Some("0".into()),
            hostname: Some("box".into()),
            ..Default::default()
        };
        let host = |k: &str| (k == "FROM_HOST").then(|| "yes".to_string());
        let s = build("img", Some(&config()), &o, "abc", host).unwrap();
        assert_eq!(s.args, ["/entry", "check"]);
        assert_eq!(s.env, ["PATH=/bin", "HOSTNAME=box", "A=2", "FROM_HOST=yes"]);
        assert_eq!((s.cwd.as_str(), s.user.as_str()), ("/tmp", "0"));
    }

    #[test]
    fn entrypoint_flag_replaces_the_images_and_drops_its_cmd() {
        let o = Overrides { entrypoint: Some("/bin/other".into()), ..Default::default() };
        assert_eq!(build("img", Some(&config()), &o, "h", none).unwrap().args, ["/bin/other"]);
        let o = Overrides { entrypoint: Some(String::new()), cmd: vec!["ls".into()], ..Default::default() };
        assert_eq!(build("img", Some(&config()), &o, "h", none).unwrap().args, ["ls"]);
    }

    #[test]
    fn bad_inputs() {
        assert_eq!(build("img", None, &Overrides::default(), "h", none), Err(SpecError::NoCommand));
        let o = Overrides { cmd: vec!["sh".into()], workdir: Some("tmp".into()), ..Default::default() };
        assert_eq!(build("img", None, &o, "h", none), Err(SpecError::RelativeWorkdir("tmp".into())));
        let o = Overrides { cmd: vec!["sh".into()], env: vec!["=x".into()], ..Default::default() };
        assert_eq!(build("img", None, &o, "h", none), Err(SpecError::BadEnv("=x".into())));
        let s = build("img", None, &Overrides { cmd: vec!["sh".into()], ..Default::default() }, "h", none).unwrap();
        assert_eq!(get_env(&s.env, "PATH"), Some(DEFAULT_PATH));
    }

    #[test]
    fn defaults_hide_and_protect_kernel_paths() {
        let s = build("img", Some(&config()), &Overrides::default(), "h", none).unwrap();
        assert!(s.masked_paths.contains(&"/proc/kcore".to_string()));
        assert!(s.read_only_paths.contains(&"/proc/sysrq-trigger".to_string()));
        assert_eq!(s.capabilities.len(), caps::DEFAULT.len());
        assert!(!s.read_only_rootfs && s.mounts.is_empty());
    }

    #[test]
    fn tmpfs_options_are_dockers() {
        let m = parse_tmpfs("/sized:rw,size=1m,mode=0700,uid=1000,exec").unwrap();
        assert_eq!((m.destination.as_str(), m.read_only), ("/sized", false));
        assert_eq!(m.options, ["size=1m", "mode=0700", "uid=1000", "exec"]);
        assert_eq!(parse_tmpfs("/run").unwrap().options, Vec::<String>::new());
        assert!(parse_tmpfs("/r:ro,size=50%,noexec,nosuid,nodev").unwrap().read_only);
        assert_eq!(parse_tmpfs("/r:size=1k,size=2k").unwrap().options, ["size=2k"], "the last one counts");
        for bad in ["/r:size=big", "/r:mode=999", "/r:suid", "/r:dev", "/r:foo", "/r:uid=-1", "relative:size=1m"] {
            assert!(parse_tmpfs(bad).is_err(), "{bad}");
        }
        let e = parse_tmpfs("/r:mode=9").unwrap_err().to_string();
        assert_eq!(e, "bad tmpfs option 'mode=9' in --tmpfs /r:mode=9: not a valid value");
    }

    #[test]
    fn no_more_cpus_than_the_host_has() {
        assert!(check_cpus_of_host(2000, 2).is_ok() && check_cpus_of_host(10, 1).is_ok());
        assert_eq!(
            check_cpus_of_host(99_000, 2).unwrap_err(),
            "--cpus 99: the range of CPUs is from 0.01 to 2.00, as this host has only 2 CPUs"
        );
    }

    #[test]
    fn container_names_are_dockers() {
        for good in ["web", "a1", "my_app.v2-x", "0x"] {
            assert!(valid_container_name(good), "{good}");
        }
        for bad in ["", "a", "../../evil", "bad name!", "-x", ".hidden", "a/b", "é1"] {
            assert!(!valid_container_name(bad), "{bad}");
        }
    }

    #[test]
    fn volumes_and_tmpfs_become_mounts() {
        let o = Overrides {
            volumes: vec!["/srv/data:/data:ro".into(), "/tmp/x:/x/".into()],
            tmpfs: vec!["/run".into()],
            ..Default::default()
        };
        let s = build("img", Some(&config()), &o, "h", none).unwrap();
        let got: Vec<(MountKind, &str, &str, bool)> =
            s.mounts.iter().map(|m| (m.kind, m.source.as_str(), m.destination.as_str(), m.read_only)).collect();
        assert_eq!(
            got,
            [
                (MountKind::Bind, "/srv/data", "/data", true),
                (MountKind::Bind, "/tmp/x", "/x", false),
                (MountKind::Tmpfs, "", "/run", false)
            ]
        );
    }

    #[test]
    fn bad_mounts_are_refused() {
        for v in ["data:/data", "/a:b", "/a:/b:rx", "/a", "/a/../etc:/b"] {
            assert!(parse_volume(v).is_err(), "{v}");
        }
        assert_eq!(check_destination("/"), Err(SpecError::BadDestination("/".into())));
        assert!(check_destination("/a/../b").is_err());
        let o = Overrides { volumes: vec!["/a:/d".into(), "/b:/d".into()], ..Default::default() };
        assert_eq!(build("img", Some(&config()), &o, "h", none), Err(SpecError::DuplicateMount("/d".into())));
    }

    #[test]
    fn the_spec_round_trips_through_json() {
        let o = Overrides { volumes: vec!["/a:/d:ro".into()], cap_add: vec!["NET_ADMIN".into()], ..Default::default() };
        let s = build("img", Some(&config()), &o, "h", none).unwrap();
        let text = serde_json::to_string(&s).unwrap();
        assert!(text.contains("\"read-only-rootfs\":false"), "{text}");
        assert_eq!(serde_json::from_str::<ContainerSpec>(&text).unwrap(), s);
    }

    #[test]
    fn memory_and_cpus_take_dockers_forms() {
        assert_eq!(parse_memory("64m"), Ok(64 << 20));
        assert_eq!(parse_memory("1G"), Ok(1 << 30));
        assert_eq!(parse_memory("2097152"), Ok(2 << 20));
        assert!(parse_memory("10k").is_err(), "under 1m");
        assert!(parse_memory("lots").is_err());
        assert_eq!(parse_cpus("1.5"), Ok(1500));
        assert!(parse_cpus("0").is_err() && parse_cpus("x").is_err());
    }

    #[test]
    fn candidates_follow_path() {
        assert_eq!(exec_candidates("sh", "/usr/bin:/bin/"), ["/usr/bin/sh", "/bin/sh"]);
        assert_eq!(exec_candidates("./run", "/bin"), ["./run"]);
    }

    #[test]
    fn rootless_refuses_what_needs_the_hosts_root() {
        let base =
            build("img", None, &Overrides { cmd: vec!["sh".into()], ..Default::default() }, "h", |_| None).unwrap();
        assert_eq!(check_rootless(&base), Ok(()));
        let with = |f: fn(&mut ContainerSpec)| {
            let mut s = base.clone();
            f(&mut s);
            check_rootless(&s).unwrap_err().to_string()
        };
        assert!(with(|s| s.limits.pids = Some(10)).contains("a resource limit"));
        assert!(with(|s| s.network = Network::Host).contains("--network host is not supported rootless"));
        assert!(with(|s| s.userns = Userns::Auto).contains("--userns=auto is not supported rootless"));
        assert!(with(|s| s.network = Network::Bridge).contains("a bridge network"));
    }

    #[test]
    fn network_flags_name_a_mode_or_a_bridge_network() {
        let attach = |name: &str, aliases: &[&str]| NetworkAttachment {
            name: name.into(),
            aliases: aliases.iter().map(|a| a.to_string()).collect(),
        };
        assert_eq!(parse_network("none", &[]), Ok((Network::None, vec![])));
        assert_eq!(parse_network("host", &[]), Ok((Network::Host, vec![])));
        assert_eq!(parse_network("bridge", &[]), Ok((Network::Bridge, vec![attach("bridge", &[])])));
        let db = ["db".to_string()];
        assert_eq!(parse_network("app", &db), Ok((Network::Bridge, vec![attach("app", &["db"])])));
        for (flag, aliases) in [("bridge", &db[..]), ("none", &db[..]), ("container:x", &[][..]), ("", &[][..])] {
            assert!(parse_network(flag, aliases).is_err(), "{flag}");
        }
        let o = Overrides {
            cmd: vec!["true".into()],
            network: Network::Bridge,
            networks: vec![attach("app", &[])],
            ..Default::default()
        };
        let spec = build("img", None, &o, "abc", |_| None).unwrap();
        assert!(spec.namespaces.contains(&"network".to_string()));
        validate(&spec).unwrap();
        let lost = ContainerSpec { networks: vec![], ..spec };
        assert!(matches!(validate(&lost), Err(SpecError::NetworksWithoutBridge)));
    }
}
