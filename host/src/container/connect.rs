//! `sbx network connect|disconnect`, as docker's: a container's networks changed in its spec (for
//! its next starts) and, while it runs, at once (an interface added or removed). Connecting is
//! checked as a create is (the spec's rules, then the policies, which may refuse the network or
//! adjust the spec); disconnecting only takes away.

use super::admission;
use super::error::RunError;
use super::network;
use super::state;
use crate::image::Store;
use crate::isolate::rootless;
use crate::network::{self as net, NetworkError};
use crate::plugin::PluginSet;
use crate::spec::{self, Network, NetworkAttachment};

/// Connects the container `query` names to the network `name`; returns the container's name.
pub fn connect(
    store: &Store,
    query: &str,
    name: &str,
    aliases: &[String],
    plugins: &PluginSet,
) -> Result<String, RunError> {
    let (dir, record) = state::find(store, query)?;
    let mut spec = state::load_spec(&dir).ok_or_else(|| RunError::NoSpec(record.name.clone()))?;
    let network = net::get_or_default(store, name)?;
    if spec.network != Network::Bridge {
        let mode = super::view::network_mode(&spec);
        return Err(NetworkError::NotConnectable { container: record.name, mode }.into());
    }
    if spec.networks.iter().any(|n| n.name == network.name) {
        return Err(NetworkError::AlreadyOn { container: record.name, network: network.name }.into());
    }
    if !aliases.is_empty() && !network.resolves_names() {
        return Err(NetworkError::AliasOnDefault(network.name).into());
    }
    spec.networks.push(NetworkAttachment { name: network.name.clone(), aliases: aliases.to_vec() });
    if rootless::is_active() {
        spec::check_rootless(&spec)?;
    }
    spec::validate(&spec)?;
    let spec = admission::recheck(store, &record, spec, plugins)?;
    let still_asked = spec.network == Network::Bridge && spec.networks.iter().any(|n| n.name == network.name);
    if let (true, Some(pid)) = (state::live(&dir, &record).running() && still_asked, record.pid) {
        network::connect_running(store, &record, &spec, pid, &network)?;
    }
    state::save_spec(&dir, &spec)?;
    Ok(record.name)
}

/// Disconnects the container `query` names from the network `name` (`force`: no error when it
/// is not on it); returns the container's name. Off its last network it has loopback only
/// (`--network none`) from its next start.
pub fn disconnect(store: &Store, query: &str, name: &str, force: bool) -> Result<String, RunError> {
    let (dir, record) = state::find(store, query)?;
    let mut spec = state::load_spec(&dir).ok_or_else(|| RunError::NoSpec(record.name.clone()))?;
    let Some(at) = spec.networks.iter().position(|n| n.name == name) else {
        if force {
            return Ok(record.name);
        }
        net::record::find(store, name)?;
        return Err(NetworkError::NotOn { container: record.name, network: name.into() }.into());
    };
    if state::live(&dir, &record).running() {
        network::disconnect_running(store, &record, &spec, name)?;
    }
    spec.networks.remove(at);
    if spec.networks.is_empty() {
        spec.network = Network::None;
        spec.ports.clear();
    }
    state::save_spec(&dir, &spec)?;
    Ok(record.name)
}
