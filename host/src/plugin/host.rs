//! What a plugin's Store holds: a WASI context that grants nothing but the configured directories
//! (no other files, env, network; stderr captured so a panic message can be shown), the memory
//! limiter, and the `host.log` import.

use super::bindings::{LogLevel, sbx};
use crate::config::{Access, Preopen};
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

/// How much of a plugin's stderr is kept for error messages.
const STDERR_CAPTURE: usize = 4096;

pub struct HostState {
    pub plugin: String,
    pub memory_limit: usize,
    pub stderr: MemoryOutputPipe,
    wasi: WasiCtx,
    table: ResourceTable,
}

impl HostState {
    /// A state for one call: stderr captured, the granted directories opened (through cap-std, so
    /// the plugin cannot leave them), nothing else. With `frozen_clocks` (policy checks) the clocks
    /// stand still at zero, so a check is a function of its input and its decision can be cached.
    pub fn new(
        plugin: &str,
        memory_limit: usize,
        preopens: &[Preopen],
        frozen_clocks: bool,
    ) -> Result<HostState, String> {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE);
        let mut builder = WasiCtx::builder();
        builder.stderr(stderr.clone());
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
        let wasi = builder.build();
        Ok(HostState { plugin: plugin.to_string(), memory_limit, stderr, wasi, table: ResourceTable::new() })
    }

    /// What the plugin last said on stderr: a Rust panic's location and message, or the last line.
    pub fn last_words(&self) -> Option<String> {
        let text = String::from_utf8_lossy(&self.stderr.contents()).into_owned();
        let lines: Vec<&str> =
            text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("note: run with")).collect();
        match lines.iter().rposition(|l| l.contains("panicked at")) {
            Some(i) => Some(lines[i..].join(" ")),
            None => lines.last().map(|l| l.to_string()),
        }
    }
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
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl wasmtime::ResourceLimiter for HostState {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        if desired > self.memory_limit {
            wasmtime::bail!(
                "exceeded its memory limit of {} MiB (asked for {} MiB)",
                self.memory_limit >> 20,
                desired.div_ceil(1 << 20)
            );
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

impl sbx::plugin::types::Host for HostState {}

/// The least severe plugin log level shown (0 debug, 1 info, 2 warn, 3 error); `--log-level`.
static SHOWN: AtomicU8 = AtomicU8::new(1);

pub fn set_log_level(level: LogLevel) {
    SHOWN.store(severity(level), Ordering::Relaxed);
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
    fn log(&mut self, level: LogLevel, message: String) {
        if severity(level) < SHOWN.load(Ordering::Relaxed) {
            return;
        }
        let level = match level {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Warn => "warn",
            LogLevel::Error => "error",
        };
        let message: String = message.chars().take(2000).collect();
        eprintln!("sbx: plugin {}: {level}: {message}", self.plugin);
    }
}
