//! A network's packet filtering, as one nftables table of its own (`ip sbx-ID`): masquerade for
//! what leaves its subnet (not for an `--internal` network, whose forwarding off the bridge is
//! dropped), and no forwarding from its bridge to another network's (docker's isolation). One table per network means its rules are made, replaced and removed at once by one
//! `nft -f` (atomic in the kernel), and nothing else's rules are touched. The text is made by pure
//! functions; `nft` (Debian's nftables, which iptables-nft also drives) applies it.

use super::record::Network;
use std::io::Write;
use std::process::{Command, Stdio};

/// The table's name.
pub fn table(network: &Network) -> String {
    format!("sbx-{}", &network.id[..11])
}

/// The table's rules, replacing any it had. Pure.
pub fn ruleset(network: &Network) -> String {
    let (t, br, net) = (table(network), network.bridge(), network.subnet);
    let forward = match network.internal {
        // A published port is reached from any network (its DNAT is the way in).
        false => {
            format!("    ct status dnat accept\n    iifname \"{br}\" oifname \"sbx-*\" oifname != \"{br}\" drop\n")
        }
        true => {
            format!("    iifname \"{br}\" oifname != \"{br}\" drop\n    oifname \"{br}\" iifname != \"{br}\" drop\n")
        }
    };
    let mut chains =
        format!("  chain forward {{\n    type filter hook forward priority filter; policy accept;\n{forward}  }}\n");
    if !network.internal {
        chains.push_str(&format!(
            "  chain postrouting {{\n    type nat hook postrouting priority srcnat; policy accept;\n    ip saddr {net} ip daddr != {net} masquerade\n  }}\n"
        ));
    }
    format!("table ip {t}\ndelete table ip {t}\ntable ip {t} {{\n{chains}}}\n")
}

/// Removes the table (nothing if it is not there). Pure.
pub fn removal(network: &Network) -> String {
    let t = table(network);
    format!("table ip {t}\ndelete table ip {t}\n")
}

/// Runs `nft -f -` on `script`.
pub fn apply(script: &str) -> Result<(), String> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run nft (Debian's nftables package): {e}"))?;
    let written = child.stdin.take().expect("piped").write_all(script.as_bytes());
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    match (out.status.success(), written) {
        (true, Ok(())) => Ok(()),
        (_, Err(e)) => Err(format!("nft: {e}")),
        (false, _) => Err(format!("nft: {}", String::from_utf8_lossy(&out.stderr).trim())),
    }
}

/// Lets the kernel forward between interfaces (the namespace's `ip_forward`), as docker does.
pub fn enable_forwarding() -> std::io::Result<()> {
    std::fs::write("/proc/sys/net/ipv4/ip_forward", "1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(internal: bool) -> Network {
        Network {
            name: "db".into(),
            id: "0123456789abcdef".repeat(4),
            subnet: "10.99.3.0/24".parse().unwrap(),
            gateway: "10.99.3.1".parse().unwrap(),
            internal,
            created: String::new(),
            labels: Default::default(),
        }
    }

    #[test]
    fn a_network_masquerades_what_leaves_it_and_an_internal_one_forwards_nothing_out() {
        let open = ruleset(&net(false));
        assert!(open.starts_with("table ip sbx-0123456789a\ndelete table ip sbx-0123456789a\n"), "{open}");
        assert!(open.contains("ip saddr 10.99.3.0/24 ip daddr != 10.99.3.0/24 masquerade"), "{open}");
        assert!(open.contains("iifname \"sbx-0123456789a\" oifname \"sbx-*\" oifname != \"sbx-0123456789a\" drop"));
        let closed = ruleset(&net(true));
        assert!(!closed.contains("masquerade"), "{closed}");
        assert!(closed.contains("iifname \"sbx-0123456789a\" oifname != \"sbx-0123456789a\" drop"), "{closed}");
        assert_eq!(removal(&net(true)), "table ip sbx-0123456789a\ndelete table ip sbx-0123456789a\n");
    }
}
