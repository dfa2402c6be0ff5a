//! `sbx-plugin`: the guest side of sbx plugins.
//!
//! A policy is a type implementing [`Policy`] with plain Rust functions, plus one line:
//! `sbx_plugin::export_policy!(MyPolicy);`. The functions take typed settings (parsed from the JSON the
//! host passes) and the WIT records re-exported here, so their logic can be unit-tested natively.

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "policy-plugin",
        path: "../wit",
        default_bindings_module: "sbx_plugin::bindings",
        pub_export_macro: true,
        additional_derives: [PartialEq],
        export_macro_name: "export",
    });
}

pub use bindings::sbx::plugin::types::{Entry, EntryKind, Image, ImageConfig, Layer, LayerVerdict, LogLevel, Verdict};

use serde::de::DeserializeOwned;

/// Settings for a plugin that takes none: accepts `{}` and refuses anything else.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoSettings {}

/// File mode bits a policy often asks about.
pub mod mode {
    pub const SETUID: u32 = 0o4000;
    pub const SETGID: u32 = 0o2000;
    pub const STICKY: u32 = 0o1000;
}

/// An image and layer policy. Every function has a default that allows, so a policy writes only
/// the checks it cares about.
pub trait Policy {
    /// The plugin's settings, parsed from the JSON text the host passes (`{}` when none).
    type Settings: DeserializeOwned + Default;

    /// Refuse settings that make no sense; the message is shown to the user at load time.
    fn validate(_settings: &Self::Settings) -> Result<(), String> {
        Ok(())
    }

    fn check_image(_settings: &Self::Settings, _image: &Image) -> Verdict {
        Verdict::Allow
    }

    fn check_layer(_settings: &Self::Settings, _image: &Image, _layer: &Layer) -> LayerVerdict {
        LayerVerdict::Mount
    }
}

/// Parses settings JSON text into `T`; empty text means the defaults.
pub fn parse_settings<T: DeserializeOwned + Default>(text: &str) -> Result<T, String> {
    if text.trim().is_empty() {
        return Ok(T::default());
    }
    serde_json::from_str(text).map_err(|e| format!("invalid settings: {e}"))
}

/// Logs through the host (shown by sbx with the plugin's name). Only callable inside sbx.
pub fn log(level: LogLevel, message: &str) {
    bindings::sbx::plugin::host::log(level, message)
}

#[doc(hidden)]
pub mod glue {
    //! What `export_policy!` expands to call: settings parsing around the user's functions.
    use super::*;

    pub fn validate_settings<P: Policy>(text: &str) -> Result<(), String> {
        P::validate(&parse_settings::<P::Settings>(text)?)
    }

    pub fn check_image<P: Policy>(text: &str, image: &Image) -> Verdict {
        match parse_settings::<P::Settings>(text) {
            Ok(settings) => P::check_image(&settings, image),
            Err(e) => Verdict::Deny(e),
        }
    }

    pub fn check_layer<P: Policy>(text: &str, image: &Image, layer: &Layer) -> LayerVerdict {
        match parse_settings::<P::Settings>(text) {
            Ok(settings) => P::check_layer(&settings, image, layer),
            Err(e) => LayerVerdict::Deny(e),
        }
    }
}

/// Exports a [`Policy`] implementation as the component's `sbx:plugin/policy` interface.
#[macro_export]
macro_rules! export_policy {
    ($policy:ty) => {
        #[allow(dead_code, reason = "only wasm builds export it")]
        struct __SbxPolicyExport;

        impl $crate::bindings::exports::sbx::plugin::policy::Guest for __SbxPolicyExport {
            fn validate_settings(settings: String) -> Result<(), String> {
                $crate::glue::validate_settings::<$policy>(&settings)
            }
            fn check_image(settings: String, image: $crate::Image) -> $crate::Verdict {
                $crate::glue::check_image::<$policy>(&settings, &image)
            }
            fn check_layer(
                settings: String,
                image: $crate::Image,
                layer: $crate::Layer,
            ) -> $crate::LayerVerdict {
                $crate::glue::check_layer::<$policy>(&settings, &image, &layer)
            }
        }

        // Native builds (unit tests) type-check the glue but export nothing: component export
        // names are not valid symbol names for a native linker.
        #[cfg(target_arch = "wasm32")]
        $crate::bindings::export!(__SbxPolicyExport with_types_in $crate::bindings);
    };
}

/// Builders for tests of policy logic (native, no wasm needed).
pub mod testing {
    use super::*;

    pub fn image() -> Image {
        Image {
            reference: "test:latest".into(),
            names: vec!["test:latest".into()],
            manifest_digest: String::new(),
            config_digest: String::new(),
            os: "linux".into(),
            architecture: "amd64".into(),
            config: ImageConfig {
                user: None,
                env: vec![],
                entrypoint: vec![],
                cmd: vec![],
                working_dir: None,
                labels: vec![],
                exposed_ports: vec![],
            },
            history: vec![],
            layers: vec![],
        }
    }

    pub fn layer(entries: Vec<Entry>) -> Layer {
        Layer {
            index: 0,
            digest: "sha256:00".into(),
            diff_id: "sha256:00".into(),
            media_type: "application/vnd.oci.image.layer.v1.tar".into(),
            size: 0,
            unpacked_size: entries.iter().map(|e| e.size).sum(),
            created_by: None,
            entries,
        }
    }

    pub fn file(path: &str, mode: u32, size: u64) -> Entry {
        Entry { path: path.into(), kind: EntryKind::File, mode, uid: 0, gid: 0, size, link_target: None }
    }
}
