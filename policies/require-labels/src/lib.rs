//! require-labels: an image must carry labels. Settings: `{"labels": {"maintainer": "*",
//! "org.example.team": "infra"}}`: each key must be present, with that value unless it is `*`.

use sbx_plugin::{Image, Interests, NO_CHECK, Plugin, Policy, Verdict};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub labels: BTreeMap<String, String>,
}

pub struct RequireLabels;

impl Plugin for RequireLabels {
    type Settings = Settings;

    fn validate(s: &Settings) -> Result<(), String> {
        if s.labels.is_empty() { Err("labels lists no label to require".into()) } else { Ok(()) }
    }
}

impl Policy for RequireLabels {
    fn wants(_settings: &Settings) -> Interests {
        Interests { check_image: true, ..NO_CHECK }
    }

    fn check_image(s: &Settings, image: &Image) -> Verdict {
        for (key, want) in &s.labels {
            match image.config.labels.iter().find(|(k, _)| k == key) {
                None => return Verdict::Deny(format!("image {} has no label {key}", image.reference)),
                Some((_, v)) if want != "*" && v != want => {
                    return Verdict::Deny(format!("image {} has label {key}={v}, not {want}", image.reference));
                }
                Some(_) => {}
            }
        }
        Verdict::Allow
    }
}

sbx_plugin::export_policy!(RequireLabels);

#[cfg(test)]
mod tests {
    use super::*;
    use sbx_plugin::testing::image;

    fn settings(json: &str) -> Settings {
        sbx_plugin::parse_settings(json).unwrap()
    }

    #[test]
    fn missing_and_wrong_labels_are_named() {
        let mut img = image();
        let s = settings(r#"{"labels":{"team":"infra","maintainer":"*"}}"#);
        assert!(matches!(RequireLabels::check_image(&s, &img), Verdict::Deny(r) if r.contains("no label maintainer")));
        img.config.labels = vec![("maintainer".into(), "me".into()), ("team".into(), "web".into())];
        assert!(matches!(RequireLabels::check_image(&s, &img), Verdict::Deny(r) if r.contains("team=web, not infra")));
        img.config.labels[1].1 = "infra".into();
        assert_eq!(RequireLabels::check_image(&s, &img), Verdict::Allow);
    }
}
