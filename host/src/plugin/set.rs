//! The plugins of a run: one engine for all, plugins in the configured order, loaded only when a
//! run needs them (a cached policy decision and no hooks need none). Loading on several threads was
//! measured slower here (wasmtime's registries and the mmap lock serialize it, and threads cost), so
//! it is a plain loop; so was a pipeline of two threads, one mapping the compiled components while
//! the other linked them (+0.75 ms for five Rust policies, +1.4 ms for a Python one, 200 pairs).

use super::engine::{Engine, PluginError};
use super::identity::{self, Known};
use super::instance::Plugin;
use crate::config::PluginSpec;
use std::cell::OnceCell;
use std::path::{Path, PathBuf};

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

pub struct PluginSet {
    cache_dir: PathBuf,
    specs: Vec<PluginSpec>,
    /// Set once every plugin file is known (a run asks several times).
    known: OnceCell<Vec<Known>>,
    loaded: OnceCell<Vec<Plugin>>,
}

impl PluginSet {
    pub fn new(cache_dir: &Path, specs: Vec<PluginSpec>) -> PluginSet {
        PluginSet { cache_dir: cache_dir.to_path_buf(), specs, known: OnceCell::new(), loaded: OnceCell::new() }
    }

    pub fn is_empty(&self) -> bool {
        self.specs.is_empty()
    }

    pub fn specs(&self) -> &[PluginSpec] {
        &self.specs
    }

    /// What is known of every plugin file without loading it; None when one is new or changed
    /// (loading the plugins makes them known).
    pub fn known(&self) -> Option<&[Known]> {
        if let Some(k) = self.known.get() {
            return Some(k);
        }
        let known: Vec<Known> = self
            .specs
            .iter()
            .map(|s| identity::lookup(&self.cache_dir, &std::fs::metadata(&s.path).ok()?))
            .collect::<Option<_>>()?;
        Some(self.known.get_or_init(|| known))
    }

    /// Whether some plugin has hooks (true when that is not known without loading them).
    pub fn may_have_hooks(&self) -> bool {
        if let Some(loaded) = self.loaded.get() {
            return loaded.iter().any(Plugin::has_hooks);
        }
        !self.is_empty() && self.known().is_none_or(|k| k.iter().any(|k| k.hooks))
    }

    /// Frees the instances of the plugins' past admissions (see [`Plugin::retire_session`]).
    pub fn free_retired(&self) {
        self.loaded.get().into_iter().flatten().for_each(Plugin::free_retired);
    }

    /// Keeps the loaded plugins' memories out of the children this process makes from now on
    /// (see [`super::unshared`]), when a big plugin is loaded: the memory of a Rust plugin holds
    /// a few pages, fewer than finding it costs.
    pub fn keep_from_children(&self) {
        if self.loaded.get().is_some_and(|p| p.iter().any(|p| p.info.big)) {
            super::unshared::keep_from_children(&self.cache_dir);
        }
    }

    /// The plugins, loaded on first use.
    pub fn load(&self) -> Result<&[Plugin], PluginError> {
        if let Some(p) = self.loaded.get() {
            return Ok(p);
        }
        let plugins = load_all(&self.cache_dir, &self.specs)?;
        Ok(self.loaded.get_or_init(|| plugins))
    }
}
