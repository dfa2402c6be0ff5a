//! deny-setuid: refuses any layer that adds a setuid or setgid file, naming the first one found.
//! Settings: `{"allow": ["usr/bin/passwd", ...]}` lists paths that may keep the bits; each one kept
//! is reported as a finding.

use sbx_plugin::{EntryKind, Image, Layer, LayerVerdict, Plugin, Policy, mode};
use serde::Deserialize;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub allow: Vec<String>,
}

pub struct DenySetuid;

fn is_setuid(e: &sbx_plugin::Entry) -> bool {
    matches!(e.kind, EntryKind::File | EntryKind::Hardlink) && e.mode & (mode::SETUID | mode::SETGID) != 0
}

/// The first entry of `layer` that carries a setuid or setgid bit and is not allowed.
pub fn first_setuid<'a>(settings: &Settings, layer: &'a Layer) -> Option<&'a sbx_plugin::Entry> {
    layer.entries.iter().find(|e| is_setuid(e) && !settings.allow.iter().any(|a| a == &e.path))
}

impl Plugin for DenySetuid {
    type Settings = Settings;
}

impl Policy for DenySetuid {
    fn findings(settings: &Settings, _image: &Image, layer: &Layer) -> Vec<String> {
        let allowed = layer.entries.iter().filter(|e| is_setuid(e) && settings.allow.iter().any(|a| a == &e.path));
        allowed.map(|e| format!("keeps setuid/setgid file /{} (allowed by the settings)", e.path)).collect()
    }

    fn check_layer(settings: &Settings, _image: &Image, layer: &Layer) -> LayerVerdict {
        match first_setuid(settings, layer) {
            None => LayerVerdict::Mount,
            Some(e) => {
                let bit = if e.mode & mode::SETUID != 0 { "setuid" } else { "setgid" };
                LayerVerdict::Deny(format!("layer {} adds {bit} file /{} (mode {:o})", layer.diff_id, e.path, e.mode))
            }
        }
    }
}

sbx_plugin::export_policy!(DenySetuid);

#[cfg(test)]
mod tests {
    use super::*;
    use sbx_plugin::testing::{file, image, layer};

    #[test]
    fn plain_files_mount() {
        let l = layer(vec![file("bin/sh", 0o755, 1), file("etc/passwd", 0o644, 1)]);
        assert_eq!(DenySetuid::check_layer(&Settings::default(), &image(), &l), LayerVerdict::Mount);
    }

    #[test]
    fn setuid_file_is_denied_and_named() {
        let l = layer(vec![file("bin/sh", 0o755, 1), file("bin/su", 0o4755, 1)]);
        match DenySetuid::check_layer(&Settings::default(), &image(), &l) {
            LayerVerdict::Deny(reason) => {
                assert!(reason.contains("/bin/su"), "{reason}");
                assert!(reason.contains("setuid"), "{reason}");
            }
            other => panic!("expected deny, got {other:?}"),
        }
    }

    #[test]
    fn setgid_file_is_denied() {
        let l = layer(vec![file("usr/bin/wall", 0o2755, 1)]);
        let verdict = DenySetuid::check_layer(&Settings::default(), &image(), &l);
        assert!(matches!(verdict, LayerVerdict::Deny(r) if r.contains("setgid")));
    }

    #[test]
    fn setgid_directory_is_not_a_file() {
        let mut dir = file("var/mail", 0o2775, 0);
        dir.kind = EntryKind::Dir;
        let l = layer(vec![dir]);
        assert_eq!(DenySetuid::check_layer(&Settings::default(), &image(), &l), LayerVerdict::Mount);
    }

    #[test]
    fn allowlisted_path_is_mounted() {
        let settings: Settings = sbx_plugin::parse_settings(r#"{"allow":["bin/su"]}"#).unwrap();
        let l = layer(vec![file("bin/su", 0o4755, 1)]);
        assert_eq!(DenySetuid::check_layer(&settings, &image(), &l), LayerVerdict::Mount);
        assert_eq!(
            DenySetuid::findings(&settings, &image(), &l),
            ["keeps setuid/setgid file /bin/su (allowed by the settings)"]
        );
    }

    #[test]
    fn unknown_setting_is_refused() {
        assert!(sbx_plugin::parse_settings::<Settings>(r#"{"alow":[]}"#).is_err());
    }
}
