//! Which adjustments weaken a container's isolation. They are measured against the spec as the
//! user asked for it (the image, the command line and sbx's defaults, before any plugin changed
//! it), so no order of plugins can turn a loosening into something that looks like a no-op. Pure.

use super::bindings::{Adjustment, MountKind as WitMountKind, Network as WitNetwork, Seccomp, Userns as WitUserns};
use crate::config::Weakening;
use crate::spec::caps;
use crate::spec::security;
use crate::spec::{ContainerSpec, MountKind, Network, Userns};

/// What the weakening is measured against.
pub struct Asked<'a> {
    /// The spec before any plugin.
    pub spec: &'a ContainerSpec,
    /// Its user's uid as sbx applies it.
    pub uid: u32,
}

/// The part of the isolation `a` weakens, if any. `uid_of` resolves a user as sbx will apply it;
/// `own_hard` is sbx's own hard limit of an rlimit (which a container cannot go above without one
/// being asked for).
pub fn weakening(
    asked: &Asked,
    a: &Adjustment,
    uid_of: &dyn Fn(&str) -> Option<u32>,
    own_hard: &dyn Fn(&str) -> Option<u64>,
) -> Option<Weakening> {
    let s = asked.spec;
    let weakens = match a {
        Adjustment::AddCapability(c) => {
            let c = caps::canonical(c).ok()?;
            return (!s.capabilities.iter().any(|x| x == c)).then_some(Weakening::Capabilities);
        }
        Adjustment::SetSeccomp(Seccomp::Default) => false,
        Adjustment::SetSeccomp(Seccomp::Unconfined) => s.seccomp != security::Seccomp::Unconfined,
        Adjustment::SetSeccomp(Seccomp::Profile(text)) => match &s.seccomp {
            security::Seccomp::Unconfined => false,
            security::Seccomp::Default => true,
            security::Seccomp::Profile(p) => serde_json::to_string(p).ok().as_deref() != Some(text.as_str()),
        },
        Adjustment::SetNoNewPrivileges(on) => !on && s.no_new_privileges,
        Adjustment::SetNetwork(WitNetwork::Host) => s.network != Network::Host,
        Adjustment::SetNetwork(WitNetwork::Bridge | WitNetwork::Slirp4netns) => s.network == Network::None,
        Adjustment::SetPortHostIp((key, ip)) if ip.is_empty() || ip == "0.0.0.0" => {
            s.ports.iter().any(|p| p.key() == *key && !p.host_ip.is_empty())
        }
        Adjustment::AddMount(m) if m.kind == WitMountKind::Bind => {
            let destination = m.destination.trim_end_matches('/');
            !s.mounts.iter().any(|x| {
                x.kind == MountKind::Bind
                    && x.source == m.source
                    && x.destination == destination
                    && (m.read_only || !x.read_only)
            })
        }
        Adjustment::SetReadOnlyRootfs(read_only) => !read_only && s.read_only_rootfs,
        Adjustment::SetUser(u) => asked.uid != 0 && uid_of(u) == Some(0),
        Adjustment::SetUserns(WitUserns::Host) => s.userns == Userns::Auto,
        Adjustment::SetUlimit(u) => match s.ulimits.iter().find(|x| x.name == u.name) {
            Some(x) => u.soft > x.soft || u.hard > x.hard,
            None => own_hard(&u.name).is_some_and(|hard| u.hard > hard),
        },
        Adjustment::SetLimits(l) => {
            let was = &s.limits;
            let raised = |new: Option<u64>, old: Option<u64>| matches!((new, old), (Some(n), Some(o)) if n > o);
            let swap = match (l.memory_swap, was.memory_swap) {
                (Some(n), Some(o)) => o != -1 && (n == -1 || n > o),
                (Some(-1), None) => was.memory_bytes.is_some(),
                _ => false,
            };
            raised(l.memory_bytes, was.memory_bytes)
                || raised(l.pids, was.pids)
                || raised(l.cpu_millis, was.cpu_millis)
                || swap
        }
        _ => false,
    };
    weakens.then(|| part(a))
}

fn part(a: &Adjustment) -> Weakening {
    match a {
        Adjustment::AddCapability(_) => Weakening::Capabilities,
        Adjustment::SetSeccomp(_) => Weakening::Seccomp,
        Adjustment::SetNoNewPrivileges(_) => Weakening::NoNewPrivileges,
        Adjustment::SetNetwork(_) | Adjustment::SetPortHostIp(_) => Weakening::Network,
        Adjustment::SetReadOnlyRootfs(_) => Weakening::Rootfs,
        Adjustment::SetUser(_) => Weakening::User,
        Adjustment::SetUserns(_) => Weakening::Userns,
        Adjustment::SetUlimit(_) => Weakening::Ulimits,
        Adjustment::SetLimits(_) => Weakening::Limits,
        _ => Weakening::Mounts,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::bindings::{Limits as WitLimits, Mount as WitMount, Ulimit as WitUlimit};
    use crate::spec::{Limits, Mount, Overrides, build};

    fn asked(o: Overrides) -> ContainerSpec {
        build("img", None, &Overrides { cmd: vec!["sh".into()], ..o }, "h", |_| None).unwrap()
    }

    fn check(spec: &ContainerSpec, uid: u32, a: Adjustment) -> Option<Weakening> {
        let uid_of = |u: &str| if u == "root" || u == "0" { Some(0) } else { Some(1000) };
        weakening(&Asked { spec, uid }, &a, &uid_of, &|_| Some(1024))
    }

    fn bind(source: &str, read_only: bool) -> Adjustment {
        Adjustment::AddMount(WitMount {
            kind: WitMountKind::Bind,
            source: source.into(),
            destination: "/d".into(),
            read_only,
        })
    }

    fn limits(memory: Option<u64>, swap: Option<i64>) -> Adjustment {
        Adjustment::SetLimits(WitLimits {
            memory_bytes: memory,
            pids: None,
            cpu_millis: None,
            memory_swap: swap,
            cpu_shares: None,
            cpuset_cpus: None,
        })
    }

    #[test]
    fn loosening_what_was_asked_is_a_weakening() {
        let d = asked(Overrides::default());
        assert_eq!(check(&d, 0, Adjustment::AddCapability("sys_admin".into())), Some(Weakening::Capabilities));
        assert_eq!(check(&d, 0, Adjustment::AddCapability("CAP_CHOWN".into())), None, "it has it already");
        assert_eq!(check(&d, 0, Adjustment::SetSeccomp(Seccomp::Unconfined)), Some(Weakening::Seccomp));
        assert_eq!(check(&d, 0, Adjustment::SetSeccomp(Seccomp::Profile("{}".into()))), Some(Weakening::Seccomp));
        assert_eq!(check(&d, 0, Adjustment::SetSeccomp(Seccomp::Default)), None);
        assert_eq!(check(&d, 0, Adjustment::SetNoNewPrivileges(false)), Some(Weakening::NoNewPrivileges));
        assert_eq!(check(&d, 0, Adjustment::SetNoNewPrivileges(true)), None);
        assert_eq!(check(&d, 0, Adjustment::SetNetwork(WitNetwork::Host)), Some(Weakening::Network));
        assert_eq!(check(&d, 0, Adjustment::SetNetwork(WitNetwork::Bridge)), Some(Weakening::Network));
        assert_eq!(check(&d, 0, bind("/", false)), Some(Weakening::Mounts));
        let tmpfs =
            WitMount { kind: WitMountKind::Tmpfs, source: String::new(), destination: "/t".into(), read_only: false };
        assert_eq!(check(&d, 0, Adjustment::AddMount(tmpfs)), None);
        assert_eq!(check(&d, 1000, Adjustment::SetUser("root".into())), Some(Weakening::User));
        assert_eq!(check(&d, 1000, Adjustment::SetUser("bob".into())), None);
        assert_eq!(check(&d, 0, Adjustment::SetUser("0".into())), None, "it was root already");
        let ulimit = |soft, hard| Adjustment::SetUlimit(WitUlimit { name: "nofile".into(), soft, hard });
        assert_eq!(check(&d, 0, ulimit(100, 2048)), Some(Weakening::Ulimits), "above sbx's own hard limit");
        assert_eq!(check(&d, 0, ulimit(100, 1000)), None);
        assert_eq!(check(&d, 0, limits(Some(1 << 30), None)), None, "a limit where there was none");
    }

    #[test]
    fn against_the_users_own_flags() {
        let mut o = Overrides { read_only: true, userns: Userns::Auto, ..Default::default() };
        o.limits = Limits { memory_bytes: Some(64 << 20), memory_swap: Some(128 << 20), ..Default::default() };
        o.volumes = vec!["/srv:/d:ro".into()];
        let s = asked(o);
        assert_eq!(check(&s, 0, Adjustment::SetReadOnlyRootfs(false)), Some(Weakening::Rootfs));
        assert_eq!(check(&s, 0, Adjustment::SetUserns(WitUserns::Host)), Some(Weakening::Userns));
        assert_eq!(check(&s, 0, limits(Some(1 << 30), None)), Some(Weakening::Limits));
        assert_eq!(check(&s, 0, limits(Some(32 << 20), None)), None);
        assert_eq!(check(&s, 0, limits(None, Some(-1))), Some(Weakening::Limits), "unlimited swap");
        assert_eq!(check(&s, 0, bind("/srv", true)), None, "the user's own bind");
        assert_eq!(check(&s, 0, bind("/srv", false)), Some(Weakening::Mounts), "made writable");
        let same = Mount {
            kind: MountKind::Bind,
            source: "/srv".into(),
            destination: "/d".into(),
            read_only: true,
            options: Vec::new(),
        };
        assert_eq!(s.mounts, [same]);
    }
}
