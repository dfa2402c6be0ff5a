//! A container's own /etc/hosts, /etc/hostname and /etc/resolv.conf, as docker gives them: written
//! to the container's directory when it is created and bind-mounted over the image's files when it
//! starts, so they never enter a layer (not the image's, not the writable one that `commit`
//! keeps). What they hold is decided by the pure functions here.

use crate::spec::{ContainerSpec, Network};
use std::net::Ipv4Addr;
use std::path::Path;

/// Each file's name in the container's directory and where it is mounted.
pub const FILES: [(&str, &str); 3] =
    [("hosts", "/etc/hosts"), ("hostname", "/etc/hostname"), ("resolv.conf", "/etc/resolv.conf")];

/// Whether `rel` (a path in a writable layer, without the leading `/`) is the mount point of one
/// of the files: sbx made it, empty, for the mount, and it is not the container's own write.
pub fn is_mount_point(rel: &str) -> bool {
    FILES.iter().any(|(_, at)| at[1..] == *rel)
}

const LOCAL: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n";

/// /etc/hosts: the host's with `--network host`, else localhost's names (docker's lines); then the
/// `--add-host` entries.
pub fn hosts(spec: &ContainerSpec, host_hosts: Option<&str>) -> String {
    let mut out = match (spec.network, host_hosts) {
        (Network::Host, Some(h)) => h.to_string(),
        _ => LOCAL.to_string(),
    };
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    for entry in &spec.extra_hosts {
        if let Some((name, ip)) = entry.split_once(':') {
            out.push_str(&format!("{ip}\t{name}\n"));
        }
    }
    out
}

/// /etc/hosts of a container on bridge networks: [`hosts`], then its own addresses by its hostname,
/// then its peers' addresses by their names (docker's lines). Pure.
pub fn hosts_on_networks(
    spec: &ContainerSpec,
    host_hosts: Option<&str>,
    own: &[Ipv4Addr],
    peers: &[(Ipv4Addr, Vec<String>)],
) -> String {
    let mut out = hosts(spec, host_hosts);
    for ip in own {
        out.push_str(&format!("{ip}\t{}\n", spec.hostname));
    }
    for (ip, names) in peers {
        out.push_str(&format!("{ip}\t{}\n", names.join(" ")));
    }
    out
}

/// /etc/resolv.conf: the host's, where `--dns`, `--dns-search` and `--dns-option` replace its
/// servers, search domains and options. Outside the host's network namespace a server on the
/// host's loopback (systemd-resolved's 127.0.0.53) cannot be reached and is left out, as docker does;
/// slirp4netns's forwarder comes first, as podman gives it.
pub fn resolv_conf(spec: &ContainerSpec, host: &str) -> String {
    let own_ns = spec.network != Network::Host;
    let mut servers = Vec::new();
    let mut search = Vec::new();
    let mut options = Vec::new();
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => servers.extend(words.next().map(str::to_string)),
            Some("search" | "domain") => search = words.map(str::to_string).collect(),
            Some("options") => options.extend(words.map(str::to_string)),
            _ => {}
        }
    }
    if own_ns {
        servers.retain(|s| !(s.starts_with("127.") || s == "::1"));
    }
    if spec.network == Network::Slirp4netns {
        // Its forwarder, which asks the host's resolvers (loopback ones too) for it.
        servers.insert(0, crate::network::slirp::DNS.to_string());
    }
    let pick = |flags: &[String], host: Vec<String>| if flags.is_empty() { host } else { flags.to_vec() };
    let (servers, search, options) =
        (pick(&spec.dns, servers), pick(&spec.dns_search, search), pick(&spec.dns_options, options));
    let mut out = String::new();
    for s in servers {
        out.push_str(&format!("nameserver {s}\n"));
    }
    // `--dns-search .` means no search domains, as docker's.
    let search: Vec<String> = search.into_iter().filter(|s| s != ".").collect();
    if !search.is_empty() {
        out.push_str(&format!("search {}\n", search.join(" ")));
    }
    if !options.is_empty() {
        out.push_str(&format!("options {}\n", options.join(" ")));
    }
    out
}

/// Writes the three files into the container's directory `dir`, from the host's files read now.
pub fn write(dir: &Path, spec: &ContainerSpec) -> std::io::Result<()> {
    let host_hosts = std::fs::read_to_string("/etc/hosts").ok();
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let contents =
        [hosts(spec, host_hosts.as_deref()), format!("{}\n", spec.hostname), resolv_conf(spec, &host_resolv)];
    for ((name, _), text) in FILES.iter().zip(contents) {
        std::fs::write(dir.join(name), text)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(network: Network) -> ContainerSpec {
        let o = crate::spec::Overrides { cmd: vec!["true".into()], network, ..Default::default() };
        crate::spec::build("busybox", None, &o, "c0ffee", |_| None).unwrap()
    }

    #[test]
    fn hosts_name_localhost_and_the_added_hosts() {
        let mut s = spec(Network::None);
        s.extra_hosts = vec!["db:10.0.0.5".into(), "v6:fd00::1".into()];
        let h = hosts(&s, Some("1.2.3.4 hosty\n"));
        assert!(h.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost"), "{h}");
        assert!(h.ends_with("10.0.0.5\tdb\nfd00::1\tv6\n"), "{h}");
        assert!(!h.contains("hosty"), "the host's entries are the host network's: {h}");
        s.network = Network::Host;
        assert!(hosts(&s, Some("1.2.3.4 hosty")).starts_with("1.2.3.4 hosty\n"));
    }

    #[test]
    fn resolv_conf_is_the_hosts_without_its_loopback_servers_and_flags_replace_parts() {
        let host =
            "# made by someone\nnameserver 127.0.0.53\nnameserver 192.0.2.1\nsearch example.org\noptions edns0\n";
        let mut s = spec(Network::None);
        assert_eq!(resolv_conf(&s, host), "nameserver 192.0.2.1\nsearch example.org\noptions edns0\n");
        s.network = Network::Slirp4netns;
        assert!(resolv_conf(&s, host).starts_with("nameserver 10.0.2.3\nnameserver 192.0.2.1\n"));
        s.network = Network::Host;
        assert!(resolv_conf(&s, host).starts_with("nameserver 127.0.0.53\nnameserver 192.0.2.1\n"));
        s.dns = vec!["198.51.100.7".into()];
        s.dns_search = vec![".".into()];
        s.dns_options = vec!["ndots:2".into()];
        assert_eq!(resolv_conf(&s, host), "nameserver 198.51.100.7\noptions ndots:2\n");
    }

    #[test]
    fn the_mount_points_are_known() {
        assert!(is_mount_point("etc/hosts") && is_mount_point("etc/resolv.conf") && !is_mount_point("etc/passwd"));
    }
}
