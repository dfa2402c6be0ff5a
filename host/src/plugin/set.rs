//! The plugins of a run: one engine for all, plugins in the configured order, loaded only when a
//! run needs them (a cached policy decision and no hooks need none). Loading is a pipeline of two
//! threads: one maps the compiled components from the cache (compiling those it lacks) while the
//! other makes the linker and then links each component and has it check its settings, in order.
//! Loading whole plugins on several threads was measured slower (wasmtime's registries and the
//! mmap lock serialize it, and threads cost); the pipeline's halves share neither.

use super::engine::{Engine, LoadInfo, PluginError};
use super::identity::{self, Known};
use super::instance::Plugin;
use crate::config::PluginSpec;
use std::cell::OnceCell;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use wasmtime::component::Component;

/// Loads every plugin of `specs`; stops at the first failure.
pub fn load_all(cache_dir: &Path, specs: &[PluginSpec]) -> Result<Vec<Plugin>, PluginError> {
    if specs.is_empty() {
        return Ok(Vec::new());
    }
    let engine = Engine::new(cache_dir, specs.iter().any(|s| s.limits.fuel.is_some()))?;
    // Set when linking fails, so that the mapping thread does not compile what will not be used.
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (sender, components) = mpsc::channel();
        let (engine, stop) = (&engine, &stop);
        std::thread::Builder::new()
            .name("sbx-load".into())
            .spawn_scoped(scope, move || {
                for spec in specs.iter().take_while(|_| !stop.load(Ordering::Relaxed)) {
                    let loaded = engine.load(&spec.path, spec.limits.compile());
                    let failed = loaded.is_err();
                    if sender.send(loaded).is_err() || failed {
                        break;
                    }
                }
            })
            .map_err(|e| PluginError::Engine(format!("cannot start a thread to load plugins: {e}")))?;
        let linked = link_in_order(engine, specs, components);
        if linked.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        linked
    })
}

/// Links each of `specs` as its component arrives, in order; stops at the first failure.
fn link_in_order(
    engine: &Engine,
    specs: &[PluginSpec],
    components: mpsc::Receiver<Result<(Component, LoadInfo), PluginError>>,
) -> Result<Vec<Plugin>, PluginError> {
    engine.linker()?;
    let mut plugins = Vec::with_capacity(specs.len());
    for spec in specs {
        let loaded = components
            .recv()
            .map_err(|_| PluginError::Engine("the thread loading plugins ended before it loaded them all".into()))?;
        plugins.push(Plugin::link(engine, spec, loaded?)?);
    }
    Ok(plugins)
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
        !self.is_empty() && self.known().is_none_or(|k| k.iter().any(|k| k.hooks))
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
