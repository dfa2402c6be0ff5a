//! The sbx configuration: which plugins run, in what order, how strictly, with what limits and
//! settings. YAML (serde_yaml) in, a validated [`Config`] out; pure apart from reading the file.
//!
//! ```yaml
//! plugins:
//!   - path: /usr/lib/sbx/deny-setuid.wasm
//!     name: deny-setuid        # default: the file name without .wasm
//!     order: 10                # lower runs first; equal orders keep file order (default 0)
//!     mode: enforce            # or monitor: report what it would deny, change nothing
//!     on-error: deny           # or allow: a failing plugin does not stop the run
//!     limits: { time-ms: 1000, memory-mib: 256, fuel: 100000000, compile-ms: 60000 }
//!     settings: { allow: [usr/bin/passwd] }
//!     preopens:                # directories the plugin may use (nothing else of the host)
//!       - { host: /var/log/sbx, guest: /log, mode: rw }   # guest defaults to host, mode to ro
//!     may-weaken: [capabilities, mounts]   # what its adjustments may loosen (default: nothing)
//! layers:                      # what one layer may cost to unpack (these are the defaults)
//!   { max-bytes: 274877906944, max-ratio: 100, max-entries: 2000000 }
//! registries:
//!   search: [docker.io]        # where a short name (`busybox`) may come from, in order
//!   insecure: []               # hosts reached over plain HTTP (HOST:PORT)
//!   certs-dir: /etc/sbx/certs.d # extra CAs of a registry: DIR/HOST:PORT/*.crt
//!   max-concurrent-downloads: 6
//!   timeout-secs: 30           # a registry silent this long fails the request
//! ```

use crate::image::reference;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// A deny stops the run.
    #[default]
    Enforce,
    /// A deny is reported and the run goes on.
    Monitor,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum OnError {
    /// A plugin that traps, times out or misbehaves denies the run (fail closed).
    #[default]
    Deny,
    /// Its failure is reported and it counts as allowing (fail open).
    Allow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Limits {
    #[serde(default = "default_time_ms")]
    pub time_ms: u64,
    #[serde(default = "default_memory_mib")]
    pub memory_mib: u64,
    /// Instructions a call may run, for deterministic limits; none by default.
    #[serde(default)]
    pub fuel: Option<u64>,
    /// How long compiling the component may take the first time it is loaded on this machine.
    #[serde(default = "default_compile_ms")]
    pub compile_ms: u64,
}

fn default_compile_ms() -> u64 {
    60_000
}

fn default_time_ms() -> u64 {
    1000
}

fn default_memory_mib() -> u64 {
    256
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            time_ms: default_time_ms(),
            memory_mib: default_memory_mib(),
            fuel: None,
            compile_ms: default_compile_ms(),
        }
    }
}

impl Limits {
    pub fn time(&self) -> Duration {
        Duration::from_millis(self.time_ms)
    }

    pub fn compile(&self) -> Duration {
        Duration::from_millis(self.compile_ms)
    }

    pub fn memory_bytes(&self) -> usize {
        (self.memory_mib as usize) << 20
    }

    /// What bounds a call (time, memory, fuel; no fuel as 0), which may change its answer: part of
    /// the key of every answer sbx remembers (accepted settings, policy decisions).
    pub fn call_bounds(&self) -> [u64; 3] {
        [self.time_ms, self.memory_mib, self.fuel.unwrap_or(0)]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    #[default]
    Ro,
    Rw,
}

/// A host directory granted to a plugin, seen by it at `guest`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Preopen {
    pub host: PathBuf,
    #[serde(default)]
    pub guest: Option<String>,
    #[serde(default)]
    pub mode: Access,
}

impl Preopen {
    pub fn guest_path(&self) -> String {
        self.guest.clone().unwrap_or_else(|| self.host.to_string_lossy().into_owned())
    }
}

/// A part of a container's isolation that a plugin's adjustments may loosen only when its
/// configuration entry lists it under `may-weaken`; every such change is shown to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Weakening {
    /// Adding a capability the container would not have.
    Capabilities,
    /// Another seccomp profile than the one asked for, or none.
    Seccomp,
    /// Turning no_new_privs off.
    NoNewPrivileges,
    /// The host's network.
    Network,
    /// A bind mount of a host path, or a read-only one made writable.
    Mounts,
    /// A writable root filesystem despite `--read-only`.
    Rootfs,
    /// Running as root (uid 0) where the user asked for another user.
    User,
    /// The host's user ids despite `--userns=auto`.
    Userns,
    /// An rlimit above what was asked (or, when nothing was, above sbx's own).
    Ulimits,
    /// A cgroup limit (memory, swap, pids, CPU) above what was asked.
    Limits,
}

impl Weakening {
    /// The name the configuration uses.
    pub fn name(self) -> &'static str {
        match self {
            Weakening::Capabilities => "capabilities",
            Weakening::Seccomp => "seccomp",
            Weakening::NoNewPrivileges => "no-new-privileges",
            Weakening::Network => "network",
            Weakening::Mounts => "mounts",
            Weakening::Rootfs => "rootfs",
            Weakening::User => "user",
            Weakening::Userns => "userns",
            Weakening::Ulimits => "ulimits",
            Weakening::Limits => "limits",
        }
    }
}

/// One plugin as the file gives it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct RawPlugin {
    path: PathBuf,
    name: Option<String>,
    #[serde(default)]
    order: i64,
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    on_error: OnError,
    #[serde(default)]
    limits: Limits,
    #[serde(default)]
    settings: Option<serde_yaml::Value>,
    #[serde(default)]
    preopens: Vec<Preopen>,
    #[serde(default)]
    may_weaken: Vec<Weakening>,
}

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    plugins: Vec<RawPlugin>,
    #[serde(default)]
    layers: crate::layer::guard::Limits,
    #[serde(default)]
    registries: Registries,
}

/// The registries images come from, and how sbx talks to them.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Registries {
    /// Where a short name may come from, in order, after `localhost/` (podman's
    /// unqualified-search-registries).
    #[serde(default = "default_search")]
    pub search: Vec<String>,
    /// Hosts (`HOST[:PORT]`) reached over plain HTTP; every other one is HTTPS with its
    /// certificate verified.
    #[serde(default)]
    pub insecure: Vec<String>,
    /// Where a registry's extra CA certificates are: `DIR/HOST:PORT/*.crt`, as docker and podman
    /// keep them.
    #[serde(default = "default_certs_dir")]
    pub certs_dir: PathBuf,
    /// How many layers download at once (6, as podman and skopeo; docker takes 3).
    #[serde(default = "default_downloads")]
    pub max_concurrent_downloads: usize,
    /// How long a registry may stay silent (connecting, or between two reads) before the request
    /// fails, in seconds.
    #[serde(default = "default_timeout")]
    pub timeout_secs: u64,
}

fn default_search() -> Vec<String> {
    vec!["docker.io".into()]
}

fn default_certs_dir() -> PathBuf {
    PathBuf::from("/etc/sbx/certs.d")
}

fn default_downloads() -> usize {
    6
}

fn default_timeout() -> u64 {
    30
}

impl Default for Registries {
    fn default() -> Registries {
        Registries {
            search: default_search(),
            insecure: Vec::new(),
            certs_dir: default_certs_dir(),
            max_concurrent_downloads: default_downloads(),
            timeout_secs: default_timeout(),
        }
    }
}

/// A plugin ready to load: settings as the JSON text plugins receive.
#[derive(Debug, Clone, PartialEq)]
pub struct PluginSpec {
    pub name: String,
    pub path: PathBuf,
    pub mode: Mode,
    pub on_error: OnError,
    pub limits: Limits,
    pub settings: String,
    pub preopens: Vec<Preopen>,
    /// What its adjustments may loosen (see [`Weakening`]); nothing by default.
    pub may_weaken: Vec<Weakening>,
}

impl PluginSpec {
    /// A plugin given on the command line (`--policy P.wasm`): defaults for everything.
    pub fn from_path(path: &Path) -> PluginSpec {
        PluginSpec {
            name: default_name(path),
            path: path.to_path_buf(),
            mode: Mode::default(),
            on_error: OnError::default(),
            limits: Limits::default(),
            settings: "{}".into(),
            preopens: Vec::new(),
            may_weaken: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// In the order they run.
    pub plugins: Vec<PluginSpec>,
    /// What one layer may cost to unpack (`layers: { max-bytes, max-ratio, max-entries }`).
    pub layers: crate::layer::guard::Limits,
    pub registries: Registries,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path}{}: {message}", location.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
    Invalid { path: PathBuf, location: Option<(usize, usize)>, message: String },
}

pub fn default_name(path: &Path) -> String {
    path.file_stem().map_or_else(|| path.display().to_string(), |s| s.to_string_lossy().into_owned())
}

/// Where the config is read from when `--config` is not given: /etc/sbx/sbx.yaml for root,
/// $XDG_CONFIG_HOME/sbx/sbx.yaml (or ~/.config/sbx/sbx.yaml) for others. None if it does not exist.
pub fn default_path(is_root: bool, env: impl Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let path = if is_root {
        PathBuf::from("/etc/sbx/sbx.yaml")
    } else {
        let base =
            env("XDG_CONFIG_HOME").map(PathBuf::from).or_else(|| env("HOME").map(|h| Path::new(&h).join(".config")))?;
        base.join("sbx/sbx.yaml")
    };
    path.exists().then_some(path)
}

pub fn load(path: &Path) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.into(), source })?;
    parse(&text, path)
}

/// Parses and validates config text; `path` names it in errors and anchors relative plugin paths.
pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
    let invalid = |location, message: String| ConfigError::Invalid { path: path.into(), location, message };
    let raw: RawConfig = if text.trim().is_empty() {
        RawConfig::default()
    } else {
        serde_yaml::from_str(text).map_err(|e| invalid(e.location().map(|l| (l.line(), l.column())), e.to_string()))?
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut plugins = Vec::new();
    for (i, p) in raw.plugins.into_iter().enumerate() {
        let what = format!("plugins[{i}]");
        if p.limits.time_ms == 0 || p.limits.memory_mib == 0 || p.limits.fuel == Some(0) || p.limits.compile_ms == 0 {
            return Err(invalid(None, format!("{what}: limits must be greater than 0")));
        }
        let settings = match p.settings {
            None => "{}".to_string(),
            Some(v) => serde_json::to_string(&v)
                .map_err(|e| invalid(None, format!("{what}.settings cannot be passed as JSON: {e}")))?,
        };
        let full = if p.path.is_absolute() { p.path.clone() } else { base.join(&p.path) };
        let name = p.name.unwrap_or_else(|| default_name(&p.path));
        if plugins.iter().any(|(_, _, s): &(i64, usize, PluginSpec)| s.name == name) {
            return Err(invalid(
                None,
                format!("{what}: the name '{name}' is used twice; give one of them another `name`"),
            ));
        }
        for (j, o) in p.preopens.iter().enumerate() {
            if !o.host.is_absolute() {
                return Err(invalid(
                    None,
                    format!("{what}.preopens[{j}]: host path {} is not absolute", o.host.display()),
                ));
            }
            if !o.host.is_dir() {
                return Err(invalid(
                    None,
                    format!("{what}.preopens[{j}]: {} is not a directory; create it or fix the path", o.host.display()),
                ));
            }
        }
        let spec = PluginSpec {
            name,
            path: full,
            mode: p.mode,
            on_error: p.on_error,
            limits: p.limits,
            settings,
            preopens: p.preopens,
            may_weaken: p.may_weaken,
        };
        plugins.push((p.order, i, spec));
    }
    plugins.sort_by_key(|(order, i, _)| (*order, *i));
    let l = raw.layers;
    if l.unpacked == 0 || l.ratio == 0 || l.entries == 0 {
        return Err(invalid(None, "layers: limits must be greater than 0".into()));
    }
    let r = &raw.registries;
    for (key, hosts) in [("search", &r.search), ("insecure", &r.insecure)] {
        if let Some(bad) = hosts.iter().find(|h| !reference::is_domain(h) || h.contains('/')) {
            return Err(invalid(
                None,
                format!("registries.{key}: '{bad}' is not a registry host (as docker.io or registry.example:5000)"),
            ));
        }
    }
    if r.max_concurrent_downloads == 0 || r.timeout_secs == 0 {
        return Err(invalid(
            None,
            "registries: max-concurrent-downloads and timeout-secs must be greater than 0".into(),
        ));
    }
    Ok(Config { plugins: plugins.into_iter().map(|(_, _, s)| s).collect(), layers: l, registries: raw.registries })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_ok(text: &str) -> Config {
        parse(text, Path::new("/etc/sbx/sbx.yaml")).unwrap()
    }

    #[test]
    fn defaults_order_and_settings() {
        let c = parse_ok(
            "plugins:\n  - path: b.wasm\n    order: 20\n  - path: /opt/a.wasm\n    order: 10\n    mode: monitor\n    on-error: allow\n    limits: { time-ms: 50 }\n    settings: { allow: [usr/bin/su], max: 3 }\n",
        );
        assert_eq!(c.plugins.len(), 2);
        let a = &c.plugins[0];
        assert_eq!((a.name.as_str(), a.path.as_path()), ("a", Path::new("/opt/a.wasm")));
        assert_eq!((a.mode, a.on_error), (Mode::Monitor, OnError::Allow));
        assert_eq!(a.limits, Limits { time_ms: 50, ..Limits::default() });
        assert_eq!(a.settings, r#"{"allow":["usr/bin/su"],"max":3}"#);
        let b = &c.plugins[1];
        assert_eq!((b.name.as_str(), b.path.as_path()), ("b", Path::new("/etc/sbx/b.wasm")), "relative to the file");
        assert_eq!((b.mode, b.on_error, b.settings.as_str()), (Mode::Enforce, OnError::Deny, "{}"));
    }

    #[test]
    fn equal_orders_keep_file_order() {
        let c = parse_ok("plugins:\n  - path: x.wasm\n  - path: y.wasm\n  - path: w.wasm\n    order: -1\n");
        let names: Vec<&str> = c.plugins.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["w", "x", "y"]);
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let e = parse("plugins:\n  - path: a.wasm\n    mode: strict\n", Path::new("/etc/sbx/sbx.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/etc/sbx/sbx.yaml:3:11: "), "{e}");
        assert!(e.contains("unknown variant `strict`"), "{e}");
        let e = parse("plugins:\n  - path: a.wasm\n    colour: red\n", Path::new("c.yaml")).unwrap_err().to_string();
        assert!(e.starts_with("c.yaml:3:5: ") && e.contains("unknown field `colour`"), "{e}");
        let e = parse("plugins:\n  - path: a.wasm\n  - path: b/a.wasm\n", Path::new("c.yaml")).unwrap_err().to_string();
        assert!(e.contains("the name 'a' is used twice"), "{e}");
        let e = parse("plugins:\n  - path: a.wasm\n    limits: { time-ms: 0 }\n", Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("plugins[0]: limits must be greater than 0"), "{e}");
    }

    #[test]
    fn preopens_default_to_read_only_at_the_same_path() {
        let c =
            parse_ok("plugins:\n  - path: a.wasm\n    preopens: [{ host: /tmp }, { host: /, guest: /h, mode: rw }]\n");
        let p = &c.plugins[0].preopens;
        assert_eq!((p[0].guest_path(), p[0].mode), ("/tmp".to_string(), Access::Ro));
        assert_eq!((p[1].guest_path(), p[1].mode), ("/h".to_string(), Access::Rw));
        let e = parse("plugins:\n  - path: a.wasm\n    preopens: [{ host: /no/such/dir }]\n", Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("plugins[0].preopens[0]: /no/such/dir is not a directory"), "{e}");
    }

    #[test]
    fn may_weaken_names_parts_of_the_isolation() {
        let c = parse_ok("plugins:\n  - path: a.wasm\n    may-weaken: [capabilities, no-new-privileges]\n");
        assert_eq!(c.plugins[0].may_weaken, [Weakening::Capabilities, Weakening::NoNewPrivileges]);
        let e = parse("plugins:\n  - path: a.wasm\n    may-weaken: [everything]\n", Path::new("c.yaml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown variant `everything`") && e.contains("capabilities"), "{e}");
    }

    #[test]
    fn empty_file_is_no_plugins() {
        assert_eq!(parse_ok(""), Config::default());
    }

    #[test]
    fn default_path_for_users() {
        let env = |k: &str| (k == "HOME").then(|| "/home/u".to_string());
        assert_eq!(default_path(false, env), None, "only when the file exists");
    }
}
