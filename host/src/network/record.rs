//! Networks as the store keeps them: `networks/NAME/network.json` (what `network create` decided:
//! subnet, gateway, bridge, internal) and `networks/NAME/leases/` (see [`super::ipam`]). A network
//! is made whole in a staging directory and renamed into place, under the store's network lock, so
//! two creates never pick one subnet and a kill leaves a whole network or none.

use super::NetworkError;
use super::subnet;
use crate::image::{Store, StoreError};
use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::net::Ipv4Addr;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

/// The network every container joins unless it names another, as docker's `bridge`.
pub const DEFAULT: &str = "bridge";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Network {
    pub name: String,
    /// 64 hex digits; the bridge and firewall table are named after its first ones.
    pub id: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    /// No way out: no default route in its containers, no forwarding off its bridge.
    #[serde(default)]
    pub internal: bool,
    pub created: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
}

impl Network {
    /// The Linux bridge's name (at most 15 bytes, the kernel's IFNAMSIZ - 1).
    pub fn bridge(&self) -> String {
        format!("sbx-{}", &self.id[..11])
    }

    /// Whether its containers find each other by name: user-defined networks only, as docker's
    /// default bridge does not.
    pub fn resolves_names(&self) -> bool {
        self.name != DEFAULT
    }
}

/// What `network create` asks for.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
}

/// docker's rule for a network's name: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`. Pure.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

pub fn dir(store: &Store) -> PathBuf {
    store.root().join("networks")
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_path_buf(), source }
}

/// Held while networks are made or removed: the subnets of the store's networks do not change.
pub struct NetworksLock(#[allow(dead_code, reason = "held for its flock")] File);

pub fn lock(store: &Store) -> Result<NetworksLock, NetworkError> {
    let d = dir(store);
    fs::DirBuilder::new().mode(0o700).recursive(true).create(&d).map_err(io(&d))?;
    let f = File::open(&d).map_err(io(&d))?;
    rustix::fs::flock(&f, rustix::fs::FlockOperation::LockExclusive).map_err(|e| io(&d)(e.into()))?;
    Ok(NetworksLock(f))
}

/// The network `name`.
pub fn get(store: &Store, name: &str) -> Result<Network, NetworkError> {
    if !valid_name(name) {
        return Err(NetworkError::NotFound(name.to_string()));
    }
    let path = dir(store).join(name).join("network.json");
    let text = match fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(NetworkError::NotFound(name.to_string())),
        other => other.map_err(io(&path))?,
    };
    serde_json::from_slice(&text).map_err(|e| StoreError::Damaged { path, message: e.to_string() }.into())
}

/// The network `query` names: its name, or its id or a prefix of it.
pub fn find(store: &Store, query: &str) -> Result<Network, NetworkError> {
    match get(store, query) {
        Err(NetworkError::NotFound(_)) if query.len() >= 3 && query.bytes().all(|b| b.is_ascii_hexdigit()) => {
            let mut found = list(store).into_iter().filter(|n| n.id.starts_with(query));
            match (found.next(), found.next()) {
                (Some(n), None) => Ok(n),
                _ => Err(NetworkError::NotFound(query.to_string())),
            }
        }
        other => other,
    }
}

/// Every network of the store, by name.
pub fn list(store: &Store) -> Vec<Network> {
    let mut names: Vec<String> =
        fs::read_dir(dir(store)).into_iter().flatten().filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    names.sort();
    names.iter().filter_map(|n| get(store, n).ok()).collect()
}

/// Makes network `name` as `request` asks, its subnet clear of the store's other networks and of
/// the host's routes (`routes`, from [`subnet::host_routes`]).
pub fn create(store: &Store, name: &str, request: &Request, routes: &[Ipv4Net]) -> Result<Network, NetworkError> {
    if !valid_name(name) || matches!(name, "none" | "host" | "slirp4netns") {
        return Err(NetworkError::BadName(name.to_string()));
    }
    let _lock = lock(store)?;
    if get(store, name).is_ok() {
        return Err(NetworkError::Exists(name.to_string()));
    }
    let taken: Vec<(String, Ipv4Net)> = list(store).into_iter().map(|n| (n.name, n.subnet)).collect();
    let (net, gateway) = subnet::choose(request.subnet.as_deref(), request.gateway.as_deref(), &taken, routes)?;
    let network = Network {
        name: name.to_string(),
        id: crate::random::hex(32),
        subnet: net,
        gateway,
        internal: request.internal,
        created: crate::time::now_rfc3339(),
        labels: request.labels.clone(),
    };
    let mut staging = store.stage()?;
    let leases = staging.path().join("leases");
    fs::DirBuilder::new().mode(0o700).create(&leases).map_err(io(&leases))?;
    let json = serde_json::to_vec_pretty(&network).expect("a network serializes");
    crate::image::store::write_atomic(&staging.path().join("network.json"), &json)?;
    let dest = dir(store).join(name);
    staging.place(&dest).map_err(io(&dest))?;
    journal(store, "create", &network);
    Ok(network)
}

/// Removes the network's record and leases (its bridge and rules are the caller's).
pub fn remove(store: &Store, network: &Network) -> Result<(), NetworkError> {
    let staging = store.stage()?;
    let path = dir(store).join(&network.name);
    fs::rename(&path, staging.path().join("network")).map_err(io(&path))?;
    drop(staging);
    journal(store, "destroy", network);
    Ok(())
}

/// The leases directory of network `name`.
pub fn leases_dir(store: &Store, name: &str) -> PathBuf {
    dir(store).join(name).join("leases")
}

fn journal(store: &Store, action: &str, network: &Network) {
    let event =
        crate::journal::Event::new("network", action, &network.id, &[("name", &network.name), ("type", "bridge")]);
    crate::journal::record(store.root(), &event);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_rule() {
        for ok in ["db", "a", "my-net_1.2"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "-x", ".x", "a/b", "a b", "ü1"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn create_picks_distinct_subnets_and_refuses_a_taken_name() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let route: Ipv4Net = "10.99.0.0/24".parse().unwrap();
        let a = create(&store, "a", &Request::default(), &[route]).unwrap();
        let b = create(&store, "b", &Request::default(), &[route]).unwrap();
        assert_ne!(a.subnet, route, "a subnet the host routes is not taken");
        assert_ne!(a.subnet, b.subnet);
        assert_eq!(a.gateway, a.subnet.hosts().next().unwrap());
        assert!(matches!(create(&store, "a", &Request::default(), &[]), Err(NetworkError::Exists(_))));
        assert!(matches!(create(&store, "host", &Request::default(), &[]), Err(NetworkError::BadName(_))));
        let same = Request { subnet: Some(a.subnet.to_string()), ..Request::default() };
        let e = create(&store, "c", &same, &[]).unwrap_err().to_string();
        assert!(e.contains("overlaps network a"), "{e}");
        assert_eq!(find(&store, &b.id[..6]).unwrap(), b);
        remove(&store, &a).unwrap();
        assert_eq!(list(&store), vec![b]);
    }
}
