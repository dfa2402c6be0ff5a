//! network-rules: which networks a container may be on and how its ports may be published.
//! Refuses a network not listed (`none` is always allowed; `host`, `slirp4netns` and the default
//! `bridge` only when listed), a port published on every host address (0.0.0.0) unless allowed, and a fixed
//! host port outside the allowed range (a port left for the kernel to choose, `-p 80`, comes from
//! its ephemeral range and is allowed). With `publish_on` set, ports asked for on every address
//! are moved to that address instead of refused.
//! Settings (all optional): `{"networks": ["bridge", "app"], "allow_all_addresses": false,
//! "ports": [1024, 65535], "publish_on": "127.0.0.1"}`; without `networks`, every network is
//! allowed.

use sbx_plugin::{Adjustment, Interests, NO_CHECK, Network, Plugin, Policy, Spec, Verdict, deny};
use serde::Deserialize;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The networks a container may be on, by name (`host` for the host's, `slirp4netns`); None:
    /// any.
    #[serde(default)]
    pub networks: Option<Vec<String>>,
    /// Allow publishing on every host address (`-p 8080:80`, `0.0.0.0:8080:80`).
    #[serde(default)]
    pub allow_all_addresses: bool,
    /// The host ports a port may be published on, inclusive: `[low, high]`.
    #[serde(default)]
    pub ports: Option<[u16; 2]>,
    /// Publish on this address what asks for every address, instead of refusing it.
    #[serde(default)]
    pub publish_on: Option<String>,
}

pub struct NetworkRules;

impl Plugin for NetworkRules {
    type Settings = Settings;

    fn validate(s: &Settings) -> Result<(), String> {
        if let Some([low, high]) = s.ports.filter(|[low, high]| low > high || *low == 0) {
            return Err(format!("ports [{low}, {high}] is not a range of ports: give [low, high], 1 <= low <= high"));
        }
        match &s.publish_on {
            Some(ip) if ip.parse::<std::net::Ipv4Addr>().is_err() || ip == "0.0.0.0" => {
                Err(format!("publish_on '{ip}' is not one IPv4 address of the host"))
            }
            _ => Ok(()),
        }
    }
}

/// The networks the spec puts the container on, by name.
fn networks(spec: &Spec) -> Vec<String> {
    match spec.network {
        Network::None => Vec::new(),
        Network::Host => vec!["host".into()],
        Network::Slirp4netns => vec!["slirp4netns".into()],
        Network::Bridge => spec.networks.iter().map(|n| n.name.clone()).collect(),
    }
}

fn key(container_port: u16, protocol: &str) -> String {
    format!("{container_port}/{protocol}")
}

impl Policy for NetworkRules {
    fn wants(_settings: &Settings) -> Interests {
        Interests { mutate_spec: true, validate_spec: true, ..NO_CHECK }
    }

    fn mutate_spec(s: &Settings, spec: &Spec) -> Vec<Adjustment> {
        let Some(ip) = &s.publish_on else { return Vec::new() };
        let mut keys: Vec<String> = spec
            .ports
            .iter()
            .filter(|p| p.host_ip.is_empty() && !s.allow_all_addresses)
            .map(|p| key(p.container_port, &p.protocol))
            .collect();
        keys.dedup();
        keys.into_iter().map(|k| Adjustment::SetPortHostIp((k, ip.clone()))).collect()
    }

    fn validate_spec(s: &Settings, spec: &Spec) -> Verdict {
        if let Some(allowed) = &s.networks
            && let Some(n) = networks(spec).into_iter().find(|n| !allowed.contains(n))
        {
            return deny(format!("network {n} is not allowed (allowed: {})", allowed.join(", ")));
        }
        for p in &spec.ports {
            let published = key(p.container_port, &p.protocol);
            if p.host_ip.is_empty() && !s.allow_all_addresses {
                return deny(format!(
                    "port {published} is published on every host address: give one (-p 127.0.0.1:{}:{})",
                    p.host_port, p.container_port
                ));
            }
            if let Some([low, high]) = s.ports.filter(|_| p.host_port != 0)
                && !(low..=high).contains(&p.host_port)
            {
                return deny(format!("host port {} (for {published}) is outside {low}-{high}", p.host_port));
            }
        }
        Verdict::Allow
    }
}

sbx_plugin::export_policy!(NetworkRules);

#[cfg(test)]
mod tests {
    use super::*;
    use sbx_plugin::testing::spec;
    use sbx_plugin::{NetworkAttachment, PublishedPort};

    fn denied(s: &Settings, spec: &Spec) -> String {
        match NetworkRules::validate_spec(s, spec) {
            Verdict::Deny(r) => r,
            Verdict::Allow => panic!("allowed"),
        }
    }

    fn on(names: &[&str]) -> Spec {
        let mut s = spec();
        s.network = Network::Bridge;
        s.networks = names.iter().map(|n| NetworkAttachment { name: n.to_string(), aliases: vec![] }).collect();
        s
    }

    fn port(ip: &str, host: u16, container: u16) -> PublishedPort {
        PublishedPort { host_ip: ip.into(), host_port: host, container_port: container, protocol: "tcp".into() }
    }

    #[test]
    fn only_listed_networks_are_allowed() {
        let s = Settings { networks: Some(vec!["app".into()]), ..Default::default() };
        assert_eq!(NetworkRules::validate_spec(&s, &on(&["app"])), Verdict::Allow);
        assert_eq!(NetworkRules::validate_spec(&s, &spec()), Verdict::Allow, "none is always allowed");
        assert!(denied(&s, &on(&["bridge"])).contains("network bridge is not allowed (allowed: app)"));
        let mut host = spec();
        host.network = Network::Host;
        assert!(denied(&s, &host).contains("network host is not allowed"));
        assert_eq!(NetworkRules::validate_spec(&Settings::default(), &host), Verdict::Allow);
        let mut slirp = spec();
        slirp.network = Network::Slirp4netns;
        assert!(denied(&s, &slirp).contains("network slirp4netns is not allowed"));
    }

    #[test]
    fn ports_on_every_address_or_outside_the_range_are_refused_or_moved() {
        let s = Settings { ports: Some([8000, 8999]), ..Default::default() };
        let mut spec = on(&["bridge"]);
        spec.ports = vec![port("127.0.0.1", 8080, 80), port("127.0.0.1", 0, 443)];
        assert_eq!(NetworkRules::validate_spec(&s, &spec), Verdict::Allow, "a free port is the kernel's");
        spec.ports.push(port("127.0.0.1", 80, 80));
        assert!(denied(&s, &spec).contains("host port 80 (for 80/tcp) is outside 8000-8999"));
        spec.ports = vec![port("", 8080, 80)];
        assert!(denied(&s, &spec).contains("port 80/tcp is published on every host address"));
        let open = Settings { allow_all_addresses: true, ..Default::default() };
        assert_eq!(NetworkRules::validate_spec(&open, &spec), Verdict::Allow);
        let moved = Settings { publish_on: Some("127.0.0.1".into()), ..Default::default() };
        assert_eq!(
            NetworkRules::mutate_spec(&moved, &spec),
            [Adjustment::SetPortHostIp(("80/tcp".into(), "127.0.0.1".into()))]
        );
        assert!(NetworkRules::mutate_spec(&open, &spec).is_empty());
    }

    #[test]
    fn settings_are_checked() {
        let bad = |json: &str| NetworkRules::validate(&serde_json::from_str(json).unwrap()).unwrap_err();
        assert!(bad(r#"{"ports": [9000, 80]}"#).contains("not a range"));
        assert!(bad(r#"{"publish_on": "0.0.0.0"}"#).contains("not one IPv4 address"));
        assert!(NetworkRules::validate(&Settings::default()).is_ok());
    }
}
