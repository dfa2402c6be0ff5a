//! `sbx port CONTAINER [PORT[/PROTO]]`: the host addresses a running container's ports are
//! published on, as docker prints them.

use crate::container::network::endpoints;
use crate::container::state;
use crate::image::Store;
use clap::Args;

#[derive(Args, Debug)]
pub struct PortArgs {
    /// The container: a name or an id prefix.
    pub container: String,
    /// Only this port of the container (80, 80/tcp, 53/udp).
    pub port: Option<String>,
}

pub fn port(store: &Store, args: PortArgs) -> i32 {
    let (dir, record) = match state::find(store, &args.container) {
        Ok(found) => found,
        Err(e) => return super::refuse_or_fail(&e, e.is_refusal()),
    };
    let published: Vec<_> = endpoints(&dir).into_iter().flat_map(|e| e.ports).collect();
    let wanted = args.port.as_deref().map(|p| if p.contains('/') { p.to_string() } else { format!("{p}/tcp") });
    let mut shown = 0;
    for p in published.iter().filter(|p| wanted.as_ref().is_none_or(|w| *w == p.key())) {
        let host = format!("{}:{}", if p.host_ip.is_empty() { "0.0.0.0" } else { &p.host_ip }, p.host_port);
        match wanted {
            Some(_) => say!("{host}"),
            None => say!("{} -> {host}", p.key()),
        }
        shown += 1;
    }
    match (shown, wanted) {
        (0, Some(w)) => super::refuse_or_fail(format!("no public port '{w}' published for {}", record.name), true),
        _ => 0,
    }
}
