//! Bridge networks, as docker's `bridge` driver makes them: a Linux bridge per network with its
//! gateway address, masquerade for what leaves it (nftables), and per container a veth pair into
//! its network namespace with an address leased from the network. The store keeps the networks
//! and their leases ([`record`], [`ipam`]); the kernel keeps the bridge, the veths and the rules
//! ([`link`], [`firewall`]), which are made again when missing (after a reboot, in another
//! network namespace). Which containers use a network, and their /etc/hosts, are the containers'
//! business (`container::network`).

pub mod firewall;
pub mod ipam;
pub mod link;
pub mod ports;
pub mod record;
pub mod slirp;
pub mod subnet;

pub use record::{DEFAULT, Network};

use crate::image::{Store, StoreError};
use std::net::Ipv4Addr;
use std::os::fd::AsFd;

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error(
        "'{0}' is not a valid network name: use letters, digits, '_', '.' and '-', starting with a letter or digit (none, host and slirp4netns are taken)"
    )]
    BadName(String),
    #[error("no such network: {0} (see `sbx network ls`; make one with `sbx network create {0}`)")]
    NotFound(String),
    #[error("network {0} exists: choose another name, or remove it first with `sbx network rm {0}`")]
    Exists(String),
    #[error("bad --subnet '{0}': {1}")]
    BadSubnet(String, String),
    #[error("subnet {subnet} overlaps {what}: choose another --subnet")]
    Overlap { subnet: String, what: String },
    #[error("bad --gateway '{0}': expected an address of {1} other than its first and last")]
    BadGateway(String, String),
    #[error(
        "no free subnet is left in sbx's pool {0}: give one with --subnet, or remove unused networks (`sbx network prune`)"
    )]
    PoolFull(&'static str),
    #[error("network {0} has no free address left: remove containers from it, or use a network with a larger --subnet")]
    Full(String),
    #[error("network {name} is in use by container {containers}: remove them first (`sbx rm -f`)")]
    InUse { name: String, containers: String },
    #[error("port {port} is already in use on {ip}: choose another host port (or none, for a free one)")]
    PortInUse { port: String, ip: String },
    #[error("network {0} is internal: its containers' ports cannot be published; use another network for -p")]
    InternalPorts(String),
    #[error(
        "container {container} is on network {mode}: only a container made on a bridge network can be connected to others"
    )]
    NotConnectable { container: String, mode: String },
    #[error("--alias needs a user-defined network, not {0}: names are resolved on those only, as in docker")]
    AliasOnDefault(String),
    #[error("container {container} is already on network {network}")]
    AlreadyOn { container: String, network: String },
    #[error("container {container} is not on network {network}")]
    NotOn { container: String, network: String },
    #[error(
        "container {container} publishes its ports through network {network}: stop it first to take it off that network"
    )]
    CarriesPorts { container: String, network: String },
    #[error("{0} is the default network and cannot be removed")]
    Predefined(String),
    #[error(
        "--network slirp4netns needs the slirp4netns program, which is not on PATH: install it (apt install slirp4netns), or use --network none"
    )]
    SlirpMissing,
    #[error("slirp4netns: {0}")]
    Slirp(String),
    #[error("network {name}: {what}: {why}")]
    Kernel { name: String, what: String, why: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl NetworkError {
    /// What the user asked for cannot be done (docker's exit 1 for network verbs), as against sbx
    /// failing (125).
    pub fn is_refusal(&self) -> bool {
        !matches!(self, NetworkError::Store(_) | NetworkError::Kernel { .. } | NetworkError::Slirp(_))
    }

    fn kernel(network: &Network, what: &str, why: impl std::fmt::Display) -> NetworkError {
        NetworkError::Kernel { name: network.name.clone(), what: what.to_string(), why: why.to_string() }
    }
}

/// The network `name`; the default one is made on its first use, as docker's `bridge` is there
/// from the start.
pub fn get_or_default(store: &Store, name: &str) -> Result<Network, NetworkError> {
    match record::find(store, name) {
        Err(NetworkError::NotFound(_)) if name == DEFAULT => {
            match record::create(store, DEFAULT, &record::Request::default(), &subnet::host_routes()) {
                Err(NetworkError::Exists(_)) => record::get(store, DEFAULT),
                other => other,
            }
        }
        other => other,
    }
}

/// Makes the network's bridge and rules if the kernel does not have them; returns the bridge's
/// index.
pub fn ensure_up(network: &Network, netlink: &mut link::Netlink) -> Result<u32, NetworkError> {
    let bridge = network.bridge();
    if let Ok(index) = link::index(&bridge) {
        return Ok(index);
    }
    let index = match netlink.add_bridge(&bridge, network.gateway, network.subnet.prefix_len()) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => link::index(&bridge),
        other => other,
    }
    .map_err(|e| NetworkError::kernel(network, &format!("making bridge {bridge}"), e))?;
    firewall::apply(&firewall::ruleset(network)).map_err(|e| NetworkError::kernel(network, "setting its rules", e))?;
    if !network.internal {
        firewall::enable_forwarding().map_err(|e| NetworkError::kernel(network, "enabling forwarding", e))?;
    }
    Ok(index)
}

/// Removes the network's bridge and rules from the kernel (what is not there is fine).
pub fn take_down(network: &Network) -> Result<(), NetworkError> {
    let mut netlink = link::Netlink::open().map_err(|e| NetworkError::kernel(network, "opening rtnetlink", e))?;
    netlink.delete(&network.bridge()).map_err(|e| NetworkError::kernel(network, "removing its bridge", e))?;
    firewall::apply(&firewall::removal(network)).map_err(|e| NetworkError::kernel(network, "removing its rules", e))
}

/// One container's place on one network.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Endpoint {
    pub network: String,
    pub network_id: String,
    pub address: Ipv4Addr,
    pub prefix: u8,
    /// None on an internal network (no route out).
    pub gateway: Option<Ipv4Addr>,
    /// The host's end of its veth pair.
    pub veth: String,
    /// Its interface in the container (eth0, eth1...).
    pub interface: String,
    /// The ports published to it, with their host ports chosen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<crate::spec::PublishedPort>,
}

/// Puts the container whose network namespace is `netns` on `network`: leases it an address
/// (the caller holds the network's lease lock), makes its veth pair (`veth` here, `interface`
/// there), addresses and routes it. Nothing of it is left when this fails.
pub fn attach(
    store: &Store,
    network: &Network,
    netns: &impl AsFd,
    lease: &ipam::Lease,
    names: (&str, &str),
    alive: &dyn Fn(&str) -> bool,
) -> Result<Endpoint, NetworkError> {
    let (veth, interface) = names;
    let mut netlink = link::Netlink::open().map_err(|e| NetworkError::kernel(network, "opening rtnetlink", e))?;
    let bridge = ensure_up(network, &mut netlink)?;
    let address = ipam::allocate(store, network, lease, alive)?;
    let endpoint = Endpoint {
        network: network.name.clone(),
        network_id: network.id.clone(),
        address,
        prefix: network.subnet.prefix_len(),
        gateway: (!network.internal).then_some(network.gateway),
        veth: veth.to_string(),
        interface: interface.to_string(),
        ports: Vec::new(),
    };
    let made = add_own_veth(&mut netlink, (veth, interface), netns.as_fd(), bridge).and_then(|()| {
        link::within(netns, |inside| {
            let index = link::index(interface)?;
            inside.add_address(index, address, endpoint.prefix)?;
            inside.set_up(index, None)?;
            // The first network's default route stays where the container has one already.
            match endpoint.gateway.map(|gw| inside.add_default_route(gw)) {
                Some(Err(e)) if e.raw_os_error() != Some(libc::EEXIST) => Err(e),
                _ => Ok(()),
            }
        })
    });
    if let Err(e) = made {
        let _ = netlink.delete(veth);
        ipam::release(store, &network.name, &lease.container);
        return Err(NetworkError::kernel(network, &format!("attaching {veth}"), e));
    }
    Ok(endpoint)
}

/// Makes the veth pair `names` (host end, container end). A pair of that name is the container's
/// own from its run before (the name carries its id) that the kernel has not removed yet: it
/// removes a namespace's veths after its last process, asynchronously, so a quick restart can meet
/// it. It is deleted and the pair made again.
fn add_own_veth(
    netlink: &mut link::Netlink,
    names: (&str, &str),
    netns: std::os::fd::BorrowedFd,
    bridge: u32,
) -> std::io::Result<()> {
    let (veth, interface) = names;
    for _ in 0..100 {
        match netlink.add_veth(veth, interface, netns, bridge) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
                let _ = netlink.delete(veth);
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => return other,
        }
    }
    netlink.add_veth(veth, interface, netns, bridge)
}

/// Deletes an endpoint's veth pair (gone already when its namespace went).
pub fn remove_veth(veth: &str) {
    if let Ok(mut netlink) = link::Netlink::open() {
        let _ = netlink.delete(veth);
    }
}
