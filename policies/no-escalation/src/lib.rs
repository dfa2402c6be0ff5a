//! no-escalation: keeps a container from being given more than sbx's defaults allow: refuses
//! `--privileged`, `--security-opt seccomp=unconfined`, the host's network, PID or IPC namespace
//! and host devices not listed, and turns no_new_privs back on if it was turned off; with `require_userns` it also moves
//! a container out of the host's user ids into a user namespace of its own (`--userns=auto`).
//! Settings (all optional): `{"allow_host_network": false, "allow_host_pid": false,
//! "allow_host_ipc": false, "allow_devices": ["/dev/fuse"],
//! "allow_unconfined": false, "require_userns": false}`.

use sbx_plugin::{Adjustment, Interests, NO_CHECK, Network, Plugin, Policy, Seccomp, Spec, Userns, Verdict, deny};
use serde::Deserialize;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub allow_host_network: bool,
    /// Allow `--pid host` and `--ipc host` (another container's namespaces are always allowed).
    #[serde(default)]
    pub allow_host_pid: bool,
    #[serde(default)]
    pub allow_host_ipc: bool,
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
    fn wants(_settings: &Settings) -> Interests {
        Interests { mutate_spec: true, validate_spec: true, ..NO_CHECK }
    }

    fn mutate_spec(s: &Settings, spec: &Spec) -> Vec<Adjustment> {
        let mut adjustments = Vec::new();
        if !spec.no_new_privileges {
            adjustments.push(Adjustment::SetNoNewPrivileges(true));
        }
        if s.require_userns && spec.userns == Userns::Host {
            adjustments.push(Adjustment::SetUserns(Userns::Auto));
        }
        adjustments
    }

    fn validate_spec(s: &Settings, spec: &Spec) -> Verdict {
        if spec.privileged {
            return deny("--privileged is not allowed");
        }
        if spec.seccomp == Seccomp::Unconfined && !s.allow_unconfined {
            return deny("running without a seccomp filter (seccomp=unconfined) is not allowed");
        }
        if spec.network == Network::Host && !s.allow_host_network {
            return deny("the host's network (--network host) is not allowed");
        }
        for (ns, name, allowed) in [("pid", "PID", s.allow_host_pid), ("ipc", "IPC", s.allow_host_ipc)] {
            // A namespace of the host's is one the container does not have.
            if !allowed && !spec.namespaces.iter().any(|n| n == ns) {
                return deny(format!("the host's {name} namespace (--{ns} host) is not allowed"));
            }
        }
        if let Some(d) = spec.devices.iter().find(|d| !s.allow_devices.contains(&d.host_path)) {
            return deny(format!("host device {} is not allowed", d.host_path));
        }
        if !spec.no_new_privileges {
            return deny("no_new_privileges must stay on (--security-opt no-new-privileges=false is not allowed)");
        }
        if s.require_userns && spec.userns == Userns::Host {
            return deny("the container must run in a user namespace of its own (--userns=auto)");
        }
        Verdict::Allow
    }
}

sbx_plugin::export_policy!(NoEscalation);

#[cfg(test)]
mod tests {
    use super::*;
    use sbx_plugin::Device;
    use sbx_plugin::testing::spec;

    fn denied(s: &Settings, spec: &Spec) -> String {
        match NoEscalation::validate_spec(s, spec) {
            Verdict::Deny(r) => r,
            Verdict::Allow => panic!("allowed"),
        }
    }

    #[test]
    fn what_goes_beyond_the_defaults_is_refused_or_turned_back() {
        let none = Settings::default();
        assert_eq!(NoEscalation::validate_spec(&none, &spec()), Verdict::Allow);
        let mut s = spec();
        s.privileged = true;
        assert!(denied(&none, &s).contains("--privileged"));
        let mut s = spec();
        s.seccomp = Seccomp::Unconfined;
        assert!(denied(&none, &s).contains("seccomp=unconfined"));
        let unconfined = Settings { allow_unconfined: true, ..Default::default() };
        assert_eq!(NoEscalation::validate_spec(&unconfined, &s), Verdict::Allow);
        let mut s = spec();
        s.network = Network::Host;
        assert!(denied(&none, &s).contains("--network host"));
        let mut s = spec();
        s.namespaces.retain(|n| n != "pid");
        assert!(denied(&none, &s).contains("the host's PID namespace (--pid host)"));
        let host_pid = Settings { allow_host_pid: true, ..Default::default() };
        assert_eq!(NoEscalation::validate_spec(&host_pid, &s), Verdict::Allow);
        s.namespaces.retain(|n| n != "ipc");
        assert!(denied(&host_pid, &s).contains("--ipc host"));
        let mut s = spec();
        s.devices.push(Device {
            host_path: "/dev/fuse".into(),
            container_path: "/dev/fuse".into(),
            permissions: "rw".into(),
        });
        assert!(denied(&none, &s).contains("/dev/fuse"));
        let fuse = Settings { allow_devices: vec!["/dev/fuse".into()], ..Default::default() };
        assert_eq!(NoEscalation::validate_spec(&fuse, &s), Verdict::Allow);
        let mut s = spec();
        s.no_new_privileges = false;
        assert_eq!(NoEscalation::mutate_spec(&none, &s), [Adjustment::SetNoNewPrivileges(true)]);
        assert!(denied(&none, &s).contains("no_new_privileges"), "if another policy turned it off again");
    }

    #[test]
    fn require_userns_moves_a_container_out_of_the_hosts_ids() {
        let userns = Settings { require_userns: true, ..Default::default() };
        assert_eq!(NoEscalation::mutate_spec(&userns, &spec()), [Adjustment::SetUserns(Userns::Auto)]);
        assert!(denied(&userns, &spec()).contains("--userns=auto"));
        let mut s = spec();
        s.userns = Userns::Auto;
        assert_eq!(NoEscalation::mutate_spec(&userns, &s), []);
        assert_eq!(NoEscalation::validate_spec(&userns, &s), Verdict::Allow);
        assert_eq!(NoEscalation::mutate_spec(&Settings::default(), &spec()), []);
    }
}
