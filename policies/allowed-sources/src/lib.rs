//! allowed-sources: only images from listed names run, optionally pinned to digests.
//! Settings: `{"names": ["busybox", "registry.example/team/*"], "digests": ["sha256:..."]}`. An image
//! runs when one of its names matches a name pattern (`*` at the end matches any rest) and, when
//! `digests` is given, its config or manifest digest is listed.

use sbx_plugin::{Image, Interests, NO_CHECK, Plugin, Policy, Verdict};
use serde::Deserialize;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub names: Vec<String>,
    #[serde(default)]
    pub digests: Vec<String>,
}

pub struct AllowedSources;

/// `pattern` matches `name` exactly, or as a prefix when it ends in `*`; a pattern without a tag
/// matches every tag of that repository.
pub fn matches(pattern: &str, name: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => name.starts_with(prefix),
        None => name == pattern || name.rsplit_once(':').is_some_and(|(repo, _)| repo == pattern),
    }
}

impl Plugin for AllowedSources {
    type Settings = Settings;

    fn validate(s: &Settings) -> Result<(), String> {
        if s.names.is_empty() && s.digests.is_empty() {
            return Err("give at least one of names or digests".into());
        }
        match s.digests.iter().find(|d| !d.starts_with("sha256:") || d.len() != 71) {
            Some(d) => Err(format!("digest {d} is not sha256: followed by 64 hex digits")),
            None => Ok(()),
        }
    }
}

impl Policy for AllowedSources {
    fn wants(_settings: &Settings) -> Interests {
        Interests { check_image: true, ..NO_CHECK }
    }

    fn check_image(s: &Settings, image: &Image) -> Verdict {
        let names: Vec<&str> = image.names.iter().map(String::as_str).chain([image.reference.as_str()]).collect();
        if !s.names.is_empty() && !names.iter().any(|n| s.names.iter().any(|p| matches(p, n))) {
            return Verdict::Deny(format!(
                "image {} is not from an allowed source (allowed: {})",
                names.join(", "),
                s.names.join(", ")
            ));
        }
        if !s.digests.is_empty() && !s.digests.iter().any(|d| *d == image.config_digest || *d == image.manifest_digest)
        {
            return Verdict::Deny(format!(
                "image {} is not pinned: its digest {} is not allowed",
                image.reference, image.config_digest
            ));
        }
        Verdict::Allow
    }
}

sbx_plugin::export_policy!(AllowedSources);

#[cfg(test)]
mod tests {
    use super::*;
    use sbx_plugin::testing::image;

    fn settings(json: &str) -> Settings {
        sbx_plugin::parse_settings(json).unwrap()
    }

    #[test]
    fn names_match_exactly_by_repository_or_by_prefix() {
        assert!(matches("test", "test:latest") && matches("test:latest", "test:latest"));
        assert!(matches("registry.example/*", "registry.example/a/b:1"));
        assert!(!matches("tes", "test:latest") && !matches("test:1", "test:latest"));
    }

    #[test]
    fn unlisted_images_are_denied_and_named() {
        let v = AllowedSources::check_image(&settings(r#"{"names":["busybox"]}"#), &image());
        assert!(matches!(&v, Verdict::Deny(r) if r.contains("test:latest") && r.contains("busybox")), "{v:?}");
        assert_eq!(AllowedSources::check_image(&settings(r#"{"names":["test"]}"#), &image()), Verdict::Allow);
    }

    #[test]
    fn digests_pin_the_image() {
        let mut img = image();
        img.config_digest = format!("sha256:{}", "a".repeat(64));
        let pinned = settings(&format!(r#"{{"names":["test"],"digests":["sha256:{}"]}}"#, "a".repeat(64)));
        assert_eq!(AllowedSources::check_image(&pinned, &img), Verdict::Allow);
        img.config_digest = format!("sha256:{}", "b".repeat(64));
        assert!(matches!(AllowedSources::check_image(&pinned, &img), Verdict::Deny(_)));
    }

    #[test]
    fn settings_are_validated() {
        assert!(AllowedSources::validate(&Settings::default()).is_err());
        assert!(AllowedSources::validate(&settings(r#"{"digests":["sha256:12"]}"#)).is_err());
    }
}
