//! mask-paths: hides paths from every container (an empty file or directory is mounted over each),
//! on top of the kernel paths sbx always masks. Settings: `{"paths": ["/etc/shadow", "/root"]}`.

use sbx_plugin::{Adjustment, Interests, NO_CHECK, Plugin, Policy, Spec, Verdict, deny};
use serde::Deserialize;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub paths: Vec<String>,
}

pub struct MaskPaths;

impl Plugin for MaskPaths {
    type Settings = Settings;

    fn validate(s: &Settings) -> Result<(), String> {
        if s.paths.is_empty() {
            return Err("paths lists nothing to mask".into());
        }
        match s.paths.iter().find(|p| !p.starts_with('/') || p.as_str() == "/" || p.split('/').any(|c| c == "..")) {
            Some(p) => Err(format!("path '{p}' must be absolute, not /, and without '..'")),
            None => Ok(()),
        }
    }
}

impl Policy for MaskPaths {
    fn wants(_settings: &Settings) -> Interests {
        Interests { mutate_spec: true, validate_spec: true, ..NO_CHECK }
    }

    fn mutate_spec(s: &Settings, spec: &Spec) -> Vec<Adjustment> {
        let new = s.paths.iter().filter(|p| !spec.masked_paths.contains(p));
        new.map(|p| Adjustment::MaskPath(p.clone())).collect()
    }

    fn validate_spec(s: &Settings, spec: &Spec) -> Verdict {
        match s.paths.iter().find(|p| !spec.masked_paths.contains(p)) {
            Some(p) => deny(format!("{p} must be masked")),
            None => Verdict::Allow,
        }
    }
}

sbx_plugin::export_policy!(MaskPaths);

#[cfg(test)]
mod tests {
    use super::*;
    use sbx_plugin::testing::spec;

    #[test]
    fn masks_what_is_not_masked_yet() {
        let mut s = spec();
        s.masked_paths.push("/root".into());
        let settings = Settings { paths: vec!["/etc/shadow".into(), "/root".into()] };
        assert_eq!(MaskPaths::mutate_spec(&settings, &s), [Adjustment::MaskPath("/etc/shadow".into())]);
        assert_eq!(MaskPaths::validate_spec(&settings, &s), deny("/etc/shadow must be masked"));
        s.masked_paths.push("/etc/shadow".into());
        assert_eq!(MaskPaths::validate_spec(&settings, &s), Verdict::Allow);
    }

    #[test]
    fn bad_paths_are_refused() {
        for p in ["etc", "/", "/a/../b"] {
            assert!(MaskPaths::validate(&Settings { paths: vec![p.into()] }).is_err(), "{p}");
        }
    }
}
