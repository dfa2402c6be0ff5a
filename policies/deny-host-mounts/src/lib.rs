//! deny-host-mounts: refuses bind mounts of host paths outside an allowlist. Settings:
//! `{"allow": ["/srv/data", "/var/cache/app"]}` (default: none allowed); a listed directory allows
//! everything below it. `{"read_only": true}` also requires allowed binds to be read-only.

use sbx_plugin::{Interests, MountKind, NO_CHECK, Plugin, Policy, Spec, Verdict, deny};
use serde::Deserialize;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub read_only: bool,
}

pub struct DenyHostMounts;

/// Whether `path` is `dir` or below it (by whole components).
pub fn is_within(path: &str, dir: &str) -> bool {
    let dir = dir.trim_end_matches('/');
    path == dir || dir.is_empty() || path.strip_prefix(dir).is_some_and(|rest| rest.starts_with('/'))
}

impl Plugin for DenyHostMounts {
    type Settings = Settings;

    fn validate(s: &Settings) -> Result<(), String> {
        match s.allow.iter().find(|p| !p.starts_with('/') || p.split('/').any(|c| c == "..")) {
            Some(p) => Err(format!("allowed path '{p}' must be absolute and without '..'")),
            None => Ok(()),
        }
    }
}

impl Policy for DenyHostMounts {
    fn wants(_settings: &Settings) -> Interests {
        Interests { validate_spec: true, ..NO_CHECK }
    }

    fn validate_spec(s: &Settings, spec: &Spec) -> Verdict {
        for m in spec.mounts.iter().filter(|m| m.kind == MountKind::Bind) {
            if !s.allow.iter().any(|dir| is_within(&m.source, dir)) {
                return deny(format!("bind mount of host path {} at {} is not allowed", m.source, m.destination));
            }
            if s.read_only && !m.read_only {
                return deny(format!("bind mount of {} at {} must be read-only (add :ro)", m.source, m.destination));
            }
        }
        Verdict::Allow
    }
}

sbx_plugin::export_policy!(DenyHostMounts);

#[cfg(test)]
mod tests {
    use super::*;
    use sbx_plugin::testing::{bind, spec};

    #[test]
    fn within_is_by_component() {
        assert!(is_within("/srv/data/x", "/srv/data") && is_within("/srv/data", "/srv/data/"));
        assert!(!is_within("/srv/database", "/srv/data"));
    }

    #[test]
    fn binds_outside_the_allowlist_are_denied_and_named() {
        let mut s = spec();
        s.mounts.push(bind("/etc", "/host-etc"));
        let settings = Settings { allow: vec!["/srv".into()], read_only: false };
        let v = DenyHostMounts::validate_spec(&settings, &s);
        assert!(matches!(&v, Verdict::Deny(r) if r.contains("/etc at /host-etc")), "{v:?}");
        s.mounts[0] = bind("/srv/a", "/a");
        assert_eq!(DenyHostMounts::validate_spec(&settings, &s), Verdict::Allow);
        let strict = Settings { allow: vec!["/srv".into()], read_only: true };
        assert!(matches!(DenyHostMounts::validate_spec(&strict, &s), Verdict::Deny(_)));
    }
}
