//! `sbx network create|ls|inspect|rm|prune|connect|disconnect`, as docker's for the bridge driver.

use crate::container::network as attached;
use crate::image::Store;
use crate::network::{self, Network, NetworkError, record};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// Make a bridge network; prints its id.
    Create(CreateArgs),
    /// List networks.
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Show networks as JSON.
    Inspect(InspectArgs),
    /// Remove networks no container is on.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove the user-defined networks no container is on.
    Prune(PruneArgs),
    /// Put a container on a network as well (at once if it runs).
    Connect(ConnectArgs),
    /// Take a container off a network (at once if it runs).
    Disconnect(DisconnectArgs),
}

#[derive(Args, Debug)]
pub struct ConnectArgs {
    pub network: String,
    pub container: String,
    /// Another name it has on the network; repeatable.
    #[arg(long = "alias", value_name = "NAME")]
    pub aliases: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DisconnectArgs {
    pub network: String,
    pub container: String,
    /// No error when it is not on the network.
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    pub name: String,
    /// An IPv4 subnet in CIDR form (default: a free /24 of 10.99.0.0/16).
    #[arg(long)]
    pub subnet: Option<String>,
    /// The bridge's address in the subnet (default: its first).
    #[arg(long)]
    pub gateway: Option<String>,
    /// No way out: containers reach each other only.
    #[arg(long)]
    pub internal: bool,
    /// The driver: only `bridge`.
    #[arg(short, long, default_value = "bridge")]
    pub driver: String,
    /// KEY=VALUE; repeatable.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// IPv6 (not supported yet: refused).
    #[arg(long)]
    pub ipv6: bool,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// Full ids.
    #[arg(long)]
    pub no_trunc: bool,
    /// name=TEXT, id=PREFIX, label=KEY[=VALUE], driver=bridge; repeatable.
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// table, json (one object per line), or a Go template ('{{.Name}}').
    #[arg(long, default_value = "table", value_parser = super::format::parse)]
    pub format: super::format::Format,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
    /// json, or a Go template over each network ('{{.IPAM.Config}}').
    #[arg(short, long, value_parser = super::format::parse)]
    pub format: Option<super::format::Format>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// No error for a network that does not exist.
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

pub fn run(store: &Store, cmd: NetworkCommand, config: Option<&std::path::Path>) -> i32 {
    match cmd {
        NetworkCommand::Connect(args) => connect(store, args, config),
        NetworkCommand::Disconnect(args) => {
            finish(crate::container::connect::disconnect(store, &args.container, &args.network, args.force))
        }
        NetworkCommand::Create(args) => create(store, args),
        NetworkCommand::Ls(args) => ls(store, args),
        NetworkCommand::Inspect(args) => inspect(store, args),
        NetworkCommand::Rm(args) => rm(store, args),
        NetworkCommand::Prune(args) => prune(store, args),
    }
}

fn connect(store: &Store, args: ConnectArgs, config: Option<&std::path::Path>) -> i32 {
    let plugins = match super::config::resolve(config) {
        Ok(c) => crate::plugin::PluginSet::new(&crate::plugin::compile::cache_dir(), c.plugins),
        Err(code) => return code,
    };
    finish(crate::container::connect::connect(store, &args.container, &args.network, &args.aliases, &plugins))
}

/// docker's exit status for connect and disconnect: 1 for what is refused as things stand (no
/// such network or container, already on it...), 125 when sbx failed.
fn finish(done: Result<String, crate::container::error::RunError>) -> i32 {
    use crate::container::error::RunError;
    match done {
        Ok(_) => 0,
        Err(RunError::Network(e)) => super::refuse_or_fail(&e, e.is_refusal()),
        Err(e) => super::run::fail_run(e),
    }
}

fn create(store: &Store, args: CreateArgs) -> i32 {
    if args.driver != "bridge" {
        return super::fail(format!("network driver '{}' is not supported: sbx has only `bridge`", args.driver));
    }
    if args.ipv6 {
        return super::fail("--ipv6 is not supported yet: sbx's networks are IPv4 only");
    }
    let labels = match super::volume::labels(&args.labels) {
        Ok(labels) => labels,
        Err(e) => return super::fail(e),
    };
    let request = record::Request { subnet: args.subnet, gateway: args.gateway, internal: args.internal, labels };
    match record::create(store, &args.name, &request, &network::subnet::host_routes()) {
        Ok(n) => {
            say!("{}", n.id);
            0
        }
        Err(e) => super::fail(e),
    }
}

/// docker's document of a network (`network inspect`).
fn document(store: &Store, n: &Network) -> Value {
    let containers: BTreeMap<String, Value> = network::ipam::leases(store, &n.name)
        .into_iter()
        .map(|(ip, lease)| {
            let name = crate::container::state::ContainerRecord::load(&store.container_dir(&lease.container))
                .map(|r| r.name)
                .unwrap_or_default();
            (lease.container, json!({ "Name": name, "IPv4Address": format!("{ip}/{}", n.subnet.prefix_len()) }))
        })
        .collect();
    json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": false,
        "IPAM": { "Driver": "default", "Options": {}, "Config": [{ "Subnet": n.subnet.to_string(), "Gateway": n.gateway.to_string() }] },
        "Internal": n.internal,
        "Attachable": false,
        "Containers": containers,
        "Options": { "com.docker.network.bridge.name": n.bridge() },
        "Labels": n.labels,
    })
}

fn ls(store: &Store, args: LsArgs) -> i32 {
    let mut filters = Vec::new();
    for f in &args.filters {
        match f.split_once('=') {
            Some((k @ ("name" | "id" | "label" | "driver"), v)) => filters.push((k.to_string(), v.to_string())),
            _ => {
                return super::fail(format!(
                    "invalid filter '{f}': the filters are name=TEXT, id=PREFIX, label=KEY[=VALUE] and driver=bridge"
                ));
            }
        }
    }
    // The default network is listed from the start, as docker's.
    if let Err(e) = network::get_or_default(store, network::DEFAULT) {
        return super::fail(e);
    }
    let shown: Vec<Network> = record::list(store).into_iter().filter(|n| passes(&filters, n)).collect();
    let id = |n: &Network| if args.no_trunc { n.id.clone() } else { n.id[..12].to_string() };
    if args.quiet {
        for n in &shown {
            say!("{}", id(n));
        }
        return 0;
    }
    let docs: Vec<Value> = shown
        .iter()
        .map(|n| {
            let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            json!({
                "ID": id(n),
                "Name": n.name,
                "Driver": "bridge",
                "Scope": "local",
                "IPv6": "false",
                "Internal": n.internal.to_string(),
                "Labels": labels.join(","),
                "CreatedAt": n.created,
            })
        })
        .collect();
    let headers = super::format::headers(&["ID", "Name", "Driver", "Scope"], &[("ID", "NETWORK ID")]);
    super::format::print(&args.format, &docs, &headers, || {
        super::format::print_columns(&headers, &docs, &["ID", "Name", "Driver", "Scope"])
    })
}

/// Whether network `n` passes every filter of `ls`. Pure.
fn passes(filters: &[(String, String)], n: &Network) -> bool {
    filters.iter().all(|(key, value)| match key.as_str() {
        "name" => n.name.contains(value.as_str()),
        "id" => n.id.starts_with(value.as_str()),
        "driver" => value == "bridge",
        "label" => crate::container::filter::has_label(&n.labels, value),
        _ => false,
    })
}

fn inspect(store: &Store, args: InspectArgs) -> i32 {
    let (mut docs, mut code) = (Vec::new(), 0);
    for name in &args.names {
        match network::get_or_default(store, name) {
            Ok(n) => docs.push(document(store, &n)),
            Err(e) => code = code.max(super::fail(e)),
        }
    }
    code.max(super::format::print_documents(args.format.as_ref(), &docs))
}

/// Removes network `name` unless a container is on it: its record, bridge and rules.
fn remove(store: &Store, users: &BTreeMap<String, Vec<String>>, name: &str) -> Result<Network, NetworkError> {
    let n = record::find(store, name)?;
    if n.name == network::DEFAULT {
        return Err(NetworkError::Predefined(n.name));
    }
    if let Some(on) = users.get(&n.name) {
        return Err(NetworkError::InUse { name: n.name, containers: on.join(", ") });
    }
    network::take_down(&n)?;
    record::remove(store, &n)?;
    Ok(n)
}

fn rm(store: &Store, args: RmArgs) -> i32 {
    let _lock = match record::lock(store) {
        Ok(l) => l,
        Err(e) => return super::fail(e),
    };
    let users = attached::users(store);
    let mut code = 0;
    for name in &args.names {
        match remove(store, &users, name) {
            Ok(_) => say!("{name}"),
            Err(NetworkError::NotFound(_)) if args.force => {}
            Err(e) => code = code.max(super::fail(e)),
        }
    }
    code
}

fn prune(store: &Store, args: PruneArgs) -> i32 {
    if !args.force && !super::confirm("all custom networks not used by at least one container") {
        return 0;
    }
    let _lock = match record::lock(store) {
        Ok(l) => l,
        Err(e) => return super::fail(e),
    };
    let users = attached::users(store);
    let (mut removed, mut code) = (Vec::new(), 0);
    for n in record::list(store) {
        // Leases of containers that are gone (their sbx was killed before `rm`).
        let _ = network::ipam::lock(store, &n.name)
            .map(|_l| network::ipam::reclaim(store, &n.name, &|id| store.container_dir(id).exists()));
        if n.name == network::DEFAULT || users.contains_key(&n.name) {
            continue;
        }
        match remove(store, &users, &n.name) {
            Ok(n) => removed.push(n.name),
            Err(e) => code = code.max(super::fail(e)),
        }
    }
    if !removed.is_empty() {
        say!("Deleted Networks:");
        for name in &removed {
            say!("{name}");
        }
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_of_ls() {
        let n = Network {
            name: "app-net".into(),
            id: "ab".repeat(32),
            subnet: "10.99.1.0/24".parse().unwrap(),
            gateway: "10.99.1.1".parse().unwrap(),
            internal: false,
            created: String::new(),
            labels: [("tier".to_string(), "db".to_string())].into(),
        };
        let f = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        assert!(passes(&f("name", "net"), &n) && !passes(&f("name", "web"), &n));
        assert!(passes(&f("id", "abab"), &n) && !passes(&f("id", "ba"), &n));
        assert!(passes(&f("label", "tier=db"), &n) && !passes(&f("label", "zone"), &n));
    }
}
