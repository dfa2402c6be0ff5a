//! Helpers for sbx's integration tests: the image builder ([`image`]) and a harness that runs the
//! real `sbx` binary against a store of its own ([`harness`]).

pub mod bundle;
pub mod harness;
pub mod image;
pub mod registry;
pub mod terminal;
pub mod wasm_edit;
