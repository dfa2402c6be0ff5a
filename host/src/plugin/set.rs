//! Loading the plugins of a run: one engine for all, plugins in the configured order. Loading on
//! several threads was measured slower here (wasmtime's registries and the mmap lock serialize it,
//! and threads cost), so it is a plain loop.

use super::engine::{Engine, PluginError};
use super::instance::Plugin;
use crate::config::PluginSpec;
use std::path::Path;

/// Loads every plugin of `specs`; stops at the first failure.
pub fn load_all(cache_dir: &Path, specs: &[PluginSpec]) -> Result<Vec<Plugin>, PluginError> {
    if specs.is_empty() {
        return Ok(Vec::new());
    }
    let engine = Engine::new(cache_dir, specs.iter().any(|s| s.limits.fuel.is_some()))?;
    specs.iter().map(|spec| Plugin::load(&engine, spec)).collect()
}

/// Loads each plugin of `specs` on its own and reports every result, for `sbx config check`.
pub fn check_all(cache_dir: &Path, specs: &[PluginSpec]) -> Result<Vec<Result<Plugin, PluginError>>, PluginError> {
    let engine = Engine::new(cache_dir, specs.iter().any(|s| s.limits.fuel.is_some()))?;
    Ok(specs.iter().map(|spec| Plugin::load(&engine, spec)).collect())
}
