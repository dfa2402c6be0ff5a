//! The isolation options of `sbx run` beyond namespaces and capabilities: `--security-opt`
//! (no-new-privileges, seccomp), `--device`, `--ulimit`, and the device cgroup's rules. Parsing and
//! checks are pure; reading a profile file and looking at a device node are the caller's.

use crate::spec::seccomp::Profile;
use serde::{Deserialize, Serialize};

/// The container's seccomp filter.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Seccomp {
    /// sbx's default profile (docker's equivalent).
    #[default]
    Default,
    /// No filter (`--security-opt seccomp=unconfined`, `--privileged`).
    Unconfined,
    /// A profile the user gave (`--security-opt seccomp=FILE`), kept in the spec as it was read.
    Profile(Box<Profile>),
}

/// A host device the container may use (`--device HOST[:CONTAINER][:PERMISSIONS]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Device {
    pub host_path: String,
    pub container_path: String,
    /// Some of `rwm`: read, write, mknod.
    pub permissions: String,
    /// `c` or `b`.
    pub kind: char,
    pub major: u32,
    pub minor: u32,
    /// The host node's file mode (type and permission bits).
    pub mode: u32,
}

/// A resource limit (`--ulimit NAME=SOFT[:HARD]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Ulimit {
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecurityError {
    #[error(
        "unknown --security-opt '{0}': sbx knows no-new-privileges[=true|false], seccomp=unconfined and seccomp=PROFILE.json"
    )]
    UnknownOpt(String),
    #[error("--security-opt {0}: sbx has no AppArmor or SELinux support; leave it out")]
    NotSupported(String),
    #[error("--security-opt seccomp={path}: cannot read it: {message}")]
    Profile { path: String, message: String },
    #[error("--device {0}: expected HOST[:CONTAINER][:PERMISSIONS], paths absolute, permissions some of rwm")]
    BadDevice(String),
    #[error("--device {0}: not a character or block device on this host")]
    NotADevice(String),
    #[error("--ulimit {0}: expected NAME=SOFT[:HARD] with NAME one of {names}", names = ULIMIT_NAMES.join(", "))]
    BadUlimit(String),
    #[error("--ulimit {0}: the soft limit is above the hard one")]
    SoftAboveHard(String),
    #[error(
        "--ulimit {name}: the hard limit {hard} is above sbx's own ({current}), which it cannot raise without CAP_SYS_RESOURCE; ask for at most {current}"
    )]
    AboveHostHard { name: String, hard: u64, current: u64 },
}

/// What `--security-opt` values set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SecurityOpts {
    pub no_new_privileges: Option<bool>,
    pub seccomp: Option<Seccomp>,
}

fn bool_value(v: &str, opt: &str) -> Result<bool, SecurityError> {
    match v {
        "" | "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(SecurityError::UnknownOpt(opt.to_string())),
    }
}

/// Reads `--security-opt` values (docker's `=` or the older `:` form); `read` reads a profile file.
pub fn parse_security_opts(
    opts: &[String],
    read: impl Fn(&str) -> std::io::Result<String>,
) -> Result<SecurityOpts, SecurityError> {
    let mut out = SecurityOpts::default();
    for opt in opts {
        let (key, value) = opt.split_once(['=', ':']).unwrap_or((opt.as_str(), ""));
        match key {
            "no-new-privileges" => out.no_new_privileges = Some(bool_value(value, opt)?),
            "seccomp" if value == "unconfined" => out.seccomp = Some(Seccomp::Unconfined),
            "seccomp" if !value.is_empty() => {
                let text = read(value)
                    .map_err(|e| SecurityError::Profile { path: value.to_string(), message: e.to_string() })?;
                let profile = Profile::parse(&text, value)
                    .map_err(|e| SecurityError::Profile { path: value.to_string(), message: e.to_string() })?;
                out.seccomp = Some(Seccomp::Profile(Box::new(profile)));
            }
            "apparmor" | "label" => return Err(SecurityError::NotSupported(opt.clone())),
            _ => return Err(SecurityError::UnknownOpt(opt.clone())),
        }
    }
    Ok(out)
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]` as (host, container, permissions). Pure.
pub fn parse_device(arg: &str) -> Result<(String, String, String), SecurityError> {
    let bad = || SecurityError::BadDevice(arg.to_string());
    let parts: Vec<&str> = arg.split(':').collect();
    let is_perms = |p: &str| !p.is_empty() && p.chars().all(|c| "rwm".contains(c));
    let (host, container, perms) = match parts.as_slice() {
        [h] => (*h, *h, "rwm"),
        [h, p] if is_perms(p) => (*h, *h, *p),
        [h, c] => (*h, *c, "rwm"),
        [h, c, p] => (*h, *c, *p),
        _ => return Err(bad()),
    };
    if !host.starts_with('/') || !container.starts_with("/dev/") || !is_perms(perms) || container.contains("/../") {
        return Err(bad());
    }
    Ok((host.to_string(), container.to_string(), perms.to_string()))
}

/// The device cgroup's allow list for a container: docker's safe devices (null, zero, full,
/// random, urandom, tty, console, ptmx and the pts), mknod of any node (opening one needs it
/// allowed), and the `--device` ones; every device when privileged. Pure.
pub fn device_rules(devices: &[Device], privileged: bool) -> Vec<String> {
    if privileged {
        return vec!["a *:* rwm".into()];
    }
    let mut rules: Vec<String> =
        ["c *:* m", "b *:* m", "c 1:3 rwm", "c 1:5 rwm", "c 1:7 rwm", "c 1:8 rwm", "c 1:9 rwm"]
            .into_iter()
            .chain(["c 5:0 rwm", "c 5:1 rwm", "c 5:2 rwm", "c 136:* rwm"])
            .map(String::from)
            .collect();
    rules.extend(devices.iter().map(|d| format!("{} {}:{} {}", d.kind, d.major, d.minor, d.permissions)));
    rules
}

/// A resource of setrlimit(2): glibc gives it a type of its own, musl an int.
#[cfg(target_env = "gnu")]
pub type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
pub type Resource = libc::c_int;

/// The limits `--ulimit` knows, by docker's names.
pub const ULIMITS: [(&str, Resource); 15] = [
    ("core", libc::RLIMIT_CORE),
    ("cpu", libc::RLIMIT_CPU),
    ("data", libc::RLIMIT_DATA),
    ("fsize", libc::RLIMIT_FSIZE),
    ("locks", libc::RLIMIT_LOCKS),
    ("memlock", libc::RLIMIT_MEMLOCK),
    ("msgqueue", libc::RLIMIT_MSGQUEUE),
    ("nice", libc::RLIMIT_NICE),
    ("nofile", libc::RLIMIT_NOFILE),
    ("nproc", libc::RLIMIT_NPROC),
    ("rss", libc::RLIMIT_RSS),
    ("rtprio", libc::RLIMIT_RTPRIO),
    ("rttime", libc::RLIMIT_RTTIME),
    ("sigpending", libc::RLIMIT_SIGPENDING),
    ("stack", libc::RLIMIT_STACK),
];
const ULIMIT_NAMES: [&str; 15] = {
    let mut names = [""; 15];
    let mut i = 0;
    while i < ULIMITS.len() {
        names[i] = ULIMITS[i].0;
        i += 1;
    }
    names
};

pub fn resource_of(name: &str) -> Option<Resource> {
    ULIMITS.iter().find(|(n, _)| *n == name).map(|(_, r)| *r)
}

/// `--ulimit NAME=SOFT[:HARD]` (-1 or `unlimited` for no limit; without HARD, HARD = SOFT). Pure.
pub fn parse_ulimit(arg: &str) -> Result<Ulimit, SecurityError> {
    let bad = || SecurityError::BadUlimit(arg.to_string());
    let (name, values) = arg.split_once('=').ok_or_else(bad)?;
    let name = ULIMITS.iter().map(|(n, _)| *n).find(|n| *n == name).ok_or_else(bad)?;
    let number = |v: &str| match v {
        "-1" | "unlimited" => Ok(libc::RLIM_INFINITY),
        v => v.parse::<u64>().map_err(|_| bad()),
    };
    let (soft, hard) = match values.split_once(':') {
        Some((s, h)) => (number(s)?, number(h)?),
        None => (number(values)?, number(values)?),
    };
    if soft > hard {
        return Err(SecurityError::SoftAboveHard(arg.to_string()));
    }
    Ok(Ulimit { name: name.to_string(), soft, hard })
}

/// sbx's own hard limit of the rlimit `name` (docker's name), which a container cannot be given
/// more of; None when there is no such bound (sbx has CAP_SYS_RESOURCE) or no such rlimit.
pub fn own_hard_limit(name: &str) -> Option<u64> {
    if crate::spec::caps::effective_has("CAP_SYS_RESOURCE") {
        return None;
    }
    let resource = resource_of(name)?;
    let mut current = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `current` is a live rlimit for the kernel to fill.
    (unsafe { libc::getrlimit(resource, &mut current) } == 0).then_some(current.rlim_max)
}

/// A limit above sbx's own hard limit can only be set with CAP_SYS_RESOURCE; say so before the
/// container is made, not as a failed step inside it. Pure.
pub fn check_ulimit(u: &Ulimit, current_hard: u64, can_raise: bool) -> Result<(), SecurityError> {
    if u.hard > current_hard && !can_raise {
        return Err(SecurityError::AboveHostHard { name: u.name.clone(), hard: u.hard, current: current_hard });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(v: &[&str]) -> Result<SecurityOpts, SecurityError> {
        let v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
        parse_security_opts(&v, |p| {
            if p == "/p.json" {
                Ok(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#.into())
            } else {
                Err(std::io::Error::from(std::io::ErrorKind::NotFound))
            }
        })
    }

    #[test]
    fn security_opts_read_as_dockers() {
        assert_eq!(opts(&["no-new-privileges"]).unwrap().no_new_privileges, Some(true));
        assert_eq!(opts(&["no-new-privileges=false"]).unwrap().no_new_privileges, Some(false));
        assert_eq!(opts(&["no-new-privileges:false"]).unwrap().no_new_privileges, Some(false));
        assert_eq!(opts(&["seccomp=unconfined"]).unwrap().seccomp, Some(Seccomp::Unconfined));
        assert!(matches!(opts(&["seccomp=/p.json"]).unwrap().seccomp, Some(Seccomp::Profile(_))));
        assert!(matches!(opts(&["seccomp=/none.json"]), Err(SecurityError::Profile { .. })));
        assert!(matches!(opts(&["apparmor=unconfined"]), Err(SecurityError::NotSupported(_))));
        assert!(matches!(opts(&["no-new-privileges=maybe"]), Err(SecurityError::UnknownOpt(_))));
        assert!(matches!(opts(&["fly"]), Err(SecurityError::UnknownOpt(_))));
    }

    #[test]
    fn devices_parse_as_dockers() {
        let d = |s| parse_device(s).map(|(h, c, p)| format!("{h} {c} {p}"));
        assert_eq!(d("/dev/fuse").unwrap(), "/dev/fuse /dev/fuse rwm");
        assert_eq!(d("/dev/sda:/dev/xvda").unwrap(), "/dev/sda /dev/xvda rwm");
        assert_eq!(d("/dev/sda:r").unwrap(), "/dev/sda /dev/sda r");
        assert_eq!(d("/dev/sda:/dev/xvda:rw").unwrap(), "/dev/sda /dev/xvda rw");
        for bad in ["dev/sda", "/dev/sda:/etc/passwd", "/dev/sda:/dev/x:rwx", "/a:/dev/b:r:w", "/dev/a:/dev/../etc"] {
            assert!(d(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn device_rules_allow_only_the_safe_devices_and_those_asked_for() {
        let rules = device_rules(&[], false);
        assert!(rules.contains(&"c 1:3 rwm".to_string()) && rules.contains(&"c 136:* rwm".to_string()));
        assert!(!rules.iter().any(|r| r.starts_with("b ") && r.ends_with("rwm")), "no block device: {rules:?}");
        let fuse = Device {
            host_path: "/dev/fuse".into(),
            container_path: "/dev/fuse".into(),
            permissions: "rw".into(),
            kind: 'c',
            major: 10,
            minor: 229,
            mode: 0o20666,
        };
        assert_eq!(device_rules(&[fuse], false).last().unwrap(), "c 10:229 rw");
        assert_eq!(device_rules(&[], true), ["a *:* rwm"]);
    }

    #[test]
    fn ulimits_parse_and_stay_under_the_hosts_hard_limit() {
        assert_eq!(parse_ulimit("nofile=1024:2048").unwrap(), Ulimit { name: "nofile".into(), soft: 1024, hard: 2048 });
        assert_eq!(parse_ulimit("nproc=100").unwrap(), Ulimit { name: "nproc".into(), soft: 100, hard: 100 });
        assert_eq!(parse_ulimit("core=-1").unwrap().hard, libc::RLIM_INFINITY);
        assert!(matches!(parse_ulimit("nofile=2:1"), Err(SecurityError::SoftAboveHard(_))));
        assert!(matches!(parse_ulimit("files=1"), Err(SecurityError::BadUlimit(_))));
        assert!(matches!(parse_ulimit("nofile=x"), Err(SecurityError::BadUlimit(_))));
        let u = parse_ulimit("nofile=1024:30000").unwrap();
        assert!(matches!(check_ulimit(&u, 20000, false), Err(SecurityError::AboveHostHard { current: 20000, .. })));
        assert!(check_ulimit(&u, 20000, true).is_ok());
        assert!(check_ulimit(&parse_ulimit("nofile=1024:20000").unwrap(), 20000, false).is_ok());
    }
}
