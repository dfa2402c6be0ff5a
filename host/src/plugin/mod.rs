//! Plugins: WebAssembly components run in wasmtime, typed by plugins/wit. [`engine`] compiles and
//! caches them, [`policy`] calls one plugin's checks inside its limits, [`chain`] combines the
//! verdicts of every plugin (pure), [`convert`] turns store records into WIT records, [`set`]
//! loads the plugins of a run.

pub mod bindings;
pub mod chain;
pub mod convert;
pub mod engine;
pub mod host;
pub mod policy;
pub mod set;

pub use chain::{Decision, PolicyCheck};
pub use engine::{Engine, PluginError};
pub use policy::Plugin;
pub use set::load_all;
