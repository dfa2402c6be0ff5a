//! read-only-rootfs: every container gets a read-only root filesystem, with tmpfs mounts where it
//! must write. Settings: `{"tmpfs": ["/tmp", "/run"]}` (default: `/tmp`).

use sbx_plugin::{Adjustment, Mount, MountKind, Plugin, Policy, Spec, SpecVerdict, allow};
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
    fn check_spec(s: &Settings, spec: &Spec) -> SpecVerdict {
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
        allow(changes)
    }
}

sbx_plugin::export_policy!(ReadOnlyRootfs);

#[cfg(test)]
mod tests {
    use super::*;
    use sbx_plugin::testing::{bind, spec};

    #[test]
    fn makes_the_root_read_only_with_a_writable_tmp() {
        let v = ReadOnlyRootfs::check_spec(&Settings::default(), &spec());
        assert_eq!(v.adjustments[0], Adjustment::SetReadOnlyRootfs(true));
        assert!(
            matches!(&v.adjustments[1], Adjustment::AddMount(m) if m.destination == "/tmp" && m.kind == MountKind::Tmpfs)
        );
    }

    #[test]
    fn leaves_a_users_mount_alone() {
        let mut s = spec();
        s.mounts.push(bind("/srv/tmp", "/tmp"));
        assert_eq!(ReadOnlyRootfs::check_spec(&Settings::default(), &s).adjustments.len(), 1);
    }

    #[test]
    fn relative_paths_are_refused() {
        assert!(ReadOnlyRootfs::validate(&Settings { tmpfs: vec!["tmp".into()] }).is_err());
    }
}
