//! mask-paths: hides paths from every container (an empty file or directory is mounted over each),
//! on top of the kernel paths sbx always masks. Settings: `{"paths": ["/etc/shadow", "/root"]}`.

use sbx_plugin::{Adjustment, Plugin, Policy, Spec, SpecVerdict, allow};
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
    fn check_spec(s: &Settings, spec: &Spec) -> SpecVerdict {
        let new = s.paths.iter().filter(|p| !spec.masked_paths.contains(p));
        allow(new.map(|p| Adjustment::MaskPath(p.clone())).collect())
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
        assert_eq!(MaskPaths::check_spec(&settings, &s).adjustments, [Adjustment::MaskPath("/etc/shadow".into())]);
    }

    #[test]
    fn bad_paths_are_refused() {
        for p in ["etc", "/", "/a/../b"] {
            assert!(MaskPaths::validate(&Settings { paths: vec![p.into()] }).is_err(), "{p}");
        }
    }
}
