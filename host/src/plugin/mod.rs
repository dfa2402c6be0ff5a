//! Plugins: WebAssembly components run in wasmtime, typed by plugins/wit. [`engine`] compiles and
//! caches them, [`wasi`] is the WASI they are given (their file streams from [`file_streams`]),
//! [`instance`] calls one plugin inside its limits ([`deadline`] stops a call that computes past
//! its time), [`chain`] (image and layers), [`spec_check`] (with [`adjust`] and [`weaken`]) and
//! [`hooks`] combine the answers of every plugin (pure), [`convert`] turns store records and specs
//! into WIT records, [`set`] loads the plugins of a run, [`settled`] remembers the settings they
//! accepted, [`prune`] empties the compile cache of what is no longer used, [`trim`] takes from a
//! component what it does not use before it is compiled.

pub mod adjust;
pub mod bindings;
pub mod chain;
pub mod compile;
pub mod convert;
pub mod deadline;
pub mod engine;
pub mod exports;
pub mod file_streams;
pub mod heap;
pub mod hooks;
pub mod host;
pub mod identity;
pub mod instance;
pub mod measure;
pub mod output;
pub mod prune;
pub mod set;
pub mod settled;
pub mod spec_check;
pub mod stderr;
pub mod trim;
pub mod unshared;
pub mod wasi;
pub mod weaken;

pub use chain::{Decision, PolicyCheck};
pub use engine::{Engine, PluginError};
pub use instance::Plugin;
pub use set::{PluginSet, load_all};

/// The plugins that export a policy, in order.
pub fn policies(plugins: &[Plugin]) -> Vec<&dyn PolicyCheck> {
    plugins.iter().filter(|p| p.has_policy()).map(|p| p as &dyn PolicyCheck).collect()
}
