//! Applying the adjustments spec policies ask for, in plugin order. Two plugins that want opposite
//! things of the same part of the spec (an env var set to two values, a capability added and
//! dropped, two users) are a conflict naming both; a plugin may change its own mind. The work is
//! linear in the number of adjustments (at most [`MAX_ADJUSTMENTS`] a plugin), whatever a plugin
//! sends. Pure.

use super::bindings::{
    Adjustment, Limits as WitLimits, MountKind as WitMountKind, Network as WitNetwork, Seccomp, Userns as WitUserns,
};
use crate::spec::caps;
use crate::spec::seccomp::Profile;
use crate::spec::security::{self, SecurityError, Ulimit};
use crate::spec::{self, ContainerSpec, Mount, MountKind, Network, SpecError, Userns};

/// The most adjustments one plugin may ask for in one call.
pub const MAX_ADJUSTMENTS: usize = 1024;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AdjustError {
    #[error("policy {plugin} asked for {count} changes; a policy may ask for at most {MAX_ADJUSTMENTS}")]
    TooMany { plugin: String, count: usize },
    #[error(
        "policies {first} and {second} contradict each other: {first} asks to {first_change}, {second} asks to {second_change}; change the settings or the order of one of them"
    )]
    Conflict { first: String, first_change: String, second: String, second_change: String },
    #[error("policy {plugin} asked for an invalid change ({change}): {error}")]
    Invalid { plugin: String, change: String, error: SpecError },
    #[error("the changes of policy {plugin} leave a spec that is not valid: {error}")]
    Result { plugin: String, error: SpecError },
}

/// How `sbx policy test` and the notes show an adjustment: its words made safe to show.
pub fn describe(a: &Adjustment) -> String {
    super::output::text(&words(a), 300)
}

fn words(a: &Adjustment) -> String {
    match a {
        Adjustment::SetEnv((k, v)) => format!("set env {k}={v}"),
        Adjustment::UnsetEnv(k) => format!("unset env {k}"),
        Adjustment::AddMount(m) => {
            let ro = if m.read_only { " read-only" } else { "" };
            match m.kind {
                WitMountKind::Bind => format!("bind-mount {} at {}{ro}", m.source, m.destination),
                WitMountKind::Tmpfs => format!("mount a tmpfs at {}{ro}", m.destination),
            }
        }
        Adjustment::RemoveMount(d) => format!("remove the mount at {d}"),
        Adjustment::AddCapability(c) => format!("add capability {c}"),
        Adjustment::DropCapability(c) => format!("drop capability {c}"),
        Adjustment::SetLimits(l) => {
            let parts: Vec<String> = limit_claims(l).into_iter().map(|(_, v)| v).collect();
            format!("set limits {}", parts.join(", "))
        }
        Adjustment::SetReadOnlyRootfs(b) => {
            format!("make the root filesystem {}", if *b { "read-only" } else { "writable" })
        }
        Adjustment::MaskPath(p) => format!("mask {p}"),
        Adjustment::ReadOnlyPath(p) => format!("make {p} read-only"),
        Adjustment::SetUser(u) => format!("run as user {u}"),
        Adjustment::SetHostname(h) => format!("set hostname {h}"),
        Adjustment::AddAnnotation((k, v)) => format!("annotate {k}={v}"),
        Adjustment::SetNoNewPrivileges(b) => format!("turn no_new_privs {}", if *b { "on" } else { "off" }),
        Adjustment::SetSeccomp(Seccomp::Default) => "use the default seccomp profile".into(),
        Adjustment::SetSeccomp(Seccomp::Unconfined) => "run without a seccomp filter".into(),
        Adjustment::SetSeccomp(Seccomp::Profile(_)) => "use a seccomp profile of its own".into(),
        Adjustment::RemoveDevice(p) => format!("remove device {p}"),
        Adjustment::SetUlimit(u) => format!("set ulimit {}={}:{}", u.name, u.soft, u.hard),
        Adjustment::SetNetwork(WitNetwork::None) => "use network none".into(),
        Adjustment::SetNetwork(WitNetwork::Host) => "use the host's network".into(),
        Adjustment::SetNetwork(WitNetwork::Bridge) => "use a bridge network".into(),
        Adjustment::SetNetwork(WitNetwork::Slirp4netns) => "use slirp4netns".into(),
        Adjustment::SetUserns(WitUserns::Host) => "use the host's user ids".into(),
        Adjustment::SetUserns(WitUserns::Auto) => "use a user namespace of its own".into(),
        Adjustment::UnpublishPort(key) => format!("not publish port {key}"),
        Adjustment::SetPortHostIp((key, ip)) if ip.is_empty() => format!("publish port {key} on every host address"),
        Adjustment::SetPortHostIp((key, ip)) => format!("publish port {key} on {ip}"),
    }
}

fn limit_claims(l: &WitLimits) -> Vec<(String, String)> {
    let numbers = [("memory", l.memory_bytes), ("pids", l.pids), ("cpu", l.cpu_millis), ("cpu-shares", l.cpu_shares)];
    let mut claims: Vec<(&str, String)> =
        numbers.into_iter().filter_map(|(name, v)| v.map(|v| (name, v.to_string()))).collect();
    claims.extend(l.memory_swap.map(|v| ("memory-swap", v.to_string())));
    claims.extend(l.cpuset_cpus.clone().map(|v| ("cpuset-cpus", v)));
    claims.into_iter().map(|(name, v)| (format!("limit {name}"), format!("{name}={v}"))).collect()
}

/// The parts of the spec an adjustment decides, each with the outcome it wants. Masking and
/// read-only paths only ever add protection, so they claim nothing.
fn claims(a: &Adjustment) -> Vec<(String, String)> {
    let cap = |c: &str| caps::canonical(c).map_or_else(|_| c.to_string(), str::to_string);
    let one = |key: String| vec![(key, words(a))];
    match a {
        Adjustment::SetEnv((k, _)) | Adjustment::UnsetEnv(k) => one(format!("env {k}")),
        Adjustment::AddMount(m) => one(format!("mount {}", m.destination.trim_end_matches('/'))),
        Adjustment::RemoveMount(d) => one(format!("mount {}", d.trim_end_matches('/'))),
        Adjustment::AddCapability(c) | Adjustment::DropCapability(c) => one(format!("capability {}", cap(c))),
        Adjustment::SetLimits(l) => limit_claims(l),
        Adjustment::SetReadOnlyRootfs(_) => one("rootfs".into()),
        Adjustment::SetUser(_) => one("user".into()),
        Adjustment::SetHostname(_) => one("hostname".into()),
        Adjustment::AddAnnotation((k, _)) => one(format!("annotation {k}")),
        Adjustment::SetNoNewPrivileges(_) => one("no-new-privileges".into()),
        Adjustment::SetSeccomp(_) => one("seccomp".into()),
        Adjustment::RemoveDevice(p) => one(format!("device {p}")),
        Adjustment::SetUlimit(u) => one(format!("ulimit {}", u.name)),
        Adjustment::SetNetwork(_) => one("network".into()),
        Adjustment::SetUserns(_) => one("userns".into()),
        Adjustment::UnpublishPort(key) | Adjustment::SetPortHostIp((key, _)) => one(format!("port {key}")),
        Adjustment::MaskPath(_) | Adjustment::ReadOnlyPath(_) => vec![],
    }
}

/// Env changes of one batch, applied together at its end: (key, value or None to unset).
type EnvChanges = Vec<(String, Option<String>)>;

/// Applies `changes` to `env` as one set_env or unset per change in order would, in one pass.
fn apply_env(env: &mut Vec<String>, changes: EnvChanges) {
    if changes.is_empty() {
        return;
    }
    let last: std::collections::HashMap<&str, usize> =
        changes.iter().enumerate().map(|(i, (k, _))| (k.as_str(), i)).collect();
    env.retain(|e| !last.contains_key(e.split_once('=').map_or(e.as_str(), |(k, _)| k)));
    for (i, (k, v)) in changes.iter().enumerate() {
        if let (Some(v), true) = (v, last[k.as_str()] == i) {
            env.push(format!("{k}={v}"));
        }
    }
}

fn apply_one(spec: &mut ContainerSpec, env: &mut EnvChanges, a: &Adjustment) -> Result<(), SpecError> {
    let push_unique = |list: &mut Vec<String>, p: &str| {
        if !list.iter().any(|x| x == p) {
            list.push(p.to_string());
        }
    };
    match a {
        Adjustment::SetEnv((k, v)) => {
            if k.is_empty() || k.contains(['=', '\0']) || v.contains('\0') {
                return Err(SpecError::BadEnv(format!("{k}={v}")));
            }
            env.push((k.clone(), Some(v.clone())));
        }
        Adjustment::UnsetEnv(k) => env.push((k.clone(), None)),
        Adjustment::AddMount(m) => {
            let destination = spec::check_destination(&m.destination)?;
            spec.mounts.retain(|x| x.destination != destination);
            let kind = match m.kind {
                WitMountKind::Bind => MountKind::Bind,
                WitMountKind::Tmpfs => MountKind::Tmpfs,
            };
            spec.mounts.push(Mount {
                kind,
                source: m.source.clone(),
                destination,
                read_only: m.read_only,
                options: Vec::new(),
            });
        }
        Adjustment::RemoveMount(d) => spec.mounts.retain(|m| m.destination != d.trim_end_matches('/')),
        Adjustment::AddCapability(c) => {
            let c = caps::canonical(c)?;
            push_unique(&mut spec.capabilities, c);
            spec.capabilities = caps::NAMES
                .iter()
                .filter(|n| spec.capabilities.iter().any(|x| x == *n))
                .map(|n| n.to_string())
                .collect();
        }
        Adjustment::DropCapability(c) => {
            let c = caps::canonical(c)?;
            spec.capabilities.retain(|x| x != c);
        }
        Adjustment::SetLimits(l) => {
            let lim = &mut spec.limits;
            lim.memory_bytes = l.memory_bytes.or(lim.memory_bytes);
            lim.pids = l.pids.or(lim.pids);
            lim.cpu_millis = l.cpu_millis.or(lim.cpu_millis);
            lim.memory_swap = l.memory_swap.or(lim.memory_swap);
            lim.cpu_shares = l.cpu_shares.or(lim.cpu_shares);
            lim.cpuset_cpus = l.cpuset_cpus.clone().or(lim.cpuset_cpus.take());
        }
        Adjustment::SetNoNewPrivileges(b) => spec.no_new_privileges = *b,
        Adjustment::SetSeccomp(s) => {
            spec.seccomp = match s {
                Seccomp::Default => security::Seccomp::Default,
                Seccomp::Unconfined => security::Seccomp::Unconfined,
                Seccomp::Profile(text) => {
                    let profile = Profile::parse(text, "from the policy").map_err(|e| SecurityError::Profile {
                        path: "from the policy".into(),
                        message: e.to_string(),
                    })?;
                    security::Seccomp::Profile(Box::new(profile))
                }
            }
        }
        Adjustment::RemoveDevice(p) => spec.devices.retain(|d| d.container_path != *p),
        Adjustment::SetUlimit(u) => {
            let ulimit = Ulimit { name: u.name.clone(), soft: u.soft, hard: u.hard };
            if security::resource_of(&u.name).is_none() || u.soft > u.hard {
                return Err(SecurityError::BadUlimit(format!("{}={}:{}", u.name, u.soft, u.hard)).into());
            }
            spec.ulimits.retain(|x| x.name != u.name);
            spec.ulimits.push(ulimit);
        }
        Adjustment::SetNetwork(n) => {
            spec.network = match n {
                WitNetwork::None => Network::None,
                WitNetwork::Host => Network::Host,
                WitNetwork::Bridge => Network::Bridge,
                WitNetwork::Slirp4netns => Network::Slirp4netns,
            };
            match spec.network {
                // On the default network unless it is on others already.
                Network::Bridge if spec.networks.is_empty() => spec
                    .networks
                    .push(spec::NetworkAttachment { name: crate::network::DEFAULT.to_string(), aliases: Vec::new() }),
                Network::Bridge => {}
                _ => spec.networks.clear(),
            }
            spec.namespaces.retain(|ns| ns != "network");
            if spec.network.is_own() {
                spec.namespaces.push("network".into());
            }
        }
        Adjustment::UnpublishPort(key) => spec.ports.retain(|p| p.key() != *key),
        Adjustment::SetPortHostIp((key, ip)) => {
            let ip = match ip.as_str() {
                "" | "0.0.0.0" => String::new(),
                ip => ip.parse::<std::net::Ipv4Addr>().map_err(|_| SpecError::BadPortHostIp(ip.into()))?.to_string(),
            };
            spec.ports.iter_mut().filter(|p| p.key() == *key).for_each(|p| p.host_ip = ip.clone());
        }
        Adjustment::SetUserns(u) => {
            spec.userns = match u {
                WitUserns::Host => Userns::Host,
                WitUserns::Auto => Userns::Auto,
            };
            spec.namespaces.retain(|ns| ns != "user");
            if spec.userns == Userns::Auto {
                spec.namespaces.push("user".into());
            }
        }
        Adjustment::SetReadOnlyRootfs(b) => spec.read_only_rootfs = *b,
        Adjustment::MaskPath(p) => push_unique(&mut spec.masked_paths, p),
        Adjustment::ReadOnlyPath(p) => push_unique(&mut spec.read_only_paths, p),
        Adjustment::SetUser(u) => spec.user = u.clone(),
        Adjustment::SetHostname(h) => {
            if h.is_empty() || h.len() > 64 || h.contains(['/', '\0']) {
                return Err(SpecError::BadPath(format!("hostname {h}")));
            }
            env.push(("HOSTNAME".into(), Some(h.clone())));
            spec.hostname = h.clone();
        }
        Adjustment::AddAnnotation((k, v)) => {
            spec.annotations.insert(k.clone(), v.clone());
        }
    }
    Ok(())
}

/// Who asked for what so far: part of the spec -> (plugin, change).
#[derive(Debug, Default)]
pub struct Claims(std::collections::HashMap<String, (String, String)>);

/// Applies `plugin`'s adjustments to `spec` in order, refusing a contradiction with an earlier
/// plugin's (recorded in `claims`), an invalid change, and changes that together leave an
/// invalid spec.
pub fn apply(
    spec: &mut ContainerSpec,
    claims: &mut Claims,
    plugin: &str,
    adjustments: &[Adjustment],
) -> Result<(), AdjustError> {
    if adjustments.len() > MAX_ADJUSTMENTS {
        return Err(AdjustError::TooMany { plugin: plugin.to_string(), count: adjustments.len() });
    }
    let mut env = EnvChanges::new();
    for a in adjustments {
        for (key, change) in self::claims(a) {
            match claims.0.get(&key) {
                Some((first, first_change)) if first != plugin && *first_change != change => {
                    return Err(AdjustError::Conflict {
                        first: first.clone(),
                        first_change: first_change.clone(),
                        second: plugin.to_string(),
                        second_change: change,
                    });
                }
                _ => {
                    claims.0.insert(key, (plugin.to_string(), change));
                }
            }
        }
        let invalid = |error| AdjustError::Invalid { plugin: plugin.to_string(), change: describe(a), error };
        apply_one(spec, &mut env, a).map_err(invalid)?;
    }
    apply_env(&mut spec.env, env);
    spec::validate(spec).map_err(|error| AdjustError::Result { plugin: plugin.to_string(), error })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::bindings::Mount as WitMount;
    use crate::spec::{Overrides, build};

    fn spec() -> ContainerSpec {
        let o = Overrides { cmd: vec!["sh".into()], ..Default::default() };
        build("img", None, &o, "h", |_| None).unwrap()
    }

    fn by(plugin: &str, a: Vec<Adjustment>) -> (String, Vec<Adjustment>) {
        (plugin.to_string(), a)
    }

    fn apply_all(spec: &mut ContainerSpec, all: &[(String, Vec<Adjustment>)]) -> Result<(), AdjustError> {
        let mut claims = Claims::default();
        all.iter().try_for_each(|(p, a)| apply(spec, &mut claims, p, a))
    }

    fn env(k: &str, v: &str) -> Adjustment {
        Adjustment::SetEnv((k.into(), v.into()))
    }

    #[test]
    fn adjustments_apply_in_order() {
        let mut s = spec();
        let tmp = WitMount {
            kind: WitMountKind::Tmpfs,
            source: String::new(),
            destination: "/run/".into(),
            read_only: false,
        };
        apply_all(
            &mut s,
            &[
                by("a", vec![env("A", "1"), Adjustment::DropCapability("net_raw".into()), Adjustment::AddMount(tmp)]),
                by(
                    "b",
                    vec![
                        Adjustment::SetReadOnlyRootfs(true),
                        Adjustment::SetLimits(WitLimits {
                            memory_bytes: Some(1 << 20),
                            pids: None,
                            cpu_millis: None,
                            memory_swap: None,
                            cpu_shares: None,
                            cpuset_cpus: None,
                        }),
                    ],
                ),
                by(
                    "c",
                    vec![
                        Adjustment::MaskPath("/etc/secret".into()),
                        Adjustment::SetUser("1000".into()),
                        Adjustment::SetHostname("box".into()),
                    ],
                ),
            ],
        )
        .unwrap();
        assert_eq!(spec::get_env(&s.env, "A"), Some("1"));
        assert_eq!(spec::get_env(&s.env, "HOSTNAME"), Some("box"));
        assert!(!s.capabilities.contains(&"CAP_NET_RAW".to_string()));
        assert_eq!(s.mounts[0].destination, "/run");
        assert!(s.read_only_rootfs);
        assert_eq!(s.limits.memory_bytes, Some(1 << 20));
        assert!(s.masked_paths.contains(&"/etc/secret".to_string()));
        assert_eq!((s.user.as_str(), s.hostname.as_str()), ("1000", "box"));
    }

    #[test]
    fn a_policy_may_move_a_container_into_a_user_namespace() {
        let mut s = spec();
        apply_all(&mut s, &[by("a", vec![Adjustment::SetUserns(WitUserns::Auto)])]).unwrap();
        assert_eq!((s.userns, s.namespaces.contains(&"user".to_string())), (Userns::Auto, true));
        apply_all(&mut s, &[by("a", vec![Adjustment::SetUserns(WitUserns::Host)])]).unwrap();
        assert_eq!((s.userns, s.namespaces.contains(&"user".to_string())), (Userns::Host, false));
        let both = vec![Adjustment::SetUserns(WitUserns::Auto), Adjustment::SetNetwork(WitNetwork::Host)];
        let e = apply_all(&mut spec(), &[by("a", both)]).unwrap_err();
        assert!(matches!(e, AdjustError::Result { .. }), "{e}");
        assert!(e.to_string().contains("cannot be combined with --network host"), "{e}");
    }

    #[test]
    fn a_bridge_network_asked_for_joins_the_default_one_and_leaving_it_drops_its_networks() {
        let mut s = spec();
        apply_all(&mut s, &[by("a", vec![Adjustment::SetNetwork(WitNetwork::Bridge)])]).unwrap();
        assert_eq!((s.network, s.networks[0].name.as_str()), (Network::Bridge, "bridge"));
        assert!(s.namespaces.contains(&"network".to_string()));
        let port = |key: u16| spec::PublishedPort {
            host_ip: "127.0.0.1".into(),
            host_port: 0,
            container_port: key,
            protocol: "tcp".into(),
        };
        s.ports = vec![port(80), port(443)];
        let to_all = Adjustment::SetPortHostIp(("443/tcp".into(), String::new()));
        apply_all(&mut s, &[by("p", vec![Adjustment::UnpublishPort("80/tcp".into()), to_all])]).unwrap();
        assert_eq!(s.ports, vec![spec::PublishedPort { host_ip: String::new(), ..port(443) }]);
        let bad = Adjustment::SetPortHostIp(("443/tcp".into(), "somewhere".into()));
        assert!(apply_all(&mut s, &[by("p", vec![bad])]).unwrap_err().to_string().contains("'somewhere'"));
        apply_all(&mut s, &[by("b", vec![Adjustment::SetNetwork(WitNetwork::None)])]).unwrap_err();
        s.ports.clear();
        apply_all(&mut s, &[by("b", vec![Adjustment::SetNetwork(WitNetwork::None)])]).unwrap();
        assert_eq!((s.network, s.networks.len()), (Network::None, 0));
    }

    #[test]
    fn isolation_options_are_adjusted_checked_and_claimed() {
        let mut s = spec();
        let ulimit = |name: &str, soft, hard| {
            Adjustment::SetUlimit(crate::plugin::bindings::Ulimit { name: name.into(), soft, hard })
        };
        s.no_new_privileges = false;
        apply_all(
            &mut s,
            &[by(
                "a",
                vec![
                    Adjustment::SetNoNewPrivileges(true),
                    Adjustment::SetSeccomp(Seccomp::Profile(r#"{"defaultAction":"SCMP_ACT_ALLOW"}"#.into())),
                    ulimit("nofile", 10, 20),
                    ulimit("nofile", 30, 40),
                    Adjustment::SetNetwork(WitNetwork::Host),
                ],
            )],
        )
        .unwrap();
        assert!(s.no_new_privileges);
        assert!(matches!(&s.seccomp, security::Seccomp::Profile(p) if p.default_action == "SCMP_ACT_ALLOW"));
        assert_eq!(s.ulimits, [Ulimit { name: "nofile".into(), soft: 30, hard: 40 }]);
        assert_eq!((s.network, s.namespaces.contains(&"network".to_string())), (Network::Host, false));
        for bad in [ulimit("files", 1, 1), ulimit("nofile", 2, 1), Adjustment::SetSeccomp(Seccomp::Profile("{".into()))]
        {
            let e = apply_all(&mut spec(), &[by("a", vec![bad])]).unwrap_err();
            assert!(matches!(e, AdjustError::Invalid { .. }), "{e}");
        }
        let e = apply_all(
            &mut spec(),
            &[
                by("a", vec![Adjustment::SetNetwork(WitNetwork::Host)]),
                by("b", vec![Adjustment::SetNetwork(WitNetwork::None)]),
            ],
        )
        .unwrap_err();
        assert!(e.to_string().contains("a asks to use the host's network, b asks to use network none"), "{e}");
    }

    #[test]
    fn contradictions_between_plugins_name_both() {
        let mut s = spec();
        let e = apply_all(&mut s, &[by("a", vec![env("MODE", "x")]), by("b", vec![env("MODE", "y")])]).unwrap_err();
        assert_eq!(
            e,
            AdjustError::Conflict {
                first: "a".into(),
                first_change: "set env MODE=x".into(),
                second: "b".into(),
                second_change: "set env MODE=y".into()
            }
        );
        let e = apply_all(
            &mut spec(),
            &[
                by("a", vec![Adjustment::AddCapability("NET_ADMIN".into())]),
                by("b", vec![Adjustment::DropCapability("CAP_NET_ADMIN".into())]),
            ],
        )
        .unwrap_err();
        assert!(e.to_string().contains("policies a and b contradict each other"), "{e}");
    }

    #[test]
    fn agreeing_plugins_and_a_plugin_changing_its_mind_are_fine() {
        let mut s = spec();
        apply_all(
            &mut s,
            &[
                by("a", vec![env("X", "1"), env("X", "2")]),
                by("b", vec![env("X", "2"), Adjustment::MaskPath("/p".into())]),
                by("c", vec![Adjustment::MaskPath("/p".into())]),
            ],
        )
        .unwrap();
        assert_eq!(spec::get_env(&s.env, "X"), Some("2"));
        assert_eq!(s.masked_paths.iter().filter(|p| *p == "/p").count(), 1);
    }

    #[test]
    fn many_adjustments_take_linear_time_and_too_many_are_refused() {
        let mut s = spec();
        let many: Vec<Adjustment> =
            (0..MAX_ADJUSTMENTS - 2).map(|i| env(&format!("K{}", i % 300), &i.to_string())).collect();
        let start = std::time::Instant::now();
        apply_all(&mut s, &[by("a", many.clone())]).unwrap();
        assert!(start.elapsed() < std::time::Duration::from_secs(1));
        assert_eq!(spec::get_env(&s.env, "K0"), Some("900"), "the last change of a key wins");
        assert_eq!(spec::get_env(&s.env, "K21"), Some("921"));
        assert_eq!(s.env.iter().filter(|e| e.starts_with("K1=")).count(), 1);
        let mut with_unset = many;
        with_unset.push(Adjustment::UnsetEnv("K5".into()));
        with_unset.push(env("Z", "1"));
        apply_all(&mut s, &[by("a", with_unset.clone())]).unwrap();
        assert_eq!((spec::get_env(&s.env, "K5"), s.env.last().map(String::as_str)), (None, Some("Z=1")));
        with_unset.extend((0..MAX_ADJUSTMENTS).map(|_| env("Y", "1")));
        let e = apply_all(&mut spec(), &[by("a", with_unset)]).unwrap_err();
        assert!(matches!(e, AdjustError::TooMany { count, .. } if count > MAX_ADJUSTMENTS), "{e}");
    }

    #[test]
    fn invalid_adjustments_name_the_plugin() {
        let bad_mount =
            WitMount { kind: WitMountKind::Bind, source: "rel".into(), destination: "/d".into(), read_only: false };
        for a in [
            Adjustment::AddCapability("CAP_FLY".into()),
            Adjustment::AddMount(bad_mount),
            Adjustment::MaskPath("relative".into()),
            env("", "x"),
        ] {
            let e = apply_all(&mut spec(), &[by("p", vec![a])]).unwrap_err();
            let named =
                matches!(&e, AdjustError::Invalid { plugin, .. } | AdjustError::Result { plugin, .. } if plugin == "p");
            assert!(named, "{e}");
        }
    }
}
