//! A container's place on its bridge networks: attached (an address leased, a veth pair made)
//! when its process has started and before it runs, detached when it ends; its /etc/hosts and
//! those of its peers on user-defined networks rewritten in place (the files are bind-mounted, so
//! a running container sees the change) to give each other's names, as docker's embedded DNS
//! answers them. What it got is kept in `endpoints.json` in its directory while it runs, for
//! `inspect` and for the cleanup after a killed sbx ([`forget`]).

use super::error::RunError;
use super::etc_files;
use super::state::{self, ContainerRecord};
use crate::image::Store;
use crate::network::{self, Endpoint, ipam, slirp};
use crate::spec::{ContainerSpec, Network};
use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;

/// The file of a running container's endpoints.
pub const ENDPOINTS: &str = "endpoints.json";

/// The endpoints of the container in `dir` (none when it does not run on a network).
pub fn endpoints(dir: &Path) -> Vec<Endpoint> {
    std::fs::read(dir.join(ENDPOINTS)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
}

fn alive(store: &Store) -> impl Fn(&str) -> bool + '_ {
    |id: &str| state::is_running(&store.container_dir(id))
}

/// The container's endpoints while it runs; dropping it detaches them.
pub struct Attached<'a> {
    store: &'a Store,
    id: String,
    endpoints: Vec<Endpoint>,
    slirp: Option<slirp::Slirp>,
}

/// Whether `e` is on a bridge network (not slirp4netns's).
fn on_bridge(e: &Endpoint) -> bool {
    !e.veth.is_empty()
}

/// Attaches the container of `record`, whose first process is `pid` (paused before it runs), to
/// the networks of its spec; `netns` is its network namespace when sbx made it beforehand (see
/// [`premade_netns`]).
pub fn attach<'a>(
    store: &'a Store,
    record: &ContainerRecord,
    spec: &ContainerSpec,
    pid: i32,
    netns: Option<OwnedFd>,
) -> Result<Attached<'a>, RunError> {
    let mut attached = Attached { store, id: record.id.clone(), endpoints: Vec::new(), slirp: None };
    let dir = store.container_dir(&record.id);
    let open = || File::open(format!("/proc/{pid}/ns/net")).map(OwnedFd::from).map_err(start_error);
    match spec.network {
        Network::Bridge => {}
        Network::Slirp4netns => {
            attached.start_slirp(&dir, spec, netns.map_or_else(open, Ok)?.as_fd())?;
            write_hosts(store, &record.id, Some(spec));
            return Ok(attached);
        }
        Network::None | Network::Host => return Ok(attached),
    }
    let netns = open()?;
    for (i, on) in spec.networks.iter().enumerate() {
        let net = network::get_or_default(store, &on.name)?;
        let _lock = ipam::lock(store, &net.name)?;
        attached.endpoints.push(join(store, record, &net, &on.aliases, &netns, i)?);
        if i == 0 && !spec.ports.is_empty() {
            attached.publish(&net, &spec.ports)?;
        }
        save_endpoints(&dir, &attached.endpoints)?;
        write_peers_hosts(store, &net.name);
    }
    write_hosts(store, &record.id, Some(spec));
    Ok(attached)
}

/// Puts the container of `record` on `net` (the caller holds its lease lock) with its interface
/// `eth{i}`, known there by its name, short id and `aliases` if the network resolves names.
fn join(
    store: &Store,
    record: &ContainerRecord,
    net: &network::Network,
    aliases: &[String],
    netns: &impl AsFd,
    i: usize,
) -> Result<Endpoint, RunError> {
    let names = match net.resolves_names() {
        true => [record.name.clone(), record.id[..12].to_string()].into_iter().chain(aliases.iter().cloned()).collect(),
        false => Vec::new(),
    };
    let lease = ipam::Lease { container: record.id.clone(), names };
    let veth = format!("sbx{}{i}", &record.id[..11]);
    Ok(network::attach(store, net, netns, &lease, (&veth, &format!("eth{i}")), &alive(store))?)
}

fn save_endpoints(dir: &Path, endpoints: &[Endpoint]) -> Result<(), RunError> {
    let json = serde_json::to_vec(endpoints).expect("endpoints serialize");
    Ok(crate::image::store::write_atomic_unsynced(&dir.join(ENDPOINTS), &json)?)
}

/// Puts the running container of `record` (its process `pid`) on `net` as well, as the last
/// of `spec`'s networks (`sbx network connect`): on the first interface number its endpoints do
/// not use.
pub fn connect_running(
    store: &Store,
    record: &ContainerRecord,
    spec: &ContainerSpec,
    pid: i32,
    net: &network::Network,
) -> Result<(), RunError> {
    let dir = store.container_dir(&record.id);
    let netns = File::open(format!("/proc/{pid}/ns/net")).map_err(|_| RunError::NotRunning(record.name.clone()))?;
    let aliases = spec.networks.iter().find(|n| n.name == net.name).map(|n| n.aliases.clone()).unwrap_or_default();
    let _lock = ipam::lock(store, &net.name)?;
    let mut list = endpoints(&dir);
    let i = (0..).find(|i| !list.iter().any(|e| e.interface == format!("eth{i}"))).expect("a free number");
    list.push(join(store, record, net, &aliases, &netns, i)?);
    if let Err(e) = save_endpoints(&dir, &list) {
        network::remove_veth(&list[list.len() - 1].veth);
        ipam::release(store, &net.name, &record.id);
        return Err(e);
    }
    write_peers_hosts(store, &net.name);
    write_hosts(store, &record.id, Some(spec));
    Ok(())
}

/// Takes the running container of `record` off `network` (`sbx network disconnect`): its veth
/// deleted, its lease given back, its and its peers' /etc/hosts rewritten. Refused for the
/// network its published ports go through.
pub fn disconnect_running(
    store: &Store,
    record: &ContainerRecord,
    spec: &ContainerSpec,
    network: &str,
) -> Result<(), RunError> {
    let dir = store.container_dir(&record.id);
    let _lock = ipam::lock(store, network)?;
    let mut list = endpoints(&dir);
    let Some(at) = list.iter().position(|e| e.network == network) else { return Ok(()) };
    if !list[at].ports.is_empty() {
        return Err(
            network::NetworkError::CarriesPorts { container: record.name.clone(), network: network.into() }.into()
        );
    }
    let gone = list.remove(at);
    save_endpoints(&dir, &list)?;
    network::remove_veth(&gone.veth);
    ipam::release(store, network, &record.id);
    write_peers_hosts(store, network);
    write_hosts(store, &record.id, Some(spec));
    Ok(())
}

impl Attached<'_> {
    /// Starts slirp4netns for it, forwarding its ports (host ports reserved as on a bridge).
    fn start_slirp(&mut self, dir: &Path, spec: &ContainerSpec, netns: BorrowedFd) -> Result<(), RunError> {
        let ports = match spec.ports.is_empty() {
            true => Vec::new(),
            false => network::ports::reserve(self.store, &spec.ports, &self.id, &alive(self.store))?,
        };
        self.endpoints.push(Endpoint {
            network: slirp::PROGRAM.to_string(),
            network_id: String::new(),
            address: slirp::ADDRESS,
            prefix: slirp::PREFIX,
            gateway: Some(slirp::GATEWAY),
            veth: String::new(),
            interface: slirp::INTERFACE.to_string(),
            ports,
        });
        self.slirp = Some(slirp::start(netns, dir, &self.endpoints[0].ports)?);
        save_endpoints(dir, &self.endpoints)
    }

    /// Publishes `ports` on the first endpoint (its network is `net`).
    fn publish(&mut self, net: &network::Network, ports: &[crate::spec::PublishedPort]) -> Result<(), RunError> {
        if net.internal {
            return Err(network::NetworkError::InternalPorts(net.name.clone()).into());
        }
        let chosen = network::ports::reserve(self.store, ports, &self.id, &alive(self.store))?;
        let endpoint = &mut self.endpoints[0];
        endpoint.ports = chosen;
        network::ports::publish(net, &self.id, endpoint.address, &endpoint.ports)?;
        Ok(())
    }
}

impl Drop for Attached<'_> {
    /// The veth pair goes with the container's network namespace, which the kernel removes once
    /// its last process has ended (deleting it here would wait ~20 ms for the kernel's RCU grace
    /// period, more than the rest of a run).
    fn drop(&mut self) {
        drop(self.slirp.take());
        // What `network connect` and `disconnect` changed meanwhile is in the file.
        let dir = self.store.container_dir(&self.id);
        if dir.join(ENDPOINTS).exists() {
            self.endpoints = endpoints(&dir);
        }
        if let Some(first) = self.endpoints.first().filter(|e| !e.ports.is_empty()) {
            if on_bridge(first) {
                network::ports::unpublish(&self.id);
            }
            network::ports::release(self.store, &self.id);
        }
        for endpoint in self.endpoints.drain(..).filter(on_bridge) {
            let _lock = ipam::lock(self.store, &endpoint.network);
            ipam::release(self.store, &endpoint.network, &self.id);
            write_peers_hosts(self.store, &endpoint.network);
        }
        let _ = std::fs::remove_file(dir.join(ENDPOINTS));
    }
}

/// Takes back what a container that no longer runs may still hold (its sbx was killed): its
/// leases on every network, its veths, its endpoints file. For `sbx rm` and before a start.
pub fn forget(store: &Store, id: &str) {
    let dir = store.container_dir(id);
    let endpoints = endpoints(&dir);
    for endpoint in endpoints.iter().filter(|e| on_bridge(e)) {
        network::remove_veth(&endpoint.veth);
    }
    // (A slirp4netns ends by itself with whoever held its exit pipe.)
    let released = network::ports::release(store, id);
    if endpoints.first().map_or(released, |e| on_bridge(e) && (released || !e.ports.is_empty())) {
        network::ports::unpublish(id);
    }
    for net in network::record::list(store) {
        if ipam::leases(store, &net.name).iter().any(|(_, l)| l.container == id) {
            let _lock = ipam::lock(store, &net.name);
            ipam::release(store, &net.name, id);
            write_peers_hosts(store, &net.name);
        }
    }
    let _ = std::fs::remove_file(dir.join(ENDPOINTS));
}

/// The network namespace sbx makes for the container of `spec` before its process, which joins
/// it: slirp4netns's when the container has no user namespace of its own (a rootless sbx cannot
/// open the namespace of its paused child; see [`network::link::new_netns`]).
pub fn premade_netns(spec: &ContainerSpec, own_ids: bool) -> Result<Option<OwnedFd>, RunError> {
    match spec.network == Network::Slirp4netns && !own_ids {
        true => Ok(Some(network::link::new_netns().map_err(start_error)?)),
        false => Ok(None),
    }
}

fn start_error(e: std::io::Error) -> RunError {
    RunError::Spawn(crate::isolate::spawn::SpawnError::Start(e))
}

/// Rewrites the /etc/hosts of every container on the network `name`, if its containers know each
/// other by name (the caller holds its lease lock).
fn write_peers_hosts(store: &Store, name: &str) {
    if name == network::DEFAULT {
        return;
    }
    for (_, lease) in ipam::leases(store, name) {
        write_hosts(store, &lease.container, None);
    }
}

/// Rewrites the /etc/hosts of container `id` in place: its own lines, its addresses by its
/// hostname, and its peers on user-defined networks by their names.
fn write_hosts(store: &Store, id: &str, spec: Option<&ContainerSpec>) {
    let dir = store.container_dir(id);
    let path = dir.join("hosts");
    let loaded;
    let spec = match spec {
        Some(s) => s,
        None => match state::load_spec(&dir) {
            Some(s) => {
                loaded = s;
                &loaded
            }
            None => return,
        },
    };
    let own = endpoints(&dir);
    let mut peers: Vec<(Ipv4Addr, Vec<String>)> = Vec::new();
    for endpoint in &own {
        let leases = ipam::leases(store, &endpoint.network);
        peers.extend(
            leases.into_iter().filter(|(_, l)| l.container != id && !l.names.is_empty()).map(|(ip, l)| (ip, l.names)),
        );
    }
    let own: Vec<Ipv4Addr> = own.iter().map(|e| e.address).collect();
    let text = etc_files::hosts_on_networks(spec, std::fs::read_to_string("/etc/hosts").ok().as_deref(), &own, &peers);
    // In place, not renamed over: the running container has this very file mounted. Only a
    // file its creator made (a container with `-v …:/etc/hosts` has its own).
    if path.exists() {
        let _ = std::fs::write(&path, text);
    }
}

/// The containers on each network: network name -> container names, from their specs.
pub fn users(store: &Store) -> std::collections::BTreeMap<String, Vec<String>> {
    let mut users: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for (dir, record) in state::list(store) {
        for on in state::load_spec(&dir).map(|s| s.networks).unwrap_or_default() {
            users.entry(on.name).or_default().push(record.name.clone());
        }
    }
    users
}
