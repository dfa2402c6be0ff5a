//! no-escalation: keeps a container from being given more than sbx's defaults allow: refuses
//! `--privileged`, `--security-opt seccomp=unconfined`, the host's network and host devices not
//! listed, and turns no_new_privs back on if it was turned off; with `require_userns` it also moves
//! a container out of the host's user ids into a user namespace of its own (`--userns=auto`).
//! Settings (all optional): `{"allow_host_network": false, "allow_devices": ["/dev/fuse"],
//! "allow_unconfined": false, "require_userns": false}`.

use sbx_plugin::{Adjustment, Network, Plugin, Policy, Seccomp, Spec, SpecVerdict, Userns, allow, deny};
use serde::Deserialize;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub allow_host_network: bool,
    /// Host paths of devices a container may be given.
    #[serde(default)]
    pub allow_devices: Vec<String>,
    /// Allow running without a seccomp filter.
    #[serde(default)]
    pub allow_unconfined: bool,
    /// Root in the container must not be root on the host: run it with ids of its own.
    #[serde(default)]
    pub require_userns: bool,
}

pub struct NoEscalation;

impl Plugin for NoEscalation {
    type Settings = Settings;

    fn validate(s: &Settings) -> Result<(), String> {
        match s.allow_devices.iter().find(|d| !d.starts_with("/dev/")) {
            Some(d) => Err(format!("allowed device '{d}' must be a path under /dev/")),
            None => Ok(()),
        }
    }
}

impl Policy for NoEscalation {
    fn check_spec(s: &Settings, spec: &Spec) -> SpecVerdict {
        if spec.privileged {
            return deny("--privileged is not allowed");
        }
        if spec.seccomp == Seccomp::Unconfined && !s.allow_unconfined {
            return deny("running without a seccomp filter (seccomp=unconfined) is not allowed");
        }
        if spec.network == Network::Host && !s.allow_host_network {
            return deny("the host's network (--network host) is not allowed");
        }
        if let Some(d) = spec.devices.iter().find(|d| !s.allow_devices.contains(&d.host_path)) {
            return deny(format!("host device {} is not allowed", d.host_path));
        }
        let mut adjustments = Vec::new();
        if !spec.no_new_privileges {
            adjustments.push(Adjustment::SetNoNewPrivileges(true));
        }
        if s.require_userns && spec.userns == Userns::Host {
            adjustments.push(Adjustment::SetUserns(Userns::Auto));
        }
        allow(adjustments)
    }
}

sbx_plugin::export_policy!(NoEscalation);

#[cfg(test)]
mod tests {
    use super::*;
    use sbx_plugin::testing::spec;
    use sbx_plugin::{Device, Verdict};

    fn denied(s: &Settings, spec: &Spec) -> String {
        match NoEscalation::check_spec(s, spec).verdict {
            Verdict::Deny(r) => r,
            Verdict::Allow => panic!("allowed"),
        }
    }

    #[test]
    fn what_goes_beyond_the_defaults_is_refused_or_turned_back() {
        let none = Settings::default();
        assert_eq!(NoEscalation::check_spec(&none, &spec()), allow(vec![]));
        let mut s = spec();
        s.privileged = true;
        assert!(denied(&none, &s).contains("--privileged"));
        let mut s = spec();
        s.seccomp = Seccomp::Unconfined;
        assert!(denied(&none, &s).contains("seccomp=unconfined"));
        assert_eq!(
            NoEscalation::check_spec(&Settings { allow_unconfined: true, ..Default::default() }, &s),
            allow(vec![])
        );
        let mut s = spec();
        s.network = Network::Host;
        assert!(denied(&none, &s).contains("--network host"));
        let mut s = spec();
        s.devices.push(Device {
            host_path: "/dev/fuse".into(),
            container_path: "/dev/fuse".into(),
            permissions: "rw".into(),
        });
        assert!(denied(&none, &s).contains("/dev/fuse"));
        let fuse = Settings { allow_devices: vec!["/dev/fuse".into()], ..Default::default() };
        assert_eq!(NoEscalation::check_spec(&fuse, &s), allow(vec![]));
        let mut s = spec();
        s.no_new_privileges = false;
        assert_eq!(NoEscalation::check_spec(&none, &s), allow(vec![Adjustment::SetNoNewPrivileges(true)]));
    }

    #[test]
    fn require_userns_moves_a_container_out_of_the_hosts_ids() {
        let userns = Settings { require_userns: true, ..Default::default() };
        assert_eq!(NoEscalation::check_spec(&userns, &spec()), allow(vec![Adjustment::SetUserns(Userns::Auto)]));
        let mut s = spec();
        s.userns = Userns::Auto;
        assert_eq!(NoEscalation::check_spec(&userns, &s), allow(vec![]));
        assert_eq!(NoEscalation::check_spec(&Settings::default(), &spec()), allow(vec![]));
    }
}
