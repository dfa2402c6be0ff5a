//! deny-setuid: refuses any layer that adds a setuid or setgid file, naming every one it adds.
//! Settings: `{"allow": ["usr/bin/passwd", ...], "distribution_defaults": true}`: `allow` lists
//! paths that may keep the bits; `distribution_defaults` allows the setuid and setgid programs the
//! official Debian, Ubuntu and Alpine images ship ([`DISTRIBUTION_DEFAULTS`]: the shadow and
//! util-linux tools of the login and password machinery), so the profiles can run those images.
//! Each file kept is reported as a finding.

use sbx_plugin::{EntryFilter, EntryKind, Image, Interests, Layer, LayerVerdict, NO_CHECK, Plugin, Policy, mode};
use serde::Deserialize;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub allow: Vec<String>,
    #[serde(default)]
    pub distribution_defaults: bool,
}

/// The setuid and setgid files of the official Debian (11, 12; merged /usr or not) and Ubuntu
/// (22.04, 24.04) images: shadow's passwd, chfn, chsh, gpasswd, newgrp, su, chage and expiry,
/// util-linux's mount, umount, su, wall and write, and PAM's password checkers; and of the packages
/// most often added to them (cron's crontab, openssh's ssh-agent and ssh-keysign, dbus's launch
/// helper). Alpine's base images have none; its busybox-suid package adds bbsuid.
pub const DISTRIBUTION_DEFAULTS: [&str; 23] = [
    "bin/bbsuid",
    "bin/mount",
    "bin/su",
    "bin/umount",
    "sbin/unix_chkpwd",
    "usr/bin/chage",
    "usr/bin/chfn",
    "usr/bin/chsh",
    "usr/bin/expiry",
    "usr/bin/gpasswd",
    "usr/bin/mount",
    "usr/bin/newgrp",
    "usr/bin/passwd",
    "usr/bin/su",
    "usr/bin/umount",
    "usr/bin/wall",
    "usr/bin/write.ul",
    "usr/bin/ssh-agent",
    "usr/bin/crontab",
    "usr/lib/openssh/ssh-keysign",
    "usr/lib/dbus-1.0/dbus-daemon-launch-helper",
    "usr/sbin/pam_extrausers_chkpwd",
    "usr/sbin/unix_chkpwd",
];

impl Settings {
    fn allows(&self, path: &str) -> bool {
        self.allow.iter().any(|a| a == path) || (self.distribution_defaults && DISTRIBUTION_DEFAULTS.contains(&path))
    }
}

pub struct DenySetuid;

fn is_setuid(e: &sbx_plugin::Entry) -> bool {
    matches!(e.kind, EntryKind::File | EntryKind::Hardlink) && e.mode & (mode::SETUID | mode::SETGID) != 0
}

/// The entries of `layer` that carry a setuid or setgid bit and are not allowed.
pub fn setuid_files<'a>(settings: &Settings, layer: &'a Layer) -> Vec<&'a sbx_plugin::Entry> {
    layer.entries.iter().filter(|e| is_setuid(e) && !settings.allows(&e.path)).collect()
}

/// The files named in a refusal, each with its bit and mode; past the first `shown`, a count.
fn describe(files: &[&sbx_plugin::Entry], shown: usize) -> String {
    let mut named: Vec<String> = files
        .iter()
        .take(shown)
        .map(|e| {
            let bit = if e.mode & mode::SETUID != 0 { "setuid" } else { "setgid" };
            format!("/{} ({bit}, mode {:o})", e.path, e.mode)
        })
        .collect();
    if files.len() > shown {
        named.push(format!("and {} more", files.len() - shown));
    }
    named.join(", ")
}

impl Plugin for DenySetuid {
    type Settings = Settings;
}

impl Policy for DenySetuid {
    fn wants(_settings: &Settings) -> Interests {
        Interests { check_layer: true, entries: EntryFilter::WithMode(mode::SETUID | mode::SETGID), ..NO_CHECK }
    }

    fn findings(settings: &Settings, _image: &Image, layer: &Layer) -> Vec<String> {
        let allowed = layer.entries.iter().filter(|e| is_setuid(e) && settings.allows(&e.path));
        allowed.map(|e| format!("keeps setuid/setgid file /{} (allowed by the settings)", e.path)).collect()
    }

    fn check_layer(settings: &Settings, _image: &Image, layer: &Layer) -> LayerVerdict {
        let files = setuid_files(settings, layer);
        match files.len() {
            0 => LayerVerdict::Mount,
            n => LayerVerdict::Deny(format!(
                "layer {} adds {n} setuid/setgid file{}: {}",
                layer.diff_id,
                if n == 1 { "" } else { "s" },
                describe(&files, 20)
            )),
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
    fn every_offending_file_is_named_at_once() {
        let l = layer(vec![file("usr/bin/chage", 0o2755, 1), file("usr/bin/su", 0o4755, 1), file("opt/x", 0o4700, 1)]);
        let verdict = DenySetuid::check_layer(&Settings::default(), &image(), &l);
        let LayerVerdict::Deny(reason) = verdict else { panic!("{verdict:?}") };
        assert!(reason.contains("adds 3 setuid/setgid files: /usr/bin/chage (setgid, mode 2755), /usr/bin/su (setuid, mode 4755), /opt/x (setuid, mode 4700)"), "{reason}");
        let many = layer((0..25).map(|i| file(&format!("bin/s{i}"), 0o4755, 1)).collect());
        let LayerVerdict::Deny(reason) = DenySetuid::check_layer(&Settings::default(), &image(), &many) else {
            panic!("denied")
        };
        assert!(reason.ends_with("and 5 more"), "{reason}");
    }

    #[test]
    fn the_distributions_own_setuid_programs_may_be_allowed() {
        let settings: Settings = sbx_plugin::parse_settings(r#"{"distribution_defaults":true}"#).unwrap();
        let l = layer(vec![file("usr/bin/chage", 0o2755, 1), file("usr/bin/passwd", 0o4755, 1)]);
        assert_eq!(DenySetuid::check_layer(&settings, &image(), &l), LayerVerdict::Mount);
        assert_eq!(DenySetuid::findings(&settings, &image(), &l).len(), 2);
        let l = layer(vec![file("usr/bin/passwd", 0o4755, 1), file("usr/local/bin/mine", 0o4755, 1)]);
        let verdict = DenySetuid::check_layer(&settings, &image(), &l);
        assert!(
            matches!(verdict, LayerVerdict::Deny(r) if r.contains("adds 1 setuid/setgid file: /usr/local/bin/mine"))
        );
    }

    #[test]
    fn unknown_setting_is_refused() {
        assert!(sbx_plugin::parse_settings::<Settings>(r#"{"alow":[]}"#).is_err());
    }
}
