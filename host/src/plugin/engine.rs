//! One wasmtime Engine per sbx process, made only when a plugin is used; a thread ticks its epoch
//! so every call can have a deadline. Components are compiled once and kept on disk, keyed by the
//! sha256 of the wasm and the engine's compatibility hash.

use super::bindings::{CONFIG_EXPORT, HOOKS_EXPORT, POLICY_EXPORT, Plugin as PluginWorld, WIT_VERSION};
use super::host::HostState;
use super::identity::{self, Known};
use crate::image::Digest;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wasmtime::component::{Component, HasSelf, Linker};

/// The epoch tick: time limits are counted in these.
pub const TICK: Duration = Duration::from_millis(5);

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("cannot read plugin {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("plugin {path} is not a valid WebAssembly component: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error(
        "plugin {path} was built for sbx:plugin@{found}, but this sbx speaks sbx:plugin@{WIT_VERSION}; rebuild it against plugins/wit"
    )]
    Version { path: PathBuf, found: String },
    #[error(
        "plugin {path} is not an sbx plugin: it exports {found}, but a plugin exports {CONFIG_EXPORT} and {POLICY_EXPORT} or {HOOKS_EXPORT} (build it with plugins/sdk)"
    )]
    NotAPlugin { path: PathBuf, found: String },
    #[error("plugin {path} needs imports sbx does not give (only WASI and sbx:plugin/host): {message}")]
    Link { path: PathBuf, message: String },
    #[error(
        "plugin {path} exports an sbx:plugin interface without all its functions ({message}); rebuild it against plugins/wit"
    )]
    Exports { path: PathBuf, message: String },
    #[error("plugin {plugin} refused its settings: {message}")]
    Settings { plugin: String, message: String },
    #[error("plugin {plugin} failed in {func}: {message}")]
    Call { plugin: String, func: &'static str, message: String },
    #[error("cannot start the WebAssembly engine: {0}")]
    Engine(String),
}

pub struct Engine {
    pub(crate) engine: wasmtime::Engine,
    pub(crate) linker: Linker<HostState>,
    cache_dir: PathBuf,
    compat: String,
    /// Whether calls are metered with fuel (compiled code differs, so the cache key does too).
    pub fuel: bool,
}

/// What loading a component took, for `sbx plugin inspect` and the benches.
#[derive(Debug, Clone)]
pub struct LoadInfo {
    pub sha256: Digest,
    /// Which of the optional interfaces it exports.
    pub policy: bool,
    pub hooks: bool,
    pub cached: bool,
    pub elapsed: Duration,
}

/// A readable reason for files that are not components at all, before wasmtime's parser speaks.
fn check_header(path: &Path, bytes: &[u8]) -> Result<(), PluginError> {
    let invalid = |message: &str| Err(PluginError::Invalid { path: path.into(), message: message.into() });
    match bytes.get(..8) {
        Some([0, b'a', b's', b'm', 0x0d, 0, 1, 0]) => Ok(()),
        Some([0, b'a', b's', b'm', 1, 0, 0, 0]) => invalid(
            "it is a core WebAssembly module, not a component; build it for wasm32-wasip2 (see plugins/README.md)",
        ),
        _ => invalid("it does not start with the WebAssembly header (\\0asm)"),
    }
}

/// wasmtime's error chain on one line.
pub(crate) fn one_line(e: &wasmtime::Error) -> String {
    e.chain().map(|c| c.to_string().split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>().join(": ")
}

impl Engine {
    /// An engine whose compile cache is `cache_dir`; with `fuel`, calls can be metered.
    pub fn new(cache_dir: &Path, fuel: bool) -> Result<Engine, PluginError> {
        let mut config = wasmtime::Config::new();
        config.epoch_interruption(true);
        config.wasm_component_model(true);
        config.consume_fuel(fuel);
        let engine = wasmtime::Engine::new(&config).map_err(|e| PluginError::Engine(e.to_string()))?;
        let weak = engine.weak();
        std::thread::Builder::new()
            .name("sbx-epoch".into())
            .spawn(move || {
                while let Some(engine) = weak.upgrade() {
                    engine.increment_epoch();
                    drop(engine);
                    std::thread::sleep(TICK);
                }
            })
            .map_err(|e| PluginError::Engine(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| PluginError::Engine(e.to_string()))?;
        PluginWorld::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| PluginError::Engine(e.to_string()))?;
        let mut hasher = std::hash::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let compat = format!("{:016x}", hasher.finish());
        Ok(Engine { engine, linker, cache_dir: cache_dir.to_path_buf(), compat, fuel })
    }

    fn cache_path(&self, sha: &Digest) -> PathBuf {
        self.cache_dir.join(format!("{}-{}.cwasm", sha.hex(), self.compat))
    }

    /// Loads the component at `path`: from the compile cache when it holds it, else compiled and
    /// stored there. Checks that it speaks this sbx's WIT version.
    pub fn load(&self, path: &Path) -> Result<(Component, LoadInfo), PluginError> {
        let start = Instant::now();
        let read = || std::fs::read(path).map_err(|source| PluginError::Read { path: path.into(), source });
        let meta = std::fs::metadata(path).map_err(|source| PluginError::Read { path: path.into(), source })?;
        let known = identity::lookup(&self.cache_dir, &meta);
        let (sha256, mut bytes) = match &known {
            Some(k) => (k.sha256.clone(), None),
            None => {
                let b = read()?;
                (Digest::of(&b), Some(b))
            }
        };
        let cache = self.cache_path(&sha256);
        // The cache is written only by sbx, under the root-only store, and named by the content's
        // hash; deserializing it is as safe as the files sbx itself writes.
        let cached =
            cache.exists().then(|| unsafe { Component::deserialize_file(&self.engine, &cache) }.ok()).flatten();
        let was_cached = cached.is_some();
        let component = match cached {
            Some(c) => c,
            None => {
                let bytes = match bytes.take() {
                    Some(b) => b,
                    None => read()?,
                };
                check_header(path, &bytes)?;
                let c = Component::from_binary(&self.engine, &bytes)
                    .map_err(|e| PluginError::Invalid { path: path.into(), message: one_line(&e) })?;
                if let Ok(serialized) = c.serialize() {
                    // A cache that cannot be written only costs the next run a compile.
                    let _ = crate::image::store::write_atomic(&cache, &serialized);
                }
                c
            }
        };
        let (policy, hooks) = self.check_version(path, &component)?;
        if known.is_none() {
            identity::remember(&self.cache_dir, &meta, &Known { sha256: sha256.clone(), policy, hooks });
        }
        Ok((component, LoadInfo { sha256, policy, hooks, cached: was_cached, elapsed: start.elapsed() }))
    }

    /// The interfaces the component imports and exports, by full name.
    pub fn interfaces(&self, component: &Component) -> (Vec<String>, Vec<String>) {
        let ty = component.component_type();
        let imports = ty.imports(&self.engine).map(|(n, _)| n.to_string()).collect();
        let exports = ty.exports(&self.engine).map(|(n, _)| n.to_string()).collect();
        (imports, exports)
    }

    /// Checks the component speaks this sbx's WIT version and is a plugin; returns whether it has
    /// the policy and the hooks interface.
    fn check_version(&self, path: &Path, component: &Component) -> Result<(bool, bool), PluginError> {
        let (imports, exports) = self.interfaces(component);
        let ours = |n: &&String| n.starts_with("sbx:plugin/");
        let other_version = imports
            .iter()
            .chain(&exports)
            .filter(ours)
            .find_map(|n| n.split_once('@').map(|(_, v)| v).filter(|v| *v != WIT_VERSION));
        if let Some(found) = other_version {
            return Err(PluginError::Version { path: path.into(), found: found.to_string() });
        }
        let has = |name: &str| exports.iter().any(|n| n == name);
        if !has(CONFIG_EXPORT) || !(has(POLICY_EXPORT) || has(HOOKS_EXPORT)) {
            let found = if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") };
            return Err(PluginError::NotAPlugin { path: path.into(), found });
        }
        Ok((has(POLICY_EXPORT), has(HOOKS_EXPORT)))
    }
}
