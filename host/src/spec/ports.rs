//! Published ports (`-p`, `-P`): which host address and port lead to which port of the container.
//! Pure.

use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PublishedPort {
    /// The host address it is reached on; empty for every address of the host.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host_ip: String,
    /// 0: a free port chosen when the container starts.
    pub host_port: u16,
    pub container_port: u16,
    /// tcp or udp.
    pub protocol: String,
}

impl PublishedPort {
    /// docker's key for it: `80/tcp`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.container_port, self.protocol)
    }
}

/// `-p [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp]`.
pub fn parse_publish(text: &str) -> Result<PublishedPort, String> {
    let bad = |why: &str| format!("bad -p '{text}': {why}");
    let (rest, protocol) = match text.rsplit_once('/') {
        Some((rest, p @ ("tcp" | "udp"))) => (rest, p),
        Some((_, p)) => return Err(bad(&format!("protocol '{p}' is not tcp or udp"))),
        None => (text, "tcp"),
    };
    let port = |p: &str, what: &str| -> Result<u16, String> {
        if p.contains('-') {
            return Err(bad("port ranges are not supported yet; give one -p per port"));
        }
        p.parse::<u16>().ok().filter(|n| *n > 0).ok_or_else(|| bad(&format!("'{p}' is not a {what} port (1-65535)")))
    };
    let parts: Vec<&str> = rest.split(':').collect();
    let (host_ip, host_port, container) = match parts[..] {
        [c] => ("", 0, c),
        [h, c] => ("", port(h, "host")?, c),
        [ip, "", c] => (ip, 0, c),
        [ip, h, c] => (ip, port(h, "host")?, c),
        _ => return Err(bad("expected [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp], such as 127.0.0.1:8080:80")),
    };
    let host_ip = match host_ip {
        "" | "0.0.0.0" => String::new(),
        ip => match ip.parse::<Ipv4Addr>() {
            Ok(ip) => ip.to_string(),
            Err(_) => return Err(bad(&format!("'{ip}' is not an IPv4 address"))),
        },
    };
    Ok(PublishedPort { host_ip, host_port, container_port: port(container, "container")?, protocol: protocol.into() })
}

/// `-P`: every port the image exposes (`80/tcp`, `53/udp`, `8080`), on a free host port.
pub fn exposed(ports: &[String]) -> Vec<PublishedPort> {
    ports
        .iter()
        .filter_map(|p| {
            let (port, protocol) = p.split_once('/').unwrap_or((p, "tcp"));
            let container_port = port.parse().ok().filter(|n| *n > 0)?;
            matches!(protocol, "tcp" | "udp").then(|| PublishedPort {
                host_ip: String::new(),
                host_port: 0,
                container_port,
                protocol: protocol.into(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(ip: &str, host: u16, container: u16, proto: &str) -> PublishedPort {
        PublishedPort { host_ip: ip.into(), host_port: host, container_port: container, protocol: proto.into() }
    }

    #[test]
    fn publish_flags_as_docker_takes_them() {
        assert_eq!(parse_publish("80"), Ok(p("", 0, 80, "tcp")));
        assert_eq!(parse_publish("8080:80"), Ok(p("", 8080, 80, "tcp")));
        assert_eq!(parse_publish("127.0.0.1:8080:80/udp"), Ok(p("127.0.0.1", 8080, 80, "udp")));
        assert_eq!(parse_publish("127.0.0.1::80"), Ok(p("127.0.0.1", 0, 80, "tcp")));
        assert_eq!(parse_publish("0.0.0.0:53:53/udp"), Ok(p("", 53, 53, "udp")));
        assert_eq!(p("", 0, 80, "tcp").key(), "80/tcp");
        for (bad, says) in [
            ("80/sctp", "not tcp or udp"),
            ("x:80", "'x' is not a host port"),
            ("70000", "not a container port"),
            ("0", "not a container port"),
            ("8000-8010:80", "ranges"),
            ("localhost:80:80", "not an IPv4 address"),
            ("1:2:3:4", "expected [IP:]"),
        ] {
            let e = parse_publish(bad).unwrap_err();
            assert!(e.contains(says) && e.contains(bad), "{bad}: {e}");
        }
    }

    #[test]
    fn publish_all_takes_the_images_exposed_ports() {
        let ports = exposed(&["80/tcp".into(), "53/udp".into(), "8080".into(), "x/tcp".into(), "1/sctp".into()]);
        assert_eq!(ports, vec![p("", 0, 80, "tcp"), p("", 0, 53, "udp"), p("", 0, 8080, "tcp")]);
    }
}
