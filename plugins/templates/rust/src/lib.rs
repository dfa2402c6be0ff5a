//! __NAME__: an sbx policy in Rust. Build it with ./build.sh, test it with `cargo test` and
//! `sbx policy test --suite tests.yaml`, use it with `sbx run --policy __NAME__.wasm IMAGE`.
//!
//! As written it refuses images run by a moving tag (`latest`, or the tags its settings name):
//! change `check_image`, or write `check_layer`, `mutate_spec`, `validate_spec` (see sbx_plugin),
//! and name in `wants` each check you write: sbx calls only those.

use sbx_plugin::{Image, Interests, NO_CHECK, Plugin, Policy, Verdict, deny};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default = "latest")]
    pub denied_tags: Vec<String>,
}

fn latest() -> Vec<String> {
    vec!["latest".into()]
}

impl Default for Settings {
    fn default() -> Self {
        Settings { denied_tags: latest() }
    }
}

/// The tag of `name[:tag][@digest]`: none when pinned by digest, `latest` when not given.
pub fn tag(reference: &str) -> Option<&str> {
    if reference.contains('@') {
        return None;
    }
    let last = reference.rsplit('/').next().unwrap_or(reference);
    Some(last.split_once(':').map_or("latest", |(_, t)| t))
}

pub struct Checks;

impl Plugin for Checks {
    type Settings = Settings;
}

impl Policy for Checks {
    fn wants(_settings: &Settings) -> Interests {
        Interests { check_image: true, ..NO_CHECK }
    }

    fn check_image(settings: &Settings, image: &Image) -> Verdict {
        match tag(&image.reference) {
            Some(t) if settings.denied_tags.iter().any(|d| d == t) => {
                deny(format!("image {} uses the tag {t}; pin a version or a digest", image.reference))
            }
            _ => Verdict::Allow,
        }
    }
}

sbx_plugin::export_policy!(Checks);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_are_read_as_docker_reads_them() {
        assert_eq!(tag("web"), Some("latest"));
        assert_eq!(tag("registry.example:5000/web:1.2"), Some("1.2"));
        assert_eq!(tag("web@sha256:00"), None);
    }
}
