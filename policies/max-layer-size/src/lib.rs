//! max-layer-size: refuses a layer whose unpacked size is over a limit.
//! Settings: `{"max_bytes": N}`; the default limit is 1 GiB.

use sbx_plugin::{Image, Interests, Layer, LayerVerdict, NO_CHECK, Plugin, Policy};
use serde::Deserialize;

pub const DEFAULT_MAX_BYTES: u64 = 1 << 30;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    #[serde(default = "default_max")]
    pub max_bytes: u64,
}

fn default_max() -> u64 {
    DEFAULT_MAX_BYTES
}

impl Default for Settings {
    fn default() -> Self {
        Settings { max_bytes: DEFAULT_MAX_BYTES }
    }
}

pub struct MaxLayerSize;

impl Plugin for MaxLayerSize {
    type Settings = Settings;

    fn validate(settings: &Settings) -> Result<(), String> {
        if settings.max_bytes == 0 {
            return Err("max_bytes must be greater than 0".into());
        }
        Ok(())
    }
}

impl Policy for MaxLayerSize {
    fn wants(_settings: &Settings) -> Interests {
        Interests { check_layer: true, ..NO_CHECK }
    }

    fn check_layer(settings: &Settings, _image: &Image, layer: &Layer) -> LayerVerdict {
        if layer.unpacked_size > settings.max_bytes {
            LayerVerdict::Deny(format!(
                "layer {} unpacks to {} bytes, over the limit of {} bytes",
                layer.diff_id, layer.unpacked_size, settings.max_bytes
            ))
        } else {
            LayerVerdict::Mount
        }
    }
}

sbx_plugin::export_policy!(MaxLayerSize);

#[cfg(test)]
mod tests {
    use super::*;
    use sbx_plugin::testing::{file, image, layer};

    #[test]
    fn default_limit_is_one_gib() {
        assert_eq!(Settings::default().max_bytes, 1 << 30);
        let parsed: Settings = sbx_plugin::parse_settings("{}").unwrap();
        assert_eq!(parsed.max_bytes, 1 << 30);
    }

    #[test]
    fn layer_at_the_limit_mounts_and_over_it_is_denied() {
        let settings = Settings { max_bytes: 100 };
        let at = layer(vec![file("a", 0o644, 60), file("b", 0o644, 40)]);
        assert_eq!(MaxLayerSize::check_layer(&settings, &image(), &at), LayerVerdict::Mount);
        let over = layer(vec![file("a", 0o644, 101)]);
        match MaxLayerSize::check_layer(&settings, &image(), &over) {
            LayerVerdict::Deny(r) => {
                assert!(r.contains("101 bytes") && r.contains("100 bytes"), "{r}")
            }
            other => panic!("expected deny, got {other:?}"),
        }
    }

    #[test]
    fn zero_limit_is_refused_at_load() {
        assert!(MaxLayerSize::validate(&Settings { max_bytes: 0 }).is_err());
    }
}
