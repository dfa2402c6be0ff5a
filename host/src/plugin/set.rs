//! Loading the plugins of a run: one engine for all, each plugin loaded on a thread of its own
//! (deserializing components dominates the cost and parallelizes), kept in the configured order.

use super::engine::{Engine, PluginError};
use super::policy::Plugin;
use crate::config::PluginSpec;
use std::path::Path;

/// Loads every plugin of `specs`; the first failure, in order, is returned.
pub fn load_all(cache_dir: &Path, specs: &[PluginSpec]) -> Result<Vec<Plugin>, PluginError> {
    if specs.is_empty() {
        return Ok(Vec::new());
    }
    let engine = Engine::new(cache_dir, specs.iter().any(|s| s.limits.fuel.is_some()))?;
    if specs.len() == 1 {
        return Ok(vec![Plugin::load(&engine, &specs[0])?]);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = specs.iter().map(|spec| scope.spawn(|| Plugin::load(&engine, spec))).collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    })
}

/// Loads each plugin of `specs` on its own and reports every result, for `sbx config check`.
pub fn check_all(cache_dir: &Path, specs: &[PluginSpec]) -> Result<Vec<Result<Plugin, PluginError>>, PluginError> {
    let engine = Engine::new(cache_dir, specs.iter().any(|s| s.limits.fuel.is_some()))?;
    Ok(specs.iter().map(|spec| Plugin::load(&engine, spec)).collect())
}
