//! One wasmtime Engine per sbx process, made only when a plugin is used; its epoch moves only when
//! a call's time is up (see [`super::deadline`]). Components are compiled once per machine (see
//! [`super::compile`]) and kept on disk, keyed by the sha256 of the wasm and the engine's
//! compatibility hash, and mapped from there.

use super::bindings::{CONFIG_EXPORT, HOOKS_EXPORT, POLICY_EXPORT, Plugin as PluginWorld, WIT_VERSION};
use super::compile;
use super::heap;
use super::host::HostState;
use super::identity::{self, Known};
use super::prune::{self, Scope};
use super::wasi::{self, WasiLinker};
use crate::image::Digest;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use wasmtime::component::{Component, HasSelf, InstancePre, Linker};

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    #[error("cannot read plugin {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("plugin {path} is {kind}, not a regular file; give the path of a .wasm component")]
    NotAFile { path: PathBuf, kind: &'static str },
    #[error(
        "plugin {path} holds {size} bytes, more than sbx loads ({} MiB); a component that large is not a plugin",
        super::compile::MAX_COMPONENT >> 20
    )]
    TooBig { path: PathBuf, size: u64 },
    #[error(
        "compiling plugin {path} took longer than {} s and was stopped (a component that slow to compile is hostile or far too large; if it is yours, raise its limits' compile-ms)",
        limit.as_secs_f64()
    )]
    CompileTimeout { path: PathBuf, limit: Duration },
    #[error("the plugin cache {dir} cannot be used: {message}")]
    Cache { dir: PathBuf, message: String },
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
        "plugin {path} exports an sbx:plugin interface whose functions are missing or have other types than sbx:plugin@{WIT_VERSION} gives them ({message}); rebuild it against plugins/wit"
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
    /// WASI's packages are added as the components linked need them (see [`super::wasi`]).
    linker: Mutex<WasiLinker>,
    cache_dir: PathBuf,
    compat: String,
    /// Whether calls are metered with fuel (compiled code differs, so the cache key does too).
    pub fuel: bool,
    /// The components this engine mapped and linked, by the sha256 of their wasm: a plugin named
    /// twice (with other settings, say) is mapped and linked once.
    linked: Mutex<HashMap<Digest, Linked>>,
}

struct Linked {
    component: Component,
    /// The interfaces it imports.
    imports: Vec<String>,
    pre: Option<InstancePre<HostState>>,
    policy: bool,
    hooks: bool,
    wasi: bool,
    sync_calls: bool,
}

/// What loading a component took, for `sbx plugin inspect` and the benches.
#[derive(Debug, Clone)]
pub struct LoadInfo {
    pub sha256: Digest,
    /// Which of the optional interfaces it exports.
    pub policy: bool,
    pub hooks: bool,
    /// Its stores need a WASI context: it imports more of WASI than streams and stderr.
    pub wasi: bool,
    /// Its calls need no fiber: it imports nothing of WASI (see [`super::exports`]).
    pub sync_calls: bool,
    /// Its file is at least [`heap::BIG_COMPONENT`] (a Python or JavaScript plugin).
    pub big: bool,
    pub cached: bool,
    pub elapsed: Duration,
}

fn changed_while_read() -> std::io::Error {
    std::io::Error::other("it changed while sbx read it; try again")
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

/// How sbx configures wasmtime; the compiler process (see [`super::compile`]) uses the same, so
/// what it compiles loads here.
pub fn wasm_config(fuel: bool) -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.epoch_interruption(true);
    config.wasm_component_model(true);
    config.consume_fuel(fuel);
    // No .eh_frame for compiled code: it only serves native unwinders (a debugger, a profiler),
    // and registering it with libgcc costs each component load 15-20 us. wasmtime's own traps and
    // backtraces do not use it, and host panics are caught before they cross wasm frames.
    config.native_unwind_info(false);
    // The address map (native addresses back to wasm offsets, a ninth of a compiled component)
    // stays: without it, runs with five Rust policies, a Python or a JavaScript policy took no
    // less time (-0.04, -0.00 and -0.06 ms, caches compiled at the same moment), though a cache
    // three hours older than the one without it made it look like 0.1-0.7 ms.
    config
}

/// An engine that only maps what the compiler process made: without a compiler of its own it
/// skips building Cranelift's ISA (its host feature probe and flag tables) at every run.
fn mapping_engine(fuel: bool) -> Result<wasmtime::Engine, PluginError> {
    let mut config = wasm_config(fuel);
    config.enable_compiler(false);
    wasmtime::Engine::new(&config).map_err(|e| PluginError::Engine(e.to_string()))
}

/// What of [`wasm_config`] the compatibility hash of an engine without a compiler leaves out (the
/// compiler's own settings), and what is compiled (components trimmed, see [`super::trim`]):
/// changed whenever either changes, so that what an older sbx compiled is compiled again rather
/// than mapped.
const COMPILER_SETTINGS: &str = "native-unwind-info=no; core exports: used, function names: none (trim)";

/// The part of compiled components' names that says which wasmtime version and settings map them.
fn compat(engine: &wasmtime::Engine) -> String {
    let mut hasher = std::hash::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    COMPILER_SETTINGS.hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// The compiled components this sbx can map: those of its engines with and without fuel.
pub fn compats() -> Result<Vec<String>, PluginError> {
    [false, true].into_iter().map(|fuel| Ok(compat(&mapping_engine(fuel)?))).collect()
}

impl Engine {
    /// An engine whose compile cache is `cache_dir`; with `fuel`, calls can be metered.
    pub fn new(cache_dir: &Path, fuel: bool) -> Result<Engine, PluginError> {
        let engine = mapping_engine(fuel)?;
        let mut linker = Linker::new(&engine);
        PluginWorld::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)
            .map_err(|e| PluginError::Engine(e.to_string()))?;
        let linker = Mutex::new(WasiLinker::new(linker));
        compile::prepare(cache_dir)?;
        let compat = compat(&engine);
        Ok(Engine { engine, linker, cache_dir: cache_dir.to_path_buf(), compat, fuel, linked: Mutex::default() })
    }

    /// The compile cache, where what is known of plugins is kept too.
    pub fn cache_dir(&self) -> &Path {
        &self.cache_dir
    }

    fn cache_path(&self, sha: &Digest) -> PathBuf {
        self.cache_dir.join(format!("{}-{}.cwasm", sha.hex(), self.compat))
    }

    /// Loads the component at `path`: from the compile cache when it holds it, else compiled (within
    /// `compile_limit`) and stored there. Checks that it speaks this sbx's WIT version, once per
    /// file: its identity record then says what the check found.
    pub fn load(&self, path: &Path, compile_limit: Duration) -> Result<(Component, LoadInfo), PluginError> {
        let start = Instant::now();
        let meta = std::fs::metadata(path).map_err(|source| PluginError::Read { path: path.into(), source })?;
        compile::check_file(path, &meta)?;
        let big = meta.len() >= heap::BIG_COMPONENT;
        let known = identity::lookup(&self.cache_dir, &meta);
        if heap::wants_huge_pages(meta.len(), known.as_ref().and_then(|k| k.map_heap)) {
            heap::grow_in_huge_pages();
        }
        let (sha256, mut bytes) = match &known {
            Some(k) => (k.sha256.clone(), None),
            None => {
                let b = compile::read_component(path)?;
                (Digest::of(&b), Some(b))
            }
        };
        if let Some(l) = self.linked.lock().expect("not poisoned").get(&sha256) {
            let (policy, hooks, wasi, sync_calls) = (l.policy, l.hooks, l.wasi, l.sync_calls);
            let info =
                LoadInfo { sha256, policy, hooks, wasi, sync_calls, big, cached: true, elapsed: start.elapsed() };
            return Ok((l.component.clone(), info));
        }
        let cache = self.cache_path(&sha256);
        // Mapped first: a cached component (the usual case) costs no look before it.
        // What a mapping takes of the heap is measured once and remembered with the file.
        let measure = known.as_ref().is_none_or(|k| k.map_heap.is_none());
        let mut mapped = self.map(&cache, measure);
        let mut was_cached = true;
        if mapped.is_err() && !cache.exists() {
            let bytes = match bytes.take() {
                Some(b) => b,
                None => compile::read_component(path)?,
            };
            check_header(path, &bytes)?;
            was_cached = !compile::ensure(path, &bytes, &cache, self.fuel, compile_limit)?;
            mapped = self.map(&cache, measure);
        }
        let (component, map_heap) = match mapped {
            Ok(mapped) => mapped,
            // The cache's names do not hold the compiler's CPU flags (this engine has no compiler to
            // ask): what another machine's sbx compiled into a shared cache is refused by wasmtime's
            // own check when mapped, and compiled again for this one.
            Err(_) if was_cached => {
                let bytes = compile::read_component(path)?;
                if Digest::of(&bytes) != sha256 {
                    return Err(PluginError::Read { path: path.into(), source: changed_while_read() });
                }
                let _ = std::fs::remove_file(&cache);
                compile::ensure(path, &bytes, &cache, self.fuel, compile_limit)?;
                was_cached = false;
                self.map(&cache, measure)
                    .map_err(|e| PluginError::Invalid { path: path.into(), message: one_line(&e) })?
            }
            Err(e) => return Err(PluginError::Invalid { path: path.into(), message: one_line(&e) }),
        };
        if !was_cached {
            // The seconds a compile takes pay for a look at what older versions of sbx left.
            // A failure here only leaves the cache as it was: it never fails the load.
            if let Ok(other) = mapping_engine(!self.fuel) {
                let compats = [self.compat.clone(), compat(&other)];
                let _ = prune::prune(&self.cache_dir, &compats, Scope::Stale(prune::UNUSED_FOR));
            }
        }
        // What the file's record says of its interfaces was found by this check, for this WIT version.
        let checked = known.as_ref().and_then(|k| Some((k.imports.clone()?, k.policy, k.hooks)));
        let recheck = checked.is_none();
        let (imports, policy, hooks) = match checked {
            Some(checked) => checked,
            None => self.check_version(path, &component)?,
        };
        let map_heap = map_heap.or(known.as_ref().and_then(|k| k.map_heap));
        if recheck || (measure && map_heap.is_some()) {
            let known = Known { sha256: sha256.clone(), policy, hooks, map_heap, imports: Some(imports.clone()) };
            identity::remember(&self.cache_dir, &meta, &known);
        }
        let (wasi, sync_calls) = (wasi::needs_context(&imports), wasi::imports_none(&imports));
        let linked = Linked { component: component.clone(), imports, pre: None, policy, hooks, wasi, sync_calls };
        self.linked.lock().expect("not poisoned").insert(sha256.clone(), linked);
        let elapsed = start.elapsed();
        Ok((component, LoadInfo { sha256, policy, hooks, wasi, sync_calls, big, cached: was_cached, elapsed }))
    }

    /// The compiled component at `cache`, mapped, and with `measure`, the bytes of heap that took
    /// (see [`heap`]). Its pages are left to the faults of what reads them: the kernel maps 64 KiB
    /// of a file's cached pages at each fault, and advising a Rust plugin's whole ~400 KiB image in
    /// at once (MADV_POPULATE_READ, which sbx did before) took 33-37 us where faulting every page
    /// in took 15-22, and five Rust policies' runs 0.06-0.27 ms longer (see the commit).
    fn map(&self, cache: &Path, measure: bool) -> wasmtime::Result<(Component, Option<u64>)> {
        let before = measure.then(heap::in_use).flatten();
        // SAFETY: the cache holds only what sbx's own compiler process wrote, named by the hash of
        // what it compiled, in a directory only this user can write (see compile::prepare).
        let component = unsafe { Component::deserialize_file(&self.engine, cache) }?;
        let took = before.zip(heap::in_use()).map(|(before, after)| after.saturating_sub(before));
        Ok((component, took))
    }

    /// The component `info` describes ([`Engine::load`] gave it) linked to WASI and sbx's host
    /// functions, ready to instantiate.
    pub fn link(&self, component: &Component, info: &LoadInfo) -> wasmtime::Result<InstancePre<HostState>> {
        let mut linked = self.linked.lock().expect("not poisoned");
        if let Some(pre) = linked.get(&info.sha256).and_then(|l| l.pre.clone()) {
            return Ok(pre);
        }
        let mut linker = self.linker.lock().expect("not poisoned");
        if let Some(l) = linked.get(&info.sha256) {
            linker.add_for(&l.imports)?;
        }
        let pre = linker.linker().instantiate_pre(component)?;
        if let Some(l) = linked.get_mut(&info.sha256) {
            l.pre = Some(pre.clone());
        }
        Ok(pre)
    }

    /// The interfaces the component imports and exports, by full name.
    pub fn interfaces(&self, component: &Component) -> (Vec<String>, Vec<String>) {
        let ty = component.component_type();
        let imports = ty.imports(&self.engine).map(|(n, _)| n.to_string()).collect();
        let exports = ty.exports(&self.engine).map(|(n, _)| n.to_string()).collect();
        (imports, exports)
    }

    /// Checks the component speaks this sbx's WIT version and is a plugin; returns what it imports
    /// and whether it has the policy and the hooks interface.
    fn check_version(&self, path: &Path, component: &Component) -> Result<(Vec<String>, bool, bool), PluginError> {
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
        let (policy, hooks) = (has(POLICY_EXPORT), has(HOOKS_EXPORT));
        Ok((imports, policy, hooks))
    }
}
