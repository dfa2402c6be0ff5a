//! Which IPv4 subnet and gateway a new network gets: the one asked for, checked, or the first /24
//! of sbx's pool (10.99.0.0/16) that no other network of the store and no route of the host
//! overlaps. Pure, but for reading the host's routes.

use super::NetworkError;
use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// Where networks made without `--subnet` come from: 256 /24s, out of the ranges docker (172.17+)
/// and podman (10.88, 10.89) take first.
const POOL: &str = "10.99.0.0/16";

fn overlaps(a: &Ipv4Net, b: &Ipv4Net) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The subnet and gateway for a new network. `taken` are the store's networks (name, subnet);
/// `routes` the host's routes but its default one.
pub fn choose(
    subnet: Option<&str>,
    gateway: Option<&str>,
    taken: &[(String, Ipv4Net)],
    routes: &[Ipv4Net],
) -> Result<(Ipv4Net, Ipv4Addr), NetworkError> {
    let clash = |net: &Ipv4Net| -> Option<String> {
        taken
            .iter()
            .find(|(_, t)| overlaps(t, net))
            .map(|(name, t)| format!("network {name} ({t})"))
            .or_else(|| routes.iter().find(|r| overlaps(r, net)).map(|r| format!("the host's route to {r}")))
    };
    let net = match subnet {
        Some(text) => {
            let net = parse(text)?;
            if let Some(what) = clash(&net) {
                return Err(NetworkError::Overlap { subnet: net.to_string(), what });
            }
            net
        }
        None => {
            let pool: Ipv4Net = POOL.parse().expect("the pool is a subnet");
            let mut free = pool.subnets(24).expect("a /16 has /24s").filter(|n| clash(n).is_none());
            free.next().ok_or(NetworkError::PoolFull(POOL))?
        }
    };
    let gateway = match gateway {
        None => net.hosts().next().expect("a /30 or larger has hosts"),
        Some(text) => {
            let ip: Ipv4Addr = text.parse().map_err(|_| NetworkError::BadGateway(text.to_string(), net.to_string()))?;
            if !net.contains(&ip) || ip == net.network() || ip == net.broadcast() {
                return Err(NetworkError::BadGateway(text.to_string(), net.to_string()));
            }
            ip
        }
    };
    Ok((net, gateway))
}

/// `--subnet`: an IPv4 CIDR of at least 4 addresses, written as its network (10.5.0.0/24, not
/// 10.5.0.7/24, as docker asks).
fn parse(text: &str) -> Result<Ipv4Net, NetworkError> {
    let bad = |why: &str| NetworkError::BadSubnet(text.to_string(), why.to_string());
    if text.contains(':') {
        return Err(bad("IPv6 subnets are not supported yet; give an IPv4 one such as 10.5.0.0/24"));
    }
    let net: Ipv4Net = text.parse().map_err(|_| bad("expected an IPv4 CIDR such as 10.5.0.0/24"))?;
    if net.prefix_len() > 30 {
        return Err(bad("it is too small: a network needs at least a /30"));
    }
    if net.addr() != net.network() {
        return Err(bad(&format!("it is not a network address; did you mean {}?", net.trunc())));
    }
    Ok(net)
}

/// The host's IPv4 routes but the default one, from `/proc/net/route`'s text (destination and
/// mask in the kernel's byte order, as hex).
pub fn parse_routes(text: &str) -> Vec<Ipv4Net> {
    let word = |w: &str| u32::from_str_radix(w, 16).ok().map(|v| Ipv4Addr::from(u32::from_be(v)));
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (dest, mask) = (word(f.get(1)?)?, word(f.get(7)?)?);
            let prefix = u32::from(mask).leading_ones() as u8;
            (prefix > 0).then(|| Ipv4Net::new(dest, prefix).ok()).flatten()
        })
        .collect()
}

/// The routes of the network namespace sbx runs in.
pub fn host_routes() -> Vec<Ipv4Net> {
    std::fs::read_to_string("/proc/net/route").map(|t| parse_routes(&t)).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn the_first_free_24_of_the_pool_is_chosen() {
        let taken = vec![("a".to_string(), net("10.99.0.0/24"))];
        let (n, gw) = choose(None, None, &taken, &[net("10.99.1.0/24"), net("10.99.2.128/25")]).unwrap();
        assert_eq!((n, gw), (net("10.99.3.0/24"), "10.99.3.1".parse().unwrap()));
        let full = choose(None, None, &[], &[net("10.0.0.0/8")]);
        assert!(full.is_err(), "a route over the whole pool leaves nothing");
    }

    #[test]
    fn an_asked_subnet_is_checked() {
        let taken = vec![("db".to_string(), net("10.5.0.0/16"))];
        let e = choose(Some("10.5.3.0/24"), None, &taken, &[]).unwrap_err().to_string();
        assert!(e.contains("overlaps network db (10.5.0.0/16)"), "{e}");
        let e = choose(Some("192.168.1.0/24"), None, &[], &[net("192.168.0.0/16")]).unwrap_err().to_string();
        assert!(e.contains("the host's route to 192.168.0.0/16"), "{e}");
        for (bad, says) in [
            ("10.1.0.0", "IPv4 CIDR"),
            ("10.1.0.0/33", "IPv4 CIDR"),
            ("10.1.0.5/24", "did you mean 10.1.0.0/24"),
            ("10.1.0.0/31", "too small"),
            ("fd00::/64", "IPv6"),
        ] {
            let e = choose(Some(bad), None, &[], &[]).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let (_, gw) = choose(Some("10.1.0.0/24"), Some("10.1.0.254"), &[], &[]).unwrap();
        assert_eq!(gw, "10.1.0.254".parse::<Ipv4Addr>().unwrap());
        for bad in ["10.2.0.1", "10.1.0.0", "10.1.0.255", "x"] {
            assert!(choose(Some("10.1.0.0/24"), Some(bad), &[], &[]).is_err(), "{bad}");
        }
    }

    #[test]
    fn routes_are_read_from_the_kernels_table() {
        let text = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                    eth0\t00000000\t0101A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
                    eth0\t0001A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";
        assert_eq!(parse_routes(text), vec![net("192.168.1.0/24")]);
    }
}
