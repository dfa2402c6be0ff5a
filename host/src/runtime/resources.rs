//! `update` (new resource limits for a container that lives, checked by the policies as its
//! spec was at create) and `events` (its cgroup's statistics, once or every interval).

use super::RuntimeError;
use super::admit::{Checks, admit};
use super::state::{State, Status};
use crate::container::RunError;
use crate::container::stats;
use crate::isolate::cgroup;
use crate::plugin::PluginSet;
use crate::spec::Limits;
use crate::spec::oci::resource_limits;
use std::io::{Read, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// The limits `update` was asked for: a `--resources` file (`-` for stdin) of the runtime-spec's
/// `linux.resources`, else its flags.
pub fn asked(u: &liboci_cli::Update) -> Result<Limits, RuntimeError> {
    if let Some(path) = &u.resources {
        let mut text = Vec::new();
        let read = match path.as_os_str() == "-" {
            true => std::io::stdin().read_to_end(&mut text).map(drop),
            false => std::fs::read(path).map(|t| text = t),
        };
        let bad = |message: String| RuntimeError::BadConfig { path: path.clone(), message };
        read.map_err(|e| bad(e.to_string()))?;
        let resources = serde_json::from_slice(&text).map_err(|e| bad(e.to_string()))?;
        return Ok(resource_limits(&resources));
    }
    let unsupported = [
        ("--blkio-weight", u.blkio_weight.is_some()),
        ("--cpu-rt-period", u.cpu_rt_period.is_some()),
        ("--cpu-rt-runtime", u.cpu_rt_runtime.is_some()),
        ("--cpuset-mems", u.cpuset_mems.is_some()),
        ("--memory-reservation", u.memory_reservation.is_some()),
        ("--l3-cache-schema", u.l3_cache_schema.is_some()),
        ("--mem-bw-schema", u.mem_bw_schema.is_some()),
    ];
    if let Some((flag, _)) = unsupported.iter().find(|(_, set)| *set) {
        return Err(RuntimeError::NotSupported(format!("update {flag} is not supported by sbx yet")));
    }
    let period = u.cpu_period.filter(|p| *p > 0).unwrap_or(100_000);
    Ok(Limits {
        memory_bytes: u.memory.filter(|m| *m > 0),
        pids: u.pids_limit.filter(|p| *p > 0).map(|p| p as u64),
        cpu_millis: u.cpu_quota.filter(|q| *q > 0).map(|q| q * 1000 / period),
        memory_swap: u.memory_swap.filter(|s| *s != 0),
        cpu_shares: u.cpu_share.filter(|s| *s > 0),
        cpuset_cpus: u.cpuset_cpus.clone().filter(|c| !c.is_empty()),
    })
}

/// `update`: the container's limits become `limits` over its present ones, if the policies
/// admit its spec with them (they may adjust them, as at create).
pub fn update(root: &Path, id: &str, limits: Limits, plugins: &PluginSet) -> Result<(), RuntimeError> {
    let mut state = State::load(root, id)?;
    let status = state.status(root);
    if status == Status::Stopped {
        return Err(RuntimeError::Status { verb: "update", id: id.into(), status: status.name() });
    }
    let mut spec = state.spec.clone();
    spec.limits = limits.over(&state.spec.limits);
    let (spec, _) = admit(&spec, &state.user(), &state.rootfs, plugins, root, Checks::Spec)?;
    cgroup::write_limits(&state.cgroup, &spec.limits).map_err(RunError::from)?;
    state.spec.limits = spec.limits;
    state.save(root)
}

/// One statistics event of the container, as runc's `events` prints it.
fn stats_event(state: &State) -> serde_json::Value {
    let s = stats::sample(&state.cgroup);
    serde_json::json!({
        "type": "stats",
        "id": state.id,
        "data": {
            "cpu": { "usage": { "total": s.cpu_ns } },
            "memory": { "usage": { "usage": s.memory, "limit": s.memory_limit.unwrap_or(0) } },
            "pids": { "current": s.pids, "limit": state.spec.limits.pids.unwrap_or(0) },
        }
    })
}

/// How often `events` looks for a kill by the OOM killer between its statistics.
const OOM_POLL: Duration = Duration::from_millis(100);

/// `events`: with `once` (`--stats`), the container's statistics; else the same every
/// `interval` seconds, and an `oom` event whenever the OOM killer kills one of its processes
/// (within a tenth of a second), until it stops.
pub fn events(root: &Path, id: &str, interval: u32, once: bool) -> Result<(), RuntimeError> {
    let every = Duration::from_secs(interval.max(1) as u64);
    let mut next_stats = Instant::now();
    let mut ooms = None;
    loop {
        let state = State::load(root, id)?;
        let stopped = state.status(root) == Status::Stopped;
        // Read whether it stopped or not: a kill that ended the container is still told.
        let killed = cgroup::oom_kills(&state.cgroup);
        let mut lines = Vec::new();
        if ooms.is_some_and(|before| killed > before) {
            lines.push(serde_json::json!({ "type": "oom", "id": state.id }));
        }
        ooms = Some(killed);
        let now = Instant::now();
        if !stopped && now >= next_stats {
            lines.push(stats_event(&state));
            next_stats = now + every;
        }
        let mut out = std::io::stdout().lock();
        // A reader that went away ends the stream.
        let written = lines.iter().try_for_each(|l| writeln!(out, "{l}")).and_then(|()| out.flush());
        if stopped {
            return Err(RuntimeError::Status { verb: "read events of", id: id.into(), status: "stopped" });
        }
        if written.is_err() || once {
            return Ok(());
        }
        drop(out);
        std::thread::sleep(OOM_POLL.min(next_stats.saturating_duration_since(Instant::now())));
    }
}
