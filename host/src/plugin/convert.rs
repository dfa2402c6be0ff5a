//! Store records and container specs to the WIT records plugins see.

use super::bindings::{
    Container, Device, Dns, Entry, EntryKind as WitKind, HostEntry, Image, ImageConfig, Layer, Limits, Mount,
    MountKind, Network, NetworkAttachment, PublishedPort, Seccomp, Spec, State, Status, Ulimit, Userns,
};
use crate::image::ImageRecord;
use crate::layer::{EntryKind, IndexEntry};
use crate::spec::security;
use crate::spec::user::User;
use crate::spec::{self, ContainerSpec};
use oci_spec::image::ImageConfiguration;

pub fn image(reference: &str, record: &ImageRecord, config: &ImageConfiguration) -> Image {
    let c = config.config().clone().unwrap_or_default();
    let mut labels: Vec<(String, String)> = c.labels().clone().unwrap_or_default().into_iter().collect();
    labels.sort();
    Image {
        reference: reference.to_string(),
        names: record.names.clone(),
        manifest_digest: record.manifest_digest.as_ref().map(ToString::to_string).unwrap_or_default(),
        config_digest: record.id.to_string(),
        os: config.os().to_string(),
        architecture: config.architecture().to_string(),
        config: ImageConfig {
            user: c.user().clone().filter(|u| !u.is_empty()),
            env: c.env().clone().unwrap_or_default(),
            entrypoint: c.entrypoint().clone().unwrap_or_default(),
            cmd: c.cmd().clone().unwrap_or_default(),
            working_dir: c.working_dir().clone().filter(|w| !w.is_empty()),
            labels,
            exposed_ports: c.exposed_ports().clone().unwrap_or_default(),
        },
        history: history(config).into_iter().map(|(created_by, _)| created_by.unwrap_or_default()).collect(),
        layers: record.layers.iter().map(|l| l.diff_id.to_string()).collect(),
    }
}

/// (created_by, is an empty layer) for each history step.
fn history(config: &ImageConfiguration) -> Vec<(Option<String>, bool)> {
    config
        .history()
        .clone()
        .unwrap_or_default()
        .iter()
        .map(|h| (h.created_by().clone(), h.empty_layer().unwrap_or(false)))
        .collect()
}

/// The `created_by` of the history step that made layer `index` (empty-layer steps skipped).
pub fn created_by(config: &ImageConfiguration, index: usize) -> Option<String> {
    history(config).into_iter().filter(|(_, empty)| !empty).nth(index).and_then(|(c, _)| c)
}

fn kind(k: EntryKind) -> WitKind {
    match k {
        EntryKind::File => WitKind::File,
        EntryKind::Dir => WitKind::Dir,
        EntryKind::Symlink => WitKind::Symlink,
        EntryKind::Hardlink => WitKind::Hardlink,
        EntryKind::CharDevice => WitKind::CharDevice,
        EntryKind::BlockDevice => WitKind::BlockDevice,
        EntryKind::Fifo => WitKind::Fifo,
        EntryKind::Whiteout => WitKind::Whiteout,
        EntryKind::OpaqueWhiteout => WitKind::OpaqueWhiteout,
    }
}

pub fn layer(
    record: &ImageRecord,
    config: &ImageConfiguration,
    index: usize,
    entries: Vec<IndexEntry>,
    unpacked_size: u64,
) -> Layer {
    let l = &record.layers[index];
    Layer {
        index: index as u32,
        digest: l.digest.to_string(),
        diff_id: l.diff_id.to_string(),
        media_type: l.media_type.clone(),
        size: l.size,
        unpacked_size,
        created_by: created_by(config, index),
        entries: entries
            .into_iter()
            .map(|e| Entry {
                path: e.path,
                kind: kind(e.kind),
                mode: e.mode,
                uid: e.uid,
                gid: e.gid,
                size: e.size,
                link_target: e.link,
            })
            .collect(),
    }
}

/// The image record of a spec read from a file, when the image is not at hand: only its reference.
pub fn bare_image(reference: &str) -> Image {
    Image {
        reference: reference.to_string(),
        names: vec![],
        manifest_digest: String::new(),
        config_digest: String::new(),
        os: String::new(),
        architecture: String::new(),
        config: ImageConfig {
            user: None,
            env: vec![],
            entrypoint: vec![],
            cmd: vec![],
            working_dir: None,
            labels: vec![],
            exposed_ports: vec![],
        },
        history: vec![],
        layers: vec![],
    }
}

/// The WIT spec of `s`, whose user resolves to `user` (as sbx will apply it).
pub fn spec(image: &Image, s: &ContainerSpec, user: &User) -> Spec {
    Spec {
        image: image.clone(),
        args: s.args.clone(),
        env: s.env.clone(),
        user: s.user.clone(),
        uid: user.uid,
        gid: user.gid,
        additional_gids: user.groups.iter().skip(1).copied().collect(),
        cwd: s.cwd.clone(),
        hostname: s.hostname.clone(),
        mounts: s
            .mounts
            .iter()
            .map(|m| Mount {
                kind: match m.kind {
                    spec::MountKind::Bind => MountKind::Bind,
                    spec::MountKind::Tmpfs => MountKind::Tmpfs,
                },
                source: m.source.clone(),
                destination: m.destination.clone(),
                read_only: m.read_only,
            })
            .collect(),
        read_only_rootfs: s.read_only_rootfs,
        capabilities: s.capabilities.clone(),
        masked_paths: s.masked_paths.clone(),
        read_only_paths: s.read_only_paths.clone(),
        namespaces: s.namespaces.clone(),
        limits: Limits {
            memory_bytes: s.limits.memory_bytes,
            pids: s.limits.pids,
            cpu_millis: s.limits.cpu_millis,
            memory_swap: s.limits.memory_swap,
            cpu_shares: s.limits.cpu_shares,
            cpuset_cpus: s.limits.cpuset_cpus.clone(),
        },
        network: network(s.network),
        networks: s
            .networks
            .iter()
            .map(|n| NetworkAttachment { name: n.name.clone(), aliases: n.aliases.clone() })
            .collect(),
        ports: s
            .ports
            .iter()
            .map(|p| PublishedPort {
                host_ip: p.host_ip.clone(),
                host_port: p.host_port,
                container_port: p.container_port,
                protocol: p.protocol.clone(),
            })
            .collect(),
        dns: Dns { servers: s.dns.clone(), search: s.dns_search.clone(), options: s.dns_options.clone() },
        extra_hosts: s.extra_hosts.iter().map(|h| host_entry(h)).collect(),
        userns: match s.userns {
            spec::Userns::Host => Userns::Host,
            spec::Userns::Auto => Userns::Auto,
        },
        annotations: s.annotations.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        no_new_privileges: s.no_new_privileges,
        seccomp: match &s.seccomp {
            security::Seccomp::Default => Seccomp::Default,
            security::Seccomp::Unconfined => Seccomp::Unconfined,
            security::Seccomp::Profile(p) => Seccomp::Profile(serde_json::to_string(p).expect("serializable")),
        },
        devices: s
            .devices
            .iter()
            .map(|d| Device {
                host_path: d.host_path.clone(),
                container_path: d.container_path.clone(),
                permissions: d.permissions.clone(),
            })
            .collect(),
        ulimits: s.ulimits.iter().map(|u| Ulimit { name: u.name.clone(), soft: u.soft, hard: u.hard }).collect(),
        privileged: s.privileged,
        terminal: s.terminal,
        init: s.init,
    }
}

pub fn network(n: spec::Network) -> Network {
    match n {
        spec::Network::None => Network::None,
        spec::Network::Host => Network::Host,
        spec::Network::Bridge => Network::Bridge,
        spec::Network::Slirp4netns => Network::Slirp4netns,
    }
}

/// `NAME:ADDRESS` of `--add-host` (an IPv6 address has colons; a name has none).
fn host_entry(text: &str) -> HostEntry {
    let (name, address) = text.split_once(':').unwrap_or((text, ""));
    HostEntry { name: name.to_string(), address: address.to_string() }
}

/// What the hooks are told of a container at an event (its spec they ask for).
pub struct ContainerView<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub spec: &'a Spec,
    pub status: Status,
    pub pid: Option<i32>,
    pub exit_code: Option<i32>,
    pub signal: Option<u32>,
    pub oom_killed: bool,
}

pub fn container(v: ContainerView) -> Container {
    Container {
        id: v.id.to_string(),
        name: v.name.to_string(),
        image: v.spec.image.reference.clone(),
        image_digest: v.spec.image.config_digest.clone(),
        args: v.spec.args.clone(),
        user: v.spec.user.clone(),
        uid: v.spec.uid,
        gid: v.spec.gid,
        state: State {
            status: v.status,
            pid: v.pid,
            exit_code: v.exit_code,
            signal: v.signal,
            oom_killed: v.oom_killed,
        },
    }
}
