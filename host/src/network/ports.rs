//! Published ports: a reservation per host port in the store (`networks/.ports/PROTO-PORT`, made
//! with O_EXCL and naming its container, so two containers never publish one port, taken back
//! from containers that no longer run), a check that nothing on the host listens there, and one
//! nftables table per container (`ip sbx-c-ID`) that leads the host's port to the container's:
//! DNAT for what arrives (prerouting) and for what the host itself sends (output, 127.0.0.1
//! included: the bridge gets `route_localnet`), masquerade for what then comes from loopback or
//! from the container's own network (hairpin).

use super::NetworkError;
use super::firewall;
use super::record::{self, Network};
use crate::image::{Store, StoreError};
use crate::spec::PublishedPort;
use ipnet::Ipv4Net;
use std::fs::{self, File};
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};

fn dir(store: &Store) -> PathBuf {
    record::dir(store).join(".ports")
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_path_buf(), source }
}

/// Held while ports are reserved.
pub struct PortsLock(#[allow(dead_code, reason = "held for its flock")] File);

fn lock(store: &Store) -> Result<PortsLock, NetworkError> {
    let d = dir(store);
    fs::create_dir_all(&d).map_err(io(&d))?;
    let f = File::open(&d).map_err(io(&d))?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive).map_err(|e| io(&d)(e.into()))?;
    Ok(PortsLock(f))
}

/// Whether the host lets `port` (0: any) be bound on `ip` now; the port it got.
fn bindable(ip: Ipv4Addr, port: u16, protocol: &str) -> Option<u16> {
    let at = SocketAddrV4::new(ip, port);
    match protocol {
        "udp" => UdpSocket::bind(at).ok()?.local_addr().ok().map(|a| a.port()),
        _ => TcpListener::bind(at).ok()?.local_addr().ok().map(|a| a.port()),
    }
}

/// Reserves the host ports of `ports` for `container` (a free one where a port is 0) and returns
/// them with their ports chosen. `alive` says whether a container still runs.
pub fn reserve(
    store: &Store,
    ports: &[PublishedPort],
    container: &str,
    alive: &dyn Fn(&str) -> bool,
) -> Result<Vec<PublishedPort>, NetworkError> {
    let _lock = lock(store)?;
    let d = dir(store);
    let mut chosen = Vec::new();
    let fail = |chosen: &[PublishedPort], e: NetworkError| {
        release_these(store, chosen);
        Err(e)
    };
    for p in ports {
        let ip: Ipv4Addr = p.host_ip.parse().unwrap_or(Ipv4Addr::UNSPECIFIED);
        let in_use = || NetworkError::PortInUse { port: format!("{}/{}", p.host_port, p.protocol), ip: ip.to_string() };
        let path = |port: u16| d.join(format!("{}-{port}", p.protocol));
        let port = match p.host_port {
            0 => loop {
                // The kernel's free port, unless another container has it reserved meanwhile.
                let Some(port) = bindable(ip, 0, &p.protocol) else { return fail(&chosen, in_use()) };
                if !path(port).exists() {
                    break port;
                }
            },
            port => {
                if fs::read_to_string(path(port)).is_ok_and(|holder| alive(holder.trim())) {
                    return fail(&chosen, in_use());
                }
                let _ = fs::remove_file(path(port));
                if bindable(ip, port, &p.protocol).is_none() {
                    return fail(&chosen, in_use());
                }
                port
            }
        };
        let file = path(port);
        match File::options().write(true).create_new(true).open(&file) {
            Ok(mut f) => f.write_all(container.as_bytes()).map_err(io(&file))?,
            Err(e) => return fail(&chosen, io(&file)(e).into()),
        }
        chosen.push(PublishedPort { host_port: port, ..p.clone() });
    }
    Ok(chosen)
}

fn release_these(store: &Store, ports: &[PublishedPort]) {
    for p in ports {
        let _ = fs::remove_file(dir(store).join(format!("{}-{}", p.protocol, p.host_port)));
    }
}

/// Gives back every port `container` has reserved; whether it had any.
pub fn release(store: &Store, container: &str) -> bool {
    let mut had = false;
    for e in fs::read_dir(dir(store)).into_iter().flatten().flatten() {
        if fs::read_to_string(e.path()).is_ok_and(|h| h.trim() == container) {
            had |= fs::remove_file(e.path()).is_ok();
        }
    }
    had
}

/// The table of container `id`'s published ports.
pub fn table(id: &str) -> String {
    format!("sbx-c-{}", &id[..11])
}

/// The rules that lead each published port to `address` (the container's, on `subnet`). Pure.
pub fn ruleset(id: &str, address: Ipv4Addr, subnet: Ipv4Net, ports: &[PublishedPort]) -> String {
    let t = table(id);
    let mut dnat = String::new();
    for p in ports {
        let to = match p.host_ip.as_str() {
            "" => "fib daddr type local".to_string(),
            ip => format!("ip daddr {ip}"),
        };
        dnat.push_str(&format!(
            "    {to} {proto} dport {hp} dnat to {address}:{cp}\n",
            proto = p.protocol,
            hp = p.host_port,
            cp = p.container_port
        ));
    }
    let nat = |name: &str, hook: &str| {
        // -100: nftables' dstnat, which nft 1.0.6 names for prerouting only.
        format!("  chain {name} {{\n    type nat hook {hook} priority -100; policy accept;\n{dnat}  }}\n")
    };
    format!(
        "table ip {t}\ndelete table ip {t}\ntable ip {t} {{\n{}{}  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;\n    ip saddr 127.0.0.0/8 ip daddr {address} ct status dnat masquerade\n    ip saddr {subnet} ip daddr {address} ct status dnat masquerade\n  }}\n}}\n",
        nat("prerouting", "prerouting"),
        nat("output", "output")
    )
}

/// Publishes `ports` of the container `id` at `address` on `network`.
pub fn publish(network: &Network, id: &str, address: Ipv4Addr, ports: &[PublishedPort]) -> Result<(), NetworkError> {
    let kernel = |what: &str, why: String| NetworkError::Kernel { name: network.name.clone(), what: what.into(), why };
    // What the host sends to 127.0.0.1 may then leave by the bridge.
    let localnet = format!("/proc/sys/net/ipv4/conf/{}/route_localnet", network.bridge());
    fs::write(&localnet, "1").map_err(|e| kernel("allowing 127.0.0.1 to reach its containers", e.to_string()))?;
    firewall::apply(&ruleset(id, address, network.subnet, ports)).map_err(|e| kernel("publishing ports", e))
}

/// Removes the container's port rules (nothing if there are none).
pub fn unpublish(id: &str) {
    let t = table(id);
    let _ = firewall::apply(&format!("table ip {t}\ndelete table ip {t}\n"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_published_port_is_a_dnat_rule_for_arrivals_and_for_the_hosts_own() {
        let ports = [
            PublishedPort { host_ip: "127.0.0.1".into(), host_port: 8080, container_port: 80, protocol: "tcp".into() },
            PublishedPort { host_ip: String::new(), host_port: 5353, container_port: 53, protocol: "udp".into() },
        ];
        let id = "0123456789abcdef";
        let r = ruleset(id, "10.99.0.2".parse().unwrap(), "10.99.0.0/24".parse().unwrap(), &ports);
        assert!(r.starts_with("table ip sbx-c-0123456789a\ndelete table ip sbx-c-0123456789a\n"), "{r}");
        assert_eq!(r.matches("ip daddr 127.0.0.1 tcp dport 8080 dnat to 10.99.0.2:80").count(), 2, "{r}");
        assert_eq!(r.matches("fib daddr type local udp dport 5353 dnat to 10.99.0.2:53").count(), 2, "{r}");
        assert!(r.contains("type nat hook output priority -100"), "{r}");
        assert!(r.contains("ip saddr 10.99.0.0/24 ip daddr 10.99.0.2 ct status dnat masquerade"), "{r}");
    }

    #[test]
    fn a_port_is_reserved_once_and_taken_back() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let any =
            PublishedPort { host_ip: "127.0.0.1".into(), host_port: 0, container_port: 80, protocol: "tcp".into() };
        let got = reserve(&store, std::slice::from_ref(&any), "a", &|_| true).unwrap();
        assert_ne!(got[0].host_port, 0);
        let same = PublishedPort { host_port: got[0].host_port, ..any.clone() };
        let e = reserve(&store, std::slice::from_ref(&same), "b", &|_| true).unwrap_err();
        assert!(matches!(e, NetworkError::PortInUse { .. }), "{e}");
        assert!(reserve(&store, std::slice::from_ref(&same), "b", &|c| c != "a").is_ok(), "a's is taken back");
        assert!(release(&store, "b") && !release(&store, "b"));
    }
}
