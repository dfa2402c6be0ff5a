//! test-wrong-types: a policy that names sbx:plugin@0.9.0 but was built against a WIT whose
//! `validate-spec` returns a list of strings instead of a verdict (test-wrong-types/wit). sbx must
//! refuse it when it loads, naming the function, not fail at the first call.

wit_bindgen::generate!({
    world: "policy-plugin",
    path: "wit",
});

use exports::sbx::plugin::config::Guest as Config;
use exports::sbx::plugin::policy::Guest as Policy;
use sbx::plugin::types::{Adjustment, EntryFilter, Image, Interests, Layer, LayerAnswer, LayerVerdict, Spec, Verdict};

#[allow(dead_code, reason = "only wasm builds export it")]
struct WrongTypes;

impl Config for WrongTypes {
    fn validate_settings(_settings: String) -> Result<(), String> {
        Ok(())
    }
}

impl Policy for WrongTypes {
    fn wants(_settings: String) -> Interests {
        Interests {
            check_image: true,
            check_layer: true,
            mutate_spec: true,
            validate_spec: true,
            entries: EntryFilter::All,
        }
    }
    fn check_image(_settings: String, _image: Image) -> Verdict {
        Verdict::Allow
    }
    fn check_layer(_settings: String, _image: Image, _layer: Layer) -> LayerAnswer {
        LayerAnswer { verdict: LayerVerdict::Mount, findings: vec![] }
    }
    fn mutate_spec(_settings: String, _spec: Spec) -> Vec<Adjustment> {
        vec![]
    }
    fn validate_spec(_settings: String, _spec: Spec) -> Vec<String> {
        vec!["not a verdict".into()]
    }
}

// Component export names are not valid symbols for a native linker.
#[cfg(target_arch = "wasm32")]
export!(WrongTypes);
