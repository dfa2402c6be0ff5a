//! How containers are shown: docker's status text ("Up 3 minutes", "Exited (0) 2 seconds ago"),
//! the quoted command, and the inspect document. Pure.

use super::health::Health;
use super::state::{ContainerRecord, Live, Status};
use crate::spec::{ContainerSpec, MountKind};
use crate::time;
use serde_json::{Value, json};

/// docker's STATUS column. `live` is whether its run lock is held now: a record left "running"
/// by a killed sbx shows as Dead.
/// `health` is the last status of its health check, if it has one.
pub fn status(r: &ContainerRecord, live: Live, now: i64, health: Option<&Health>) -> String {
    let since = |t: &Option<String>| t.as_deref().and_then(time::parse_rfc3339);
    let up = || format!("Up {}", since(&r.started).map_or_else(|| "?".into(), |t| time::human(now - t)));
    match (r.status, live) {
        (_, Live::Running) => up() + &health.map(Health::suffix).unwrap_or_default(),
        (_, Live::Paused) => format!("{} (Paused)", up()),
        (Status::Running, Live::Stopped) => "Dead".into(),
        (Status::Created, Live::Stopped) => "Created".into(),
        (Status::Exited, Live::Stopped) => {
            let code = r.exit_code.map_or_else(|| "?".into(), |c| c.to_string());
            let ago = since(&r.finished).map_or_else(String::new, |t| format!(" {}", time::ago(t, now)));
            let word = if r.restarting { "Restarting" } else { "Exited" };
            format!("{word} ({code}){ago}")
        }
    }
}

/// The state word of `sbx ps --format json` and inspect.
pub fn state_word(r: &ContainerRecord, live: Live) -> &'static str {
    match (r.status, live) {
        (_, Live::Running) => "running",
        (_, Live::Paused) => "paused",
        (Status::Running, Live::Stopped) => "dead",
        (Status::Created, Live::Stopped) => "created",
        (Status::Exited, Live::Stopped) if r.restarting => "restarting",
        (Status::Exited, Live::Stopped) => "exited",
    }
}

/// The COMMAND column: the command line in quotes, cut to `width` characters with an ellipsis.
pub fn command(args: &[String], width: usize) -> String {
    let line = args.join(" ");
    let cut: String = if line.chars().count() > width {
        line.chars().take(width.saturating_sub(1)).chain(['…']).collect()
    } else {
        line
    };
    format!("\"{cut}\"")
}

/// `sbx inspect`'s document for one container, in docker's shape where the fields match.
/// docker's `Mounts` of a container: its volumes (bind mounts of their data directories in the
/// store at `store_root`) as volumes, the rest as they are. Pure.
pub fn mounts(spec: &ContainerSpec, store_root: &std::path::Path) -> Vec<Value> {
    spec.mounts
        .iter()
        .map(|m| {
            let volume = crate::volume::name_of(store_root, &m.source).filter(|_| m.kind == MountKind::Bind);
            let kind = match (&volume, m.kind) {
                (Some(_), _) => "volume",
                (None, MountKind::Bind) => "bind",
                (None, MountKind::Tmpfs) => "tmpfs",
            };
            let mut doc = json!({
                "Type": kind,
                "Source": m.source,
                "Destination": m.destination,
                "Mode": "",
                "RW": !m.read_only,
                "Propagation": if kind == "bind" { "rprivate" } else { "" },
            });
            if let Some(name) = volume {
                doc["Name"] = json!(name);
                doc["Driver"] = json!("local");
            }
            doc
        })
        .collect()
}

/// docker's PORTS column: `127.0.0.1:8080->80/tcp, 0.0.0.0:32768->53/udp`. Pure.
pub fn ports_text(ports: &[crate::spec::PublishedPort]) -> String {
    let one = |p: &crate::spec::PublishedPort| {
        let ip = if p.host_ip.is_empty() { "0.0.0.0" } else { p.host_ip.as_str() };
        format!("{ip}:{}->{}", p.host_port, p.key())
    };
    ports.iter().map(one).collect::<Vec<_>>().join(", ")
}

/// docker's HostConfig.NetworkMode: host, none, or the (first) network's name.
pub(super) fn network_mode(spec: &ContainerSpec) -> String {
    match spec.network {
        crate::spec::Network::Host => "host".into(),
        crate::spec::Network::None => "none".into(),
        crate::spec::Network::Slirp4netns => "slirp4netns".into(),
        crate::spec::Network::Bridge => spec.networks.first().map(|n| n.name.clone()).unwrap_or_default(),
    }
}

/// docker's NetworkSettings, from the endpoints of a running container.
fn network_settings(spec: Option<&ContainerSpec>, dir: &str) -> Value {
    let endpoints = super::network::endpoints(std::path::Path::new(dir));
    let networks: serde_json::Map<String, Value> = spec
        .map(|s| s.networks.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|on| {
            let e = endpoints.iter().find(|e| e.network == on.name);
            let doc = json!({
                "Aliases": on.aliases,
                "NetworkID": e.map(|e| e.network_id.clone()).unwrap_or_default(),
                "Gateway": e.and_then(|e| e.gateway).map(|g| g.to_string()).unwrap_or_default(),
                "IPAddress": e.map(|e| e.address.to_string()).unwrap_or_default(),
                "IPPrefixLen": e.map_or(0, |e| e.prefix),
            });
            (on.name.clone(), doc)
        })
        .collect();
    let first = endpoints.first();
    let mut ports = serde_json::Map::new();
    for p in first.map(|e| e.ports.as_slice()).unwrap_or_default() {
        let ip = if p.host_ip.is_empty() { "0.0.0.0" } else { p.host_ip.as_str() };
        let binding = json!({ "HostIp": ip, "HostPort": p.host_port.to_string() });
        match ports.get_mut(&p.key()).and_then(Value::as_array_mut) {
            Some(list) => list.push(binding),
            None => drop(ports.insert(p.key(), json!([binding]))),
        }
    }
    json!({
        "Ports": ports,
        "IPAddress": first.map(|e| e.address.to_string()).unwrap_or_default(),
        "IPPrefixLen": first.map_or(0, |e| e.prefix),
        "Gateway": first.and_then(|e| e.gateway).map(|g| g.to_string()).unwrap_or_default(),
        "Networks": networks,
    })
}

pub fn inspect(
    r: &ContainerRecord,
    spec: Option<&ContainerSpec>,
    live: Live,
    dir: &str,
    store_root: &std::path::Path,
    health: Option<&Health>,
) -> Value {
    let running = live.running();
    json!({
        "Id": r.id,
        "Name": r.name,
        "Created": r.created,
        "Path": r.command.first(),
        "Args": r.command.get(1..).unwrap_or_default(),
        "State": {
            "Status": state_word(r, live),
            "Running": running,
            "Paused": live == Live::Paused,
            "Restarting": r.restarting && live == Live::Stopped,
            "Dead": r.status == Status::Running && !running,
            "Pid": if running { r.pid.unwrap_or(0) } else { 0 },
            "ExitCode": r.exit_code.unwrap_or(0),
            "OOMKilled": r.oom_killed,
            "StartedAt": r.started,
            "FinishedAt": r.finished,
            "Health": health,
        },
        "Image": r.image_id.to_string(),
        "ImageName": r.image,
        "Layers": r.layers.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "Spec": spec,
        "RestartCount": r.restart_count,
        "HostConfig": {
            "AutoRemove": r.auto_remove,
            "RestartPolicy": spec.map(|s| {
                let (name, retries) = s.restart.docker();
                json!({ "Name": name, "MaximumRetryCount": retries })
            }),
            "Init": spec.is_some_and(|s| s.init),
            "ReadonlyRootfs": spec.is_some_and(|s| s.read_only_rootfs),
            // podman's words: "default" for a cgroup of its own.
            "Cgroups": match spec.is_none_or(|s| s.cgroups.is_enabled()) {
                true => "default",
                false => "disabled",
            },
            "NetworkMode": spec.map(network_mode),
            "ExtraHosts": spec.map(|s| s.extra_hosts.clone()),
            "Dns": spec.map(|s| s.dns.clone()),
            "DnsSearch": spec.map(|s| s.dns_search.clone()),
            "DnsOptions": spec.map(|s| s.dns_options.clone()),
            // docker's resource fields: 0 (or "") for no limit.
            "Memory": spec.and_then(|s| s.limits.memory_bytes).unwrap_or(0),
            "MemorySwap": spec.and_then(|s| s.limits.memory_swap).unwrap_or(0),
            "NanoCpus": spec.and_then(|s| s.limits.cpu_millis).unwrap_or(0) * 1_000_000,
            "CpuShares": spec.and_then(|s| s.limits.cpu_shares).unwrap_or(0),
            "CpusetCpus": spec.and_then(|s| s.limits.cpuset_cpus.clone()).unwrap_or_default(),
            "PidsLimit": spec.and_then(|s| s.limits.pids),
            // docker's words: the default IPC mode is "private" (or the daemon's shareable), the
            // default PID mode "".
            "IpcMode": spec.map(|s| s.ipc.mode("private")),
            "PidMode": spec.map(|s| s.pid.mode("")),
            "Sysctls": spec.map(|s| s.sysctls.clone()),
            "UsernsMode": if r.idmap.is_some() { "auto" } else { "host" },
            "IDMappings": r.idmap.map(|m| serde_json::json!({
                "UidMap": [format!("0:{}:{}", m.uid, m.size)],
                "GidMap": [format!("0:{}:{}", m.gid, m.size)],
            })),
        },
        "Config": spec.map(|s| json!({
            "Hostname": s.hostname,
            "User": s.user,
            "Tty": s.terminal,
            "OpenStdin": r.open_stdin,
            "Env": s.env,
            "Cmd": s.args,
            "Image": r.image,
            "WorkingDir": s.cwd,
            "Entrypoint": Value::Null,
            "Labels": s.labels,
            "Healthcheck": s.healthcheck.as_ref().map(|h| json!({
                "Test": h.test,
                "Interval": h.interval_ns,
                "Timeout": h.timeout_ns,
                "StartPeriod": h.start_period_ns,
                "Retries": h.retries,
            })),
        })),
        "NetworkSettings": network_settings(spec, dir),
        "HostsPath": format!("{dir}/hosts"),
        "HostnamePath": format!("{dir}/hostname"),
        "ResolvConfPath": format!("{dir}/resolv.conf"),
        "Mounts": spec.map(|s| mounts(s, store_root)).unwrap_or_default(),
        "GraphDriver": {
            "Name": "overlay",
            "Data": { "UpperDir": format!("{dir}/upper"), "WorkDir": format!("{dir}/work") },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::Digest;

    fn record(status: Status) -> ContainerRecord {
        ContainerRecord {
            id: "0".repeat(64),
            name: "n".into(),
            image: "busybox".into(),
            image_id: Digest::of(b"x"),
            layers: vec![],
            command: vec!["sh".into(), "-c".into(), "echo hello world".into()],
            created: "2026-01-01T00:00:00Z".into(),
            status,
            pid: Some(42),
            exit_code: Some(3),
            oom_killed: false,
            started: Some("2026-01-01T00:00:00Z".into()),
            finished: Some("2026-01-01T00:01:00Z".into()),
            auto_remove: false,
            open_stdin: false,
            idmap: None,
            restart_count: 0,
            restarting: false,
        }
    }

    #[test]
    fn statuses_read_as_dockers() {
        let start = time::parse_rfc3339("2026-01-01T00:00:00Z").unwrap();
        assert_eq!(status(&record(Status::Running), Live::Running, start + 180, None), "Up 3 minutes");
        assert_eq!(status(&record(Status::Running), Live::Paused, start + 5, None), "Up 5 seconds (Paused)");
        assert_eq!(status(&record(Status::Exited), Live::Stopped, start + 62, None), "Exited (3) 2 seconds ago");
        assert_eq!(status(&record(Status::Created), Live::Stopped, start, None), "Created");
        assert_eq!(status(&record(Status::Running), Live::Stopped, start, None), "Dead", "its sbx is gone");
    }

    #[test]
    fn commands_are_quoted_and_cut() {
        assert_eq!(command(&record(Status::Created).command, 40), "\"sh -c echo hello world\"");
        assert_eq!(command(&record(Status::Created).command, 8), "\"sh -c e…\"");
    }

    #[test]
    fn inspect_has_state_and_the_writable_layer() {
        let v = inspect(&record(Status::Exited), None, Live::Stopped, "/s/c", std::path::Path::new("/s"), None);
        assert_eq!(v["State"]["Status"], "exited");
        assert_eq!(v["State"]["ExitCode"], 3);
        assert_eq!(v["State"]["Pid"], 0);
        assert_eq!(v["GraphDriver"]["Data"]["UpperDir"], "/s/c/upper");
        assert_eq!(v["Path"], "sh");
    }
}
