//! What a plugin's Store holds: its stderr, captured so a panic message can be shown; a WASI
//! context that grants nothing but the configured directories (no other files, env, network),
//! made only for a component that imports more of WASI than stderr (see `wasi.rs`); the limiter
//! (memory summed over every linear memory and table of the plugin; few memories, tables and
//! instances), the `host.log` import (bounded in lines per call and in length, escaped), the
//! `host.last-words` import (kept with stderr) and the `hook-context` import (the spec of the
//! container the current hook call is about).

use super::bindings::{LogLevel, Spec, sbx};
use super::exports::Policy;
use super::output;
use super::stderr::Tail;
use crate::config::{Access, Preopen};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;
use wasmtime::component::{Resource, ResourceTable};
use wasmtime_wasi::cli::StdoutStream as _;
use wasmtime_wasi::p2::DynOutputStream;
use wasmtime_wasi::{FsPerms, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

/// How much of a plugin's stderr is kept for error messages.
const STDERR_CAPTURE: usize = 16 << 10;

/// Lines of `host.log` shown per call; the rest are counted and dropped.
const LOG_LINES: usize = 64;
/// Characters of a log line shown.
const LOG_LINE: usize = 1000;
/// What a plugin may hold besides its bytes of memory: a component of an ordinary language has a
/// handful of each (a componentized Python or JavaScript has under ten core instances).
const MAX_MEMORIES: usize = 16;
const MAX_TABLES: usize = 64;
const MAX_INSTANCES: usize = 256;
/// Bytes a table element is counted as, against the memory limit.
const TABLE_ELEMENT: usize = 16;

pub struct HostState {
    pub plugin: String,
    pub memory_limit: usize,
    /// Bytes of every memory and table of the plugin together.
    memory_used: usize,
    /// Log lines of this call: shown, then dropped.
    logged: usize,
    pub stderr: Tail,
    /// The spec of the container the current `on-event` call is about, given when it asks.
    pub hook_spec: Option<Arc<Spec>>,
    /// The policy exports of the store's instance, typed once (`Plugin::policy`).
    pub policy: Option<Policy>,
    wasi: Option<WasiCtx>,
    table: ResourceTable,
}

impl HostState {
    /// A state for one instance: stderr captured and, with `wasi`, a WASI context with the granted
    /// directories opened (through cap-std, so the plugin cannot leave them). With `frozen_clocks`
    /// (policy checks) the clocks stand still at zero, so a check is a function of its input and
    /// its decision can be cached.
    pub fn new(
        plugin: &str,
        memory_limit: usize,
        preopens: &[Preopen],
        frozen_clocks: bool,
        wasi: bool,
    ) -> Result<HostState, String> {
        let stderr = Tail::new(STDERR_CAPTURE);
        let wasi = match wasi {
            true => Some(context(&stderr, frozen_clocks, preopens)?),
            false => None,
        };
        Ok(HostState {
            plugin: plugin.to_string(),
            memory_limit,
            memory_used: 0,
            logged: 0,
            stderr,
            hook_spec: None,
            policy: None,
            wasi,
            table: ResourceTable::new(),
        })
    }

    /// A new call in this store: its log lines are counted afresh, and its last words are its own.
    pub fn begin_call(&mut self) {
        self.logged = 0;
        self.stderr.mark();
    }

    /// Why the plugin failed, as it said on stderr (see [`output::last_words`]).
    pub fn last_words(&self) -> Option<String> {
        output::last_words(&self.stderr.since_mark())
    }
}

/// A WASI context that gives `stderr` and the `preopens`, clocks frozen or not. Its file
/// operations block the calling thread, which the call's deadline interrupts (see
/// [`super::deadline`]).
fn context(stderr: &Tail, frozen_clocks: bool, preopens: &[Preopen]) -> Result<WasiCtx, String> {
    let mut builder = WasiCtxBuilder::new();
    builder.stderr(stderr.clone()).allow_blocking_current_thread(true);
    if frozen_clocks {
        builder.wall_clock(Frozen).monotonic_clock(Frozen);
    }
    for p in preopens {
        let perms = match p.mode {
            Access::Ro => FsPerms::ReadOnly,
            Access::Rw => FsPerms::ReadWrite,
        };
        builder
            .preopened_dir(&p.host, p.guest_path(), perms)
            .map_err(|e| format!("cannot open its granted directory {}: {e}", p.host.display()))?;
    }
    Ok(builder.build())
}

/// A clock that reads zero: the epoch for the wall clock, the start for the monotonic one.
struct Frozen;

impl HostWallClock for Frozen {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for Frozen {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        // Made with the store when its component imports what needs it (`wasi::needs_context`); a
        // component that imports none of it never gets here, so this fallback, which grants
        // nothing and whose clocks stand still, is never reached.
        let stderr = &self.stderr;
        let ctx = self.wasi.get_or_insert_with(|| context(stderr, true, &[]).expect("no directory to open"));
        WasiCtxView { ctx, table: &mut self.table }
    }
}

/// stderr without a WASI context: the store's own capture.
impl wasmtime_wasi::p2::bindings::cli::stderr::Host for HostState {
    fn get_stderr(&mut self) -> wasmtime::Result<Resource<DynOutputStream>> {
        Ok(self.table.push(self.stderr.p2_stream())?)
    }
}

/// What wasmtime-wasi-io's interfaces (streams, poll, error) need: the same resource table.
impl wasmtime_wasi_io::IoView for HostState {
    fn table(&mut self) -> &mut ResourceTable {
        &mut self.table
    }
}

impl HostState {
    /// Counts `desired - current` more bytes against the limit, which holds for all the plugin's
    /// memories and tables together.
    fn grow(&mut self, current: usize, desired: usize) -> wasmtime::Result<bool> {
        let total = (self.memory_used - current.min(self.memory_used)).saturating_add(desired);
        if total > self.memory_limit {
            wasmtime::bail!(
                "exceeded its memory limit of {} MiB (its memories and tables would hold {} MiB)",
                self.memory_limit >> 20,
                total.div_ceil(1 << 20)
            );
        }
        self.memory_used = total;
        Ok(true)
    }
}

impl wasmtime::ResourceLimiter for HostState {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.grow(current, desired)
    }

    fn table_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.grow(current.saturating_mul(TABLE_ELEMENT), desired.saturating_mul(TABLE_ELEMENT))
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }
}

impl sbx::plugin::types::Host for HostState {}

impl sbx::plugin::hook_context::Host for HostState {
    fn container_spec(&mut self) -> wasmtime::Result<Spec> {
        match &self.hook_spec {
            Some(spec) => Ok(Spec::clone(spec)),
            None => wasmtime::bail!("asked for the container's spec outside a hook call (on-event)"),
        }
    }
}

/// The least severe plugin log level shown (0 debug, 1 info, 2 warn, 3 error); `--log-level`.
static SHOWN: AtomicU8 = AtomicU8::new(2);

pub fn set_log_level(level: LogLevel) {
    SHOWN.store(severity(level), Ordering::Relaxed);
}

/// Whether messages of `level` are shown.
pub fn shows(level: LogLevel) -> bool {
    severity(level) >= SHOWN.load(Ordering::Relaxed)
}

fn severity(level: LogLevel) -> u8 {
    match level {
        LogLevel::Debug => 0,
        LogLevel::Info => 1,
        LogLevel::Warn => 2,
        LogLevel::Error => 3,
    }
}

impl sbx::plugin::host::Host for HostState {
    fn shown_level(&mut self) -> LogLevel {
        match SHOWN.load(Ordering::Relaxed) {
            0 => LogLevel::Debug,
            1 => LogLevel::Info,
            2 => LogLevel::Warn,
            _ => LogLevel::Error,
        }
    }

    fn log(&mut self, level: LogLevel, message: String) {
        if !shows(level) {
            return;
        }
        self.logged += 1;
        if self.logged > LOG_LINES {
            if self.logged == LOG_LINES + 1 {
                eprintln!(
                    "sbx: plugin {}: more than {LOG_LINES} log lines in one call; the rest are dropped",
                    self.plugin
                );
            }
            return;
        }
        let level = match level {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        };
        eprintln!("sbx: plugin {}: {level}: {}", self.plugin, output::text(&message, LOG_LINE));
    }

    /// Kept with what the plugin wrote to stderr: its last words are shown from there.
    fn last_words(&mut self, c: char) {
        self.stderr.push(c.encode_utf8(&mut [0; 4]).as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmtime::ResourceLimiter;

    #[test]
    fn the_container_spec_is_given_only_during_a_hook_call() {
        use sbx::plugin::hook_context::Host as _;
        let mut state = HostState::new("p", 16 << 20, &[], false, true).unwrap();
        let outside = state.container_spec().unwrap_err().to_string();
        assert!(outside.contains("outside a hook call"), "{outside}");
        let spec = super::super::convert::spec(
            &super::super::convert::bare_image("img"),
            &crate::spec::build(
                "img",
                None,
                &crate::spec::Overrides { cmd: vec!["sh".into()], ..Default::default() },
                "h",
                |_| None,
            )
            .unwrap(),
            &Default::default(),
        );
        state.hook_spec = Some(Arc::new(spec.clone()));
        assert_eq!(state.container_spec().unwrap().image.reference, spec.image.reference);
    }

    #[test]
    fn last_words_are_kept_with_stderr_and_belong_to_their_call() {
        use sbx::plugin::host::Host;
        let mut state = HostState::new("p", 16 << 20, &[], true, false).unwrap();
        "an earlier call's words\n".chars().for_each(|c| Host::last_words(&mut state, c));
        state.begin_call();
        assert_eq!(state.last_words(), None, "a new call has said nothing yet");
        "panicked at src/lib.rs:1:1:\nnon-ASCII: é ✓\n".chars().for_each(|c| Host::last_words(&mut state, c));
        assert_eq!(state.last_words().unwrap(), "panicked at src/lib.rs:1:1: | non-ASCII: é ✓");
    }

    #[test]
    fn memory_counts_every_memory_and_table_together() {
        let mut state = HostState::new("p", 16 << 20, &[], true, true).unwrap();
        // Nine memories of 1 MiB and one table of 64K elements fit in 16 MiB; the next 8 MiB do not.
        for _ in 0..9 {
            assert!(state.memory_growing(0, 1 << 20, None).unwrap());
        }
        assert!(state.table_growing(0, 65_536, None).unwrap());
        let e = state.memory_growing(0, 8 << 20, None).unwrap_err().to_string();
        assert!(e.contains("exceeded its memory limit of 16 MiB"), "{e}");
        // Growing one memory counts only what it adds.
        assert!(state.memory_growing(1 << 20, 2 << 20, None).unwrap());
        assert_eq!((state.memories(), state.tables(), state.instances()), (MAX_MEMORIES, MAX_TABLES, MAX_INSTANCES));
    }

    /// A core module with `n` memories of `pages` 64 KiB pages each (n and pages under 64).
    fn memories(n: u8, pages: u8) -> Vec<u8> {
        let mut section = vec![n];
        for _ in 0..n {
            section.extend([0x00, pages]);
        }
        let mut module = b"\0asm\x01\0\0\0".to_vec();
        module.extend([5, section.len() as u8]);
        module.extend(section);
        module
    }

    #[test]
    fn a_module_of_many_memories_is_held_to_one_limit() {
        let engine = wasmtime::Engine::default();
        let instantiate = |n: u8, pages: u8| {
            let state = HostState::new("p", 16 << 20, &[], true, true).unwrap();
            let mut store = wasmtime::Store::new(&engine, state);
            store.limiter(|s| s);
            let module = wasmtime::Module::from_binary(&engine, &memories(n, pages)).unwrap();
            wasmtime::Instance::new(&mut store, &module, &[]).map(drop).map_err(|e| format!("{e:?}"))
        };
        assert!(instantiate(4, 32).is_ok(), "8 MiB in four memories");
        let e = instantiate(10, 32).unwrap_err();
        assert!(e.contains("exceeded its memory limit of 16 MiB"), "20 MiB in ten memories: {e}");
        assert!(instantiate(20, 1).is_err(), "more memories than a plugin may have");
    }
}
