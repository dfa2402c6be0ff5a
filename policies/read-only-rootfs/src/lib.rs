//! read-only-rootfs: every container gets a read-only root filesystem, with tmpfs mounts where it
//! must write. Settings: `{"tmpfs": ["/tmp", "/run"]}` (default: `/tmp`).

use sbx_plugin::{Adjustment, Interests, Mount, MountKind, NO_CHECK, Plugin, Policy, Spec, Verdict, deny};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default = "default_tmpfs")]
    pub tmpfs: Vec<String>,
}

fn default_tmpfs() -> Vec<String> {
    vec!["/tmp".into()]
}

impl Default for Settings {
    fn default() -> Self {
        Settings { tmpfs: default_tmpfs() }
    }
}

pub struct ReadOnlyRootfs;

impl Plugin for ReadOnlyRootfs {
    type Settings = Settings;

    fn validate(s: &Settings) -> Result<(), String> {
        match s.tmpfs.iter().find(|p| !p.starts_with('/') || p.as_str() == "/") {
            Some(p) => Err(format!("tmpfs path '{p}' must be absolute and not /")),
            None => Ok(()),
        }
    }
}

impl Policy for ReadOnlyRootfs {
    fn wants(_settings: &Settings) -> Interests {
        Interests { mutate_spec: true, validate_spec: true, ..NO_CHECK }
    }

    fn mutate_spec(s: &Settings, spec: &Spec) -> Vec<Adjustment> {
        let mut changes = vec![Adjustment::SetReadOnlyRootfs(true)];
        for path in &s.tmpfs {
            // A mount the user asked for at that path wins.
            if !spec.mounts.iter().any(|m| m.destination == *path) {
                let tmpfs = Mount {
                    kind: MountKind::Tmpfs,
                    source: String::new(),
                    destination: path.clone(),
                    read_only: false,
                };
                changes.push(Adjustment::AddMount(tmpfs));
            }
        }
        changes
    }

    fn validate_spec(_: &Settings, spec: &Spec) -> Verdict {
        if spec.read_only_rootfs { Verdict::Allow } else { deny("the root filesystem must be read-only (--read-only)") }
    }
}

sbx_plugin::export_policy!(ReadOnlyRootfs);

#[cfg(test)]
mod tests {
    use super::*;
    use sbx_plugin::testing::{bind, spec};

    #[test]
    fn makes_the_root_read_only_with_a_writable_tmp() {
        let v = ReadOnlyRootfs::mutate_spec(&Settings::default(), &spec());
        assert_eq!(v[0], Adjustment::SetReadOnlyRootfs(true));
        assert!(matches!(&v[1], Adjustment::AddMount(m) if m.destination == "/tmp" && m.kind == MountKind::Tmpfs));
        assert!(matches!(ReadOnlyRootfs::validate_spec(&Settings::default(), &spec()), Verdict::Deny(_)));
        let mut done = spec();
        done.read_only_rootfs = true;
        assert_eq!(ReadOnlyRootfs::validate_spec(&Settings::default(), &done), Verdict::Allow);
    }

    #[test]
    fn leaves_a_users_mount_alone() {
        let mut s = spec();
        s.mounts.push(bind("/srv/tmp", "/tmp"));
        assert_eq!(ReadOnlyRootfs::mutate_spec(&Settings::default(), &s).len(), 1);
    }

    #[test]
    fn relative_paths_are_refused() {
        assert!(ReadOnlyRootfs::validate(&Settings { tmpfs: vec!["tmp".into()] }).is_err());
    }
}
