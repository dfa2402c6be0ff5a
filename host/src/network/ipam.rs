//! Addresses of a network's containers: one lease file per address in `networks/NAME/leases/`,
//! named by the address and made with O_EXCL, saying which container holds it and by which names
//! its peers find it. The kernel's O_EXCL is what keeps an address from being handed out twice;
//! the network's lease lock (a flock of the directory) keeps the picking and the peers' hosts
//! files consistent. A lease whose container no longer runs (its sbx was killed) is taken back
//! when the network is full, and by `sbx rm` and `sbx network prune`.

use super::NetworkError;
use super::record::{self, Network};
use crate::image::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Lease {
    /// The container's full id.
    pub container: String,
    /// Its name, aliases and short id: what its peers' /etc/hosts give for its address.
    pub names: Vec<String>,
}

/// Held while a network's leases change and its containers' hosts files are written.
pub struct LeaseLock(#[allow(dead_code, reason = "held for its flock")] File);

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_path_buf(), source }
}

pub fn lock(store: &Store, network: &str) -> Result<LeaseLock, NetworkError> {
    let dir = record::leases_dir(store, network);
    let f = File::open(&dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => NetworkError::NotFound(network.to_string()),
        _ => io(&dir)(e).into(),
    })?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive).map_err(|e| io(&dir)(e.into()))?;
    Ok(LeaseLock(f))
}

/// Every lease of the network, by address.
pub fn leases(store: &Store, network: &str) -> Vec<(Ipv4Addr, Lease)> {
    let dir = record::leases_dir(store, network);
    let mut all: Vec<(Ipv4Addr, Lease)> = fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let ip: Ipv4Addr = e.file_name().to_str()?.parse().ok()?;
            let lease = serde_json::from_slice(&fs::read(e.path()).ok()?).ok()?;
            Some((ip, lease))
        })
        .collect();
    all.sort_by_key(|(ip, _)| *ip);
    all
}

/// The first address of the network no lease holds (not its network, broadcast or gateway
/// address). Pure.
pub fn first_free(network: &Network, held: &[Ipv4Addr]) -> Option<Ipv4Addr> {
    network.subnet.hosts().find(|ip| *ip != network.gateway && !held.contains(ip))
}

/// Leases an address of `network` to `lease.container`. `alive` says whether a container still
/// runs: the leases of those that do not are taken back when no address is free. The caller holds
/// the network's [`lock`].
pub fn allocate(
    store: &Store,
    network: &Network,
    lease: &Lease,
    alive: &dyn Fn(&str) -> bool,
) -> Result<Ipv4Addr, NetworkError> {
    let dir = record::leases_dir(store, &network.name);
    let json = serde_json::to_vec(lease).expect("a lease serializes");
    for reclaimed in [false, true] {
        if reclaimed {
            reclaim(store, &network.name, alive);
        }
        let mut held: Vec<Ipv4Addr> = leases(store, &network.name).into_iter().map(|(ip, _)| ip).collect();
        while let Some(ip) = first_free(network, &held) {
            let path = dir.join(ip.to_string());
            match File::options().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    f.write_all(&json).map_err(io(&path))?;
                    return Ok(ip);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => held.push(ip),
                Err(e) => return Err(io(&path)(e).into()),
            }
        }
    }
    Err(NetworkError::Full(network.name.clone()))
}

/// Gives back every address `container` holds on the network.
pub fn release(store: &Store, network: &str, container: &str) {
    let dir = record::leases_dir(store, network);
    for (ip, lease) in leases(store, network) {
        if lease.container == container {
            let _ = fs::remove_file(dir.join(ip.to_string()));
        }
    }
}

/// Takes back the leases of containers that no longer run; returns how many.
pub fn reclaim(store: &Store, network: &str, alive: &dyn Fn(&str) -> bool) -> usize {
    let dir = record::leases_dir(store, network);
    let stale: Vec<Ipv4Addr> =
        leases(store, network).into_iter().filter(|(_, l)| !alive(&l.container)).map(|(ip, _)| ip).collect();
    stale.iter().filter(|ip| fs::remove_file(dir.join(ip.to_string())).is_ok()).count()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::record::Request;

    #[test]
    fn addresses_are_leased_once_and_taken_back_from_the_dead() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let req = Request { subnet: Some("10.7.0.0/29".into()), ..Request::default() };
        let net = record::create(&store, "small", &req, &[]).unwrap();
        let lease = |c: &str| Lease { container: c.into(), names: vec![c.into()] };
        let live = |c: &str| c != "dead";
        let _l = lock(&store, "small").unwrap();
        let got: Vec<Ipv4Addr> =
            ["a", "b", "c", "d", "dead"].iter().map(|c| allocate(&store, &net, &lease(c), &live).unwrap()).collect();
        let want: Vec<Ipv4Addr> = (2..=6).map(|i| Ipv4Addr::new(10, 7, 0, i)).collect();
        assert_eq!(got, want, "the gateway .1 and the broadcast .7 are never leased");
        assert_eq!(allocate(&store, &net, &lease("e"), &live).unwrap(), Ipv4Addr::new(10, 7, 0, 6), "dead's address");
        assert!(matches!(allocate(&store, &net, &lease("f"), &live), Err(NetworkError::Full(_))));
        release(&store, "small", "b");
        assert_eq!(allocate(&store, &net, &lease("f"), &live).unwrap(), Ipv4Addr::new(10, 7, 0, 3));
        assert_eq!(leases(&store, "small").len(), 5);
    }
}
