//! test-old-wit: a policy that allows everything, built against the frozen sbx:plugin@0.1.0 WIT
//! (plugins/wit-0.1.0). sbx speaks 0.9.0 and must refuse it, naming both versions.

wit_bindgen::generate!({
    world: "policy-plugin",
    path: "../wit-0.1.0",
});

use exports::sbx::plugin::policy::Guest;
use sbx::plugin::types::{Image, Layer, LayerVerdict, Verdict};

#[allow(dead_code, reason = "only wasm builds export it")]
struct OldPolicy;

impl Guest for OldPolicy {
    fn validate_settings(_settings: String) -> Result<(), String> {
        Ok(())
    }
    fn check_image(_settings: String, _image: Image) -> Verdict {
        Verdict::Allow
    }
    fn check_layer(_settings: String, _image: Image, _layer: Layer) -> LayerVerdict {
        LayerVerdict::Mount
    }
}

// Component export names are not valid symbols for a native linker (the workspace's native builds
// and tests compile this crate too).
#[cfg(target_arch = "wasm32")]
export!(OldPolicy);
