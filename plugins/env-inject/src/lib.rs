//! env-inject: sets environment variables in every container. Settings: `{"env": {"HTTP_PROXY":
//! "http://proxy:3128"}, "override": false}`; without `override`, a variable the container already
//! has keeps its value.

use sbx_plugin::{Adjustment, Plugin, Policy, Spec};
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    #[serde(default, rename = "override")]
    pub override_existing: bool,
}

pub struct EnvInject;

impl Plugin for EnvInject {
    type Settings = Settings;

    fn validate(s: &Settings) -> Result<(), String> {
        match s.env.keys().find(|k| k.is_empty() || k.contains('=')) {
            Some(k) => Err(format!("'{k}' is not a variable name")),
            None => Ok(()),
        }
    }
}

impl Policy for EnvInject {
    fn mutate_spec(s: &Settings, spec: &Spec) -> Vec<Adjustment> {
        let has = |k: &str| spec.env.iter().any(|e| e.split_once('=').is_some_and(|(key, _)| key == k));
        s.env
            .iter()
            .filter(|(k, _)| s.override_existing || !has(k))
            .map(|(k, v)| Adjustment::SetEnv((k.clone(), v.clone())))
            .collect()
    }
}

sbx_plugin::export_policy!(EnvInject);

#[cfg(test)]
mod tests {
    use super::*;
    use sbx_plugin::testing::spec;

    #[test]
    fn sets_missing_variables_and_overrides_only_when_asked() {
        let mut settings: Settings = sbx_plugin::parse_settings(r#"{"env":{"PATH":"/x","PROXY":"p"}}"#).unwrap();
        assert_eq!(EnvInject::mutate_spec(&settings, &spec()), [Adjustment::SetEnv(("PROXY".into(), "p".into()))]);
        settings.override_existing = true;
        assert_eq!(EnvInject::mutate_spec(&settings, &spec()).len(), 2);
    }
}
