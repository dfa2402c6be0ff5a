//! `--cgroups`: whether a container gets a cgroup of its own (podman's flag of that name).
//!
//! Without one there are no limits, stats, pause or device cgroup, and nothing to make and remove
//! at every run. The device cgroup is what keeps a root container from using a host device node
//! it makes (CAP_MKNOD) or finds in an image's layers; without it, sbx mounts the root `nodev`
//! and keeps CAP_MKNOD and CAP_SYS_ADMIN (which could remount the root with devices allowed) out
//! of a container that is not `--privileged`. Pure.

use super::{ContainerSpec, Limits, SpecError};
use serde::{Deserialize, Serialize};

/// `--cgroups`: enabled (the default) or disabled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cgroups {
    #[default]
    Enabled,
    Disabled,
}

impl Cgroups {
    pub fn is_enabled(&self) -> bool {
        *self == Cgroups::Enabled
    }
}

/// `--cgroups`: `enabled` or `disabled` (podman's `no-conmon` and `split` name its own processes).
pub fn parse_cgroups(text: &str) -> Result<Cgroups, String> {
    match text {
        "enabled" => Ok(Cgroups::Enabled),
        "disabled" => Ok(Cgroups::Disabled),
        "no-conmon" | "split" => Err(format!(
            "--cgroups={text} is podman's, for its conmon and systemd: sbx has neither; use enabled or disabled"
        )),
        other => Err(format!(
            "cgroups mode '{other}' is not supported: use enabled (a cgroup of its own, the default) or disabled (none: no limits, stats or pause)"
        )),
    }
}

/// The capabilities a container without a device cgroup may not hold unless it is privileged.
pub const NEED_DEVICE_CGROUP: [&str; 2] = ["CAP_MKNOD", "CAP_SYS_ADMIN"];

/// What `--cgroups=disabled` cannot give a container: limits, and (unless privileged, which is
/// root on the host anyway) the capabilities the device cgroup holds in.
pub fn check(spec: &ContainerSpec) -> Result<(), SpecError> {
    if spec.cgroups.is_enabled() {
        return Ok(());
    }
    if spec.limits != Limits::default() {
        return Err(SpecError::NoCgroups("resource limits (--memory, --pids-limit, --cpus...) need"));
    }
    if !spec.pid.is_private() {
        return Err(SpecError::NoCgroups(
            "a PID namespace of the host's or another container's (--pid) needs to find and stop the container's processes",
        ));
    }
    match NEED_DEVICE_CGROUP.iter().find(|c| !spec.privileged && spec.capabilities.iter().any(|h| h == *c)) {
        Some(cap) => Err(SpecError::NoDeviceCgroup(cap)),
        None => Ok(()),
    }
}

/// The default capability set for a container with `cgroups`: docker's, less CAP_MKNOD without a
/// cgroup (podman's default set has no CAP_MKNOD either).
pub fn default_capabilities(cgroups: Cgroups, resolved: Vec<String>, added: &[String]) -> Vec<String> {
    if cgroups.is_enabled()
        || added.iter().any(|c| c.eq_ignore_ascii_case("MKNOD") || c.eq_ignore_ascii_case("CAP_MKNOD"))
    {
        return resolved;
    }
    resolved.into_iter().filter(|c| c != "CAP_MKNOD").collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Overrides, build};

    fn spec(o: &Overrides) -> Result<ContainerSpec, SpecError> {
        build("busybox", None, o, "h", |_| None)
    }

    fn disabled() -> Overrides {
        Overrides { cgroups: Cgroups::Disabled, cmd: vec!["true".into()], ..Overrides::default() }
    }

    #[test]
    fn parses_podmans_words() {
        assert_eq!(parse_cgroups("enabled"), Ok(Cgroups::Enabled));
        assert_eq!(parse_cgroups("disabled"), Ok(Cgroups::Disabled));
        assert!(parse_cgroups("split").unwrap_err().contains("conmon"));
        assert!(parse_cgroups("off").unwrap_err().contains("use enabled (a cgroup of its own"));
    }

    #[test]
    fn without_cgroups_there_is_no_mknod_and_no_limit() {
        let s = spec(&disabled()).unwrap();
        assert!(!s.capabilities.iter().any(|c| c == "CAP_MKNOD"));
        assert!(s.capabilities.iter().any(|c| c == "CAP_CHOWN"), "the rest of docker's set");
        assert!(
            spec(&Overrides { cmd: vec!["true".into()], ..Overrides::default() })
                .unwrap()
                .capabilities
                .iter()
                .any(|c| c == "CAP_MKNOD")
        );

        let mut o = disabled();
        o.limits.pids = Some(10);
        assert!(matches!(spec(&o), Err(SpecError::NoCgroups(m)) if m.contains("--pids-limit")));
        let mut o = disabled();
        o.pid = crate::spec::Sharing::Host;
        assert!(matches!(spec(&o), Err(SpecError::NoCgroups(m)) if m.contains("--pid")));
        let mut o = disabled();
        o.cap_add = vec!["MKNOD".into()];
        assert_eq!(spec(&o), Err(SpecError::NoDeviceCgroup("CAP_MKNOD")));
        let mut o = disabled();
        o.cap_add = vec!["SYS_ADMIN".into()];
        assert_eq!(spec(&o), Err(SpecError::NoDeviceCgroup("CAP_SYS_ADMIN")));
        let mut o = disabled();
        o.privileged = true;
        assert!(spec(&o).is_ok(), "a privileged container is root on the host with or without cgroups");
    }

    #[test]
    fn a_plugin_cannot_give_back_what_it_needs() {
        let mut s = spec(&disabled()).unwrap();
        s.capabilities.push("CAP_MKNOD".into());
        assert_eq!(crate::spec::validate(&s), Err(SpecError::NoDeviceCgroup("CAP_MKNOD")));
    }
}
