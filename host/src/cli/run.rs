//! `sbx run [OPTIONS] IMAGE [CMD...]`.

use crate::config::PluginSpec;
use crate::container::{RunError, RunOptions, run as run_container};
use crate::image::Store;
use crate::plugin::PluginSet;
use crate::spec::security::{self, Device, SecurityError, Ulimit};
use crate::spec::volume_flag::MountFlag;
use crate::spec::{self, Limits, Overrides, Userns};
use clap::Args;
use std::path::{Path, PathBuf};

/// Boolean flags take docker's `--flag=false` too (`=` required, so that `-it IMAGE` and
/// `--rm IMAGE` read as they always have).
#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Remove the container and its writable layer when it exits.
    #[arg(long, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
    pub rm: bool,
    /// Run in the background and print the container's id; `sbx logs` shows its output.
    #[arg(short = 'd', long, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
    pub detach: bool,
    /// Name the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Set a label on the container (KEY=VALUE, or KEY for an empty value); repeatable.
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// Read labels from a file (KEY=VALUE lines; # comments), before --label.
    #[arg(long, value_name = "FILE")]
    pub label_file: Vec<PathBuf>,
    /// The signal `sbx stop` sends first [default: the image's StopSignal, else TERM].
    #[arg(long, value_name = "SIGNAL")]
    pub stop_signal: Option<String>,
    /// Seconds `sbx stop` waits for the container to end before SIGKILL [default: 10].
    #[arg(long, value_name = "SECONDS")]
    pub stop_timeout: Option<u64>,
    /// The size of /dev/shm (bytes, or with b, k, m or g) [default: 64m].
    #[arg(long, value_name = "SIZE", value_parser = spec::parse_memory)]
    pub shm_size: Option<u64>,
    /// A command run in the container (with /bin/sh -c) to tell whether it is healthy.
    #[arg(long, value_name = "COMMAND")]
    pub health_cmd: Option<String>,
    /// Time between health checks (30s, 1m) [default: 30s, or the image's].
    #[arg(long, value_name = "DURATION", value_parser = spec::health::parse_duration_ns)]
    pub health_interval: Option<u64>,
    /// Time a health check may take before it counts as failed [default: 30s].
    #[arg(long, value_name = "DURATION", value_parser = spec::health::parse_duration_ns)]
    pub health_timeout: Option<u64>,
    /// Failures in a row that make the container unhealthy [default: 3].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub health_retries: Option<u32>,
    /// Time after the start during which failures do not count [default: 0s].
    #[arg(long, value_name = "DURATION", value_parser = spec::health::parse_duration_ns)]
    pub health_start_period: Option<u64>,
    /// Turn off the image's HEALTHCHECK.
    #[arg(long)]
    pub no_healthcheck: bool,
    /// Write the container's id to FILE (refused if FILE exists).
    #[arg(long, value_name = "FILE")]
    pub cidfile: Option<PathBuf>,
    /// Set an environment variable (KEY=VALUE, or KEY to pass sbx's own).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read environment variables from a file (KEY=VALUE lines; # comments), before -e.
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Replace the image's entrypoint (and its default command); "" clears it.
    #[arg(long, value_name = "CMD")]
    pub entrypoint: Option<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// User to run as: name, uid, name:group or uid:gid.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Keep stdin open (otherwise the container reads /dev/null).
    #[arg(short = 'i', long, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
    pub interactive: bool,
    /// Give the container a terminal (a pty in its /dev/pts); with -i, sbx's terminal is put in
    /// raw mode and attached to it.
    #[arg(short = 't', long, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
    pub tty: bool,
    /// Run a minimal init as PID 1 that reaps zombies and forwards signals to the command.
    #[arg(long, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
    pub init: bool,
    /// Forward the signals sbx gets (INT, TERM, HUP, QUIT, USR1, USR2) to the container; with
    /// false they end sbx, and the container (whose life is tied to sbx's) with it.
    #[arg(long, default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
    pub sig_proxy: bool,
    /// Mount a host path or a named volume: HOST:CTR[:ro], NAME:CTR[:ro][,nocopy], or CTR alone
    /// (an anonymous volume); repeatable.
    #[arg(short = 'v', long = "volume", value_name = "SRC:CTR[:OPTS]")]
    pub volumes: Vec<String>,
    /// Mount as docker's --mount: type=bind|volume|tmpfs,source=...,destination=...[,readonly];
    /// repeatable.
    #[arg(long = "mount", value_name = "type=...,src=...,dst=...")]
    pub mounts: Vec<String>,
    /// Add a supplementary group (a gid, or a name in the container's /etc/group); repeatable.
    #[arg(long = "group-add", value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Attach only these of the container's streams: STDIN, STDOUT, STDERR; repeatable (default:
    /// stdout and stderr, and stdin with -i).
    #[arg(short = 'a', long = "attach", value_name = "STREAM", value_parser = ["STDIN", "STDOUT", "STDERR", "stdin", "stdout", "stderr"])]
    pub attach: Vec<String>,
    /// Restart policy of a detached container: no, on-failure[:MAX_RETRIES], always,
    /// unless-stopped.
    #[arg(long, value_name = "POLICY", default_value = "no", value_parser = spec::restart::parse)]
    pub restart: spec::restart::RestartPolicy,
    /// Mount an empty tmpfs at PATH; repeatable.
    #[arg(long, value_name = "PATH")]
    pub tmpfs: Vec<String>,
    /// Mount the container's root filesystem read-only.
    #[arg(long, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
    pub read_only: bool,
    /// Add a capability to docker's default set (or ALL); repeatable.
    #[arg(long, value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop a capability from docker's default set (or ALL); repeatable.
    #[arg(long, value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Memory limit (bytes, or with a unit: 512k, 64m, 1g).
    #[arg(short = 'm', long, value_name = "BYTES", value_parser = spec::parse_memory)]
    pub memory: Option<u64>,
    /// Memory plus swap (bytes or with a unit); -1 for unlimited swap. Needs -m.
    #[arg(long, value_name = "BYTES", value_parser = spec::parse_memory_swap, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    /// Relative CPU weight against other containers (1024 by default).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(2..=262_144))]
    pub cpu_shares: Option<u64>,
    /// The CPUs the container may run on (0-3, 0,1).
    #[arg(long, value_name = "CPUS", value_parser = spec::parse_cpuset)]
    pub cpuset_cpus: Option<String>,
    /// Most processes and threads the container may have.
    #[arg(long, value_name = "N")]
    pub pids_limit: Option<u64>,
    /// CPUs the container may use (1.5 = one and a half).
    #[arg(long, value_name = "N", value_parser = spec::parse_cpus)]
    pub cpus: Option<u64>,
    /// no-new-privileges[=false] (on by default), seccomp=unconfined, seccomp=PROFILE.json (docker's
    /// format); repeatable.
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Every capability, no seccomp filter, no no_new_privs, no masked or read-only paths, and
    /// every device allowed by the device cgroup (host device nodes still need --device). The
    /// container is then as powerful as root on the host: use only for containers you trust.
    #[arg(long, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
    pub privileged: bool,
    /// Let the container use a host device: HOST[:CONTAINER][:PERMISSIONS] (rwm); repeatable.
    #[arg(long = "device", value_name = "HOST[:CTR][:rwm]")]
    pub devices: Vec<String>,
    /// The user namespace: host (root in the container is root on the host, held in by
    /// capabilities, seccomp and the device cgroup) or auto (its own, mapped to a private range of
    /// host ids from the `containers` lines of /etc/subuid and /etc/subgid).
    #[arg(long, value_name = "MODE", value_parser = spec::parse_userns, default_value = "host")]
    pub userns: Userns,
    /// enabled (a cgroup of its own: limits, stats, pause, the device cgroup) or disabled (none,
    /// and nothing to make and remove at each run; no limits, and no CAP_MKNOD or CAP_SYS_ADMIN
    /// unless --privileged, as only the device cgroup would keep them from host devices).
    #[arg(long, value_name = "MODE", value_parser = spec::parse_cgroups, default_value = "enabled")]
    pub cgroups: spec::Cgroups,
    /// bridge (the default network, made on first use), a network's name (`sbx network create`),
    /// none (only loopback), host (the host's network) or slirp4netns (user-mode networking).
    /// The default is $SBX_NETWORK, else bridge; for a rootless sbx slirp4netns where it is
    /// installed, else none.
    #[arg(long, alias = "net", value_name = "NETWORK", env = "SBX_NETWORK")]
    pub network: Option<String>,
    /// Another name the container has on its user-defined network; repeatable.
    #[arg(long = "network-alias", alias = "net-alias", value_name = "NAME")]
    pub network_alias: Vec<String>,
    /// Publish a container's port on the host: [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp] (a free
    /// host port when none is given; every address of the host when no IP is); repeatable.
    #[arg(short = 'p', long = "publish", value_name = "PORTS")]
    pub publish: Vec<String>,
    /// Publish every port the image exposes, each on a free host port.
    #[arg(short = 'P', long, num_args = 0..=1, require_equals = true, default_value_t = false, default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
    pub publish_all: bool,
    /// The IPC namespace: private or shareable (its own, the default), host, or container:NAME
    /// (a running container's, with its /dev/shm).
    #[arg(long, value_name = "MODE", value_parser = spec::parse_ipc, default_value = "private")]
    pub ipc: spec::Sharing,
    /// The PID namespace: private (its own, the default), host, or container:NAME (a running
    /// container's).
    #[arg(long, value_name = "MODE", value_parser = spec::parse_pid, default_value = "private")]
    pub pid: spec::Sharing,
    /// Set a kernel parameter of the container's own namespaces: net.*, the IPC ones
    /// (kernel.shm*, kernel.msg*, kernel.sem, fs.mqueue.*); repeatable.
    #[arg(long, value_name = "KEY=VALUE", value_parser = spec::sysctl::parse)]
    pub sysctl: Vec<(String, String)>,
    /// Add NAME:IP to the container's /etc/hosts; repeatable.
    #[arg(long = "add-host", value_name = "NAME:IP")]
    pub add_host: Vec<String>,
    /// A DNS server for the container's /etc/resolv.conf (instead of the host's); repeatable.
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// A DNS search domain (`.` for none); repeatable.
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// A resolv.conf option (ndots:2); repeatable.
    #[arg(long = "dns-option", alias = "dns-opt", value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// A resource limit: NAME=SOFT[:HARD] (nofile, nproc, core, memlock, stack, ...); repeatable.
    #[arg(long = "ulimit", value_name = "NAME=SOFT[:HARD]")]
    pub ulimits: Vec<String>,
    /// A policy plugin (.wasm component) that must allow the image, its layers and the spec; repeatable.
    #[arg(long = "policy", value_name = "P.wasm")]
    pub policies: Vec<PathBuf>,
    /// A hook plugin (.wasm component) told of create, prestart, poststart, exit and remove; repeatable.
    #[arg(long = "hook", value_name = "H.wasm")]
    pub hooks: Vec<PathBuf>,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// When to pull the image from its registry.
    #[arg(long, value_enum, default_value = "missing", value_name = "WHEN")]
    pub pull: super::pull::PullPolicy,
    /// The platform to pull (OS/ARCH[/VARIANT]) [default: the host's].
    #[arg(long)]
    pub platform: Option<String>,
    /// The image: a stored name, an id prefix, or a path to an archive or layout (loaded first).
    pub image: String,
    /// The command and its arguments (default: the image's Entrypoint and Cmd).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
}

impl RunArgs {
    /// The configured plugins followed by those of `--policy` and `--hook`; Err(exit code) when the
    /// configuration is bad.
    pub fn plugins(&self, config: Option<&Path>) -> Result<PluginSet, i32> {
        let mut specs = super::config::resolve(config)?.plugins;
        specs.extend(self.policies.iter().chain(&self.hooks).map(|p| PluginSpec::from_path(p)));
        Ok(PluginSet::new(&crate::plugin::compile::cache_dir(), specs))
    }

    /// The run options; Err(message) when an --env-file or --label-file cannot be read.
    pub fn options(self) -> Result<RunOptions, String> {
        let ports = self.publish.iter().map(|p| spec::parse_publish(p)).collect::<Result<Vec<_>, _>>()?;
        if !self.restart.is_no() && self.rm {
            return Err(
                "conflicting options: --restart and --rm (a container removed when it ends is not restarted)".into()
            );
        }
        let (network, networks) =
            spec::parse_network(self.network.as_deref().unwrap_or(default_network()), &self.network_alias)?;
        let mut env = file_lines("env", &self.env_file)?;
        env.extend(self.env);
        let mut labels = file_lines("label", &self.label_file)?;
        labels.extend(self.labels);
        let security = security::parse_security_opts(&self.security_opt, |p| std::fs::read_to_string(p))
            .map_err(|e| e.to_string())?;
        let devices = self.devices.iter().map(|d| host_device(d)).collect::<Result<Vec<_>, _>>()?;
        let ulimits = self.ulimits.iter().map(|u| checked_ulimit(u)).collect::<Result<Vec<_>, _>>()?;
        if let Some(cpus) = self.cpus {
            let online = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
            spec::check_cpus_of_host(cpus, online)?;
        }
        if let Some(path) = self.cidfile.as_ref().filter(|p| p.exists()) {
            return Err(format!(
                "the container id file {} exists: make sure the container it names is gone and remove the file, or give another --cidfile",
                path.display()
            ));
        }
        let (mut volumes, mut tmpfs) = (self.volumes, self.tmpfs);
        for m in &self.mounts {
            match spec::volume_flag::mount_flag(m).map_err(|e| e.to_string())? {
                MountFlag::Volume(v) => volumes.push(v),
                MountFlag::Tmpfs(t) => tmpfs.push(t),
            }
        }
        if !self.attach.is_empty() && self.detach {
            return Err("conflicting options: -a and -d (a detached container's streams go to its log)".into());
        }
        let attached =
            |stream: &str| self.attach.is_empty() || self.attach.iter().any(|a| a.eq_ignore_ascii_case(stream));
        let (attach_out, attach_err) = (attached("stdout"), attached("stderr"));
        let interactive = self.interactive || self.attach.iter().any(|a| a.eq_ignore_ascii_case("stdin"));
        Ok(RunOptions {
            attach_out,
            attach_err,
            cidfile: self.cidfile,
            image: self.image,
            found: None,
            name: self.name,
            rm: self.rm,
            interactive,
            sig_proxy: self.sig_proxy,
            overrides: Overrides {
                cmd: self.cmd,
                entrypoint: self.entrypoint,
                env,
                workdir: self.workdir,
                user: self.user,
                hostname: self.hostname,
                volumes: match std::env::current_dir() {
                    Ok(cwd) => volumes.iter().map(|v| absolute_source(v, &cwd)).collect(),
                    Err(_) => volumes,
                },
                tmpfs,
                read_only: self.read_only,
                cap_add: self.cap_add,
                cap_drop: self.cap_drop,
                limits: Limits {
                    memory_bytes: self.memory,
                    pids: self.pids_limit,
                    cpu_millis: self.cpus,
                    memory_swap: self.memory_swap,
                    cpu_shares: self.cpu_shares,
                    cpuset_cpus: self.cpuset_cpus,
                },
                tty: self.tty,
                init: self.init,
                security,
                privileged: self.privileged,
                devices,
                ulimits,
                network,
                networks,
                ports,
                publish_all: self.publish_all,
                extra_hosts: self.add_host.iter().map(|h| h.replacen('=', ":", 1)).collect(),
                dns: self.dns,
                dns_search: self.dns_search,
                dns_options: self.dns_option,
                userns: self.userns,
                cgroups: self.cgroups,
                labels,
                stop_signal: self.stop_signal,
                stop_timeout: self.stop_timeout,
                shm_size: self.shm_size,
                restart: self.restart,
                group_add: self.group_add,
                sysctls: self.sysctl.into_iter().collect(),
                ipc: self.ipc,
                pid: self.pid,
                health: spec::health::HealthFlags {
                    cmd: self.health_cmd,
                    interval_ns: self.health_interval,
                    timeout_ns: self.health_timeout,
                    start_period_ns: self.health_start_period,
                    retries: self.health_retries,
                    none: self.no_healthcheck,
                },
                annotations: Default::default(),
            },
        })
    }
}

/// The KEY=VALUE lines of `--env-file` or `--label-file` files (`what`), in order.
fn file_lines(what: &str, files: &[PathBuf]) -> Result<Vec<String>, String> {
    let mut lines = Vec::new();
    for file in files {
        let text =
            std::fs::read_to_string(file).map_err(|e| format!("cannot read {what} file {}: {e}", file.display()))?;
        lines.extend(spec::env_file_lines(&text));
    }
    Ok(lines)
}

/// `-v ./dir:/x` (or `.:/x`, `../dir:/x`): the source resolved against the current directory, as
/// docker's CLI does, lexically (the mount resolves links itself); other volumes as given. Pure.
fn absolute_source(volume: &str, cwd: &Path) -> String {
    let (source, rest) = volume.split_once(':').unwrap_or((volume, ""));
    if !(source == "." || source == ".." || source.starts_with("./") || source.starts_with("../")) {
        return volume.to_string();
    }
    let mut clean = PathBuf::new();
    for c in cwd.join(source).components() {
        match c {
            std::path::Component::ParentDir => {
                clean.pop();
            }
            std::path::Component::CurDir => {}
            other => clean.push(other),
        }
    }
    format!("{}:{rest}", clean.display())
}

/// `--device`: the host node's kind, number and mode, read now.
fn host_device(arg: &str) -> Result<Device, String> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let (host, container, permissions) = security::parse_device(arg).map_err(|e| e.to_string())?;
    let meta = std::fs::metadata(&host).map_err(|e| format!("--device {arg}: cannot read {host}: {e}"))?;
    let kind = match meta.file_type() {
        t if t.is_char_device() => 'c',
        t if t.is_block_device() => 'b',
        _ => return Err(SecurityError::NotADevice(arg.to_string()).to_string()),
    };
    let (major, minor) = (nix::sys::stat::major(meta.rdev()) as u32, nix::sys::stat::minor(meta.rdev()) as u32);
    Ok(Device { host_path: host, container_path: container, permissions, kind, major, minor, mode: meta.mode() })
}

/// `--ulimit`, refused now if it asks for more than sbx may give.
fn checked_ulimit(arg: &str) -> Result<Ulimit, String> {
    let u = security::parse_ulimit(arg).map_err(|e| e.to_string())?;
    if let Some(hard) = security::own_hard_limit(&u.name) {
        security::check_ulimit(&u, hard, false).map_err(|e| e.to_string())?;
    }
    Ok(u)
}

/// Prints a run error and returns its exit code.
/// The network of a container made without `--network` (or $SBX_NETWORK): bridge, and for a
/// rootless sbx slirp4netns where it is installed, else none.
pub fn default_network() -> &'static str {
    match crate::isolate::rootless::is_active() {
        true if crate::network::slirp::available() => crate::network::slirp::PROGRAM,
        true => "none",
        false => crate::network::DEFAULT,
    }
}

pub fn fail_run(e: RunError) -> i32 {
    eprintln!("sbx: {e}");
    e.exit_code()
}

pub fn run(store: &Store, args: RunArgs, config: Option<&Path>) -> i32 {
    let found = match super::pull::for_run(store, config, &args) {
        Ok(found) => found,
        Err(code) => return code,
    };
    if args.detach {
        return super::monitor::run_detached(store, args, config);
    }
    if !args.restart.is_no() {
        return super::fail(
            "--restart needs -d: the monitor of a detached container restarts it (or sbx create, then sbx start)",
        );
    }
    if let Err(e) = super::check_terminal_input(args.interactive, args.tty) {
        return super::fail(e);
    }
    let plugins = match args.plugins(config) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let code = match args.options() {
        Ok(opts) => run_container(store, &RunOptions { found, ..opts }, &plugins).unwrap_or_else(fail_run),
        Err(e) => super::fail(e),
    };
    // sbx exits now: the kernel frees the plugins' engine, code and instances faster than their
    // destructors would (a millisecond and more for a Python or JavaScript plugin).
    std::mem::forget(plugins);
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_volume_sources_are_the_current_directorys() {
        let cwd = Path::new("/home/me/app");
        assert_eq!(absolute_source("./data:/data", cwd), "/home/me/app/data:/data");
        assert_eq!(absolute_source(".:/src:ro", cwd), "/home/me/app:/src:ro");
        assert_eq!(absolute_source("../x/./y:/y", cwd), "/home/me/x/y:/y");
        assert_eq!(absolute_source("/abs:/a", cwd), "/abs:/a");
        assert_eq!(absolute_source("name:/a", cwd), "name:/a", "a named volume is refused later, by name");
    }
}
