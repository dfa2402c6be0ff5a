//! The host side of plugins/wit, generated. The only place `bindgen!` is used.

wasmtime::component::bindgen!({
    world: "policy-plugin",
    path: "../plugins/wit",
});

pub use self::sbx::plugin::types::{Entry, EntryKind, Image, ImageConfig, Layer, LayerVerdict, LogLevel, Verdict};
pub use exports::sbx::plugin::policy::Guest as PolicyGuest;

/// The WIT package version this host speaks; components naming another are refused.
pub const WIT_VERSION: &str = "0.1.0";
pub const POLICY_EXPORT: &str = "sbx:plugin/policy@0.1.0";
