//! drop-capabilities: removes capabilities from every container. Settings: `{"drop": ["NET_RAW",
//! "MKNOD"]}` (default: NET_RAW, which only raw sockets need), or `{"drop": ["ALL"], "keep":
//! ["NET_BIND_SERVICE"]}` to drop all but some.

use sbx_plugin::{Adjustment, Interests, NO_CHECK, Plugin, Policy, Spec, Verdict, deny};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default = "default_drop")]
    pub drop: Vec<String>,
    #[serde(default)]
    pub keep: Vec<String>,
}

fn default_drop() -> Vec<String> {
    vec!["NET_RAW".into()]
}

impl Default for Settings {
    fn default() -> Self {
        Settings { drop: default_drop(), keep: vec![] }
    }
}

pub struct DropCapabilities;

/// `CAP_NET_RAW` for `net_raw`, `NET_RAW` or `CAP_NET_RAW`.
pub fn canonical(name: &str) -> String {
    let upper = name.trim().to_ascii_uppercase();
    if upper.starts_with("CAP_") { upper } else { format!("CAP_{upper}") }
}

/// The capabilities of `spec` the settings drop.
fn unwanted<'a>(s: &Settings, spec: &'a Spec) -> impl Iterator<Item = &'a String> {
    let all = s.drop.iter().any(|d| d.eq_ignore_ascii_case("ALL"));
    let keep: Vec<String> = s.keep.iter().map(|k| canonical(k)).collect();
    let listed: Vec<String> = s.drop.iter().map(|d| canonical(d)).collect();
    spec.capabilities.iter().filter(move |c| if all { !keep.contains(c) } else { listed.contains(c) })
}

impl Plugin for DropCapabilities {
    type Settings = Settings;

    fn validate(s: &Settings) -> Result<(), String> {
        if s.drop.is_empty() {
            return Err("drop lists no capability".into());
        }
        if !s.keep.is_empty() && !s.drop.iter().any(|d| d.eq_ignore_ascii_case("ALL")) {
            return Err("keep only makes sense with drop: [ALL]".into());
        }
        Ok(())
    }
}

impl Policy for DropCapabilities {
    fn wants(_settings: &Settings) -> Interests {
        Interests { mutate_spec: true, validate_spec: true, ..NO_CHECK }
    }

    fn mutate_spec(s: &Settings, spec: &Spec) -> Vec<Adjustment> {
        unwanted(s, spec).map(|c| Adjustment::DropCapability(c.clone())).collect()
    }

    fn validate_spec(s: &Settings, spec: &Spec) -> Verdict {
        match unwanted(s, spec).next() {
            Some(c) => deny(format!("the container must not have {c}")),
            None => Verdict::Allow,
        }
    }
}

sbx_plugin::export_policy!(DropCapabilities);

#[cfg(test)]
mod tests {
    use super::*;
    use sbx_plugin::testing::spec;

    fn settings(json: &str) -> Settings {
        sbx_plugin::parse_settings(json).unwrap()
    }

    #[test]
    fn drops_the_listed_capabilities_the_spec_has() {
        let s = settings(r#"{"drop":["net_raw","SYS_ADMIN"]}"#);
        assert_eq!(DropCapabilities::mutate_spec(&s, &spec()), [Adjustment::DropCapability("CAP_NET_RAW".into())]);
        assert!(matches!(DropCapabilities::validate_spec(&s, &spec()), Verdict::Deny(r) if r.contains("CAP_NET_RAW")));
        let mut dropped = spec();
        dropped.capabilities.retain(|c| c != "CAP_NET_RAW");
        assert_eq!(DropCapabilities::validate_spec(&s, &dropped), Verdict::Allow);
    }

    #[test]
    fn all_but_kept() {
        let v = DropCapabilities::mutate_spec(&settings(r#"{"drop":["ALL"],"keep":["KILL"]}"#), &spec());
        assert_eq!(
            v,
            [Adjustment::DropCapability("CAP_CHOWN".into()), Adjustment::DropCapability("CAP_NET_RAW".into())]
        );
    }

    #[test]
    fn settings_are_validated() {
        assert!(DropCapabilities::validate(&settings(r#"{"drop":[]}"#)).is_err());
        assert_eq!(DropCapabilities::mutate_spec(&Settings::default(), &spec()).len(), 1);
        assert!(DropCapabilities::validate(&settings(r#"{"drop":["NET_RAW"],"keep":["KILL"]}"#)).is_err());
    }
}
