//! Health checks of a running container, as docker runs them: every interval an exec of the
//! check's command in the container (`sbx exec`, a process of its own: the exec's namespaces,
//! user and limits are the container's), its exit code and first 4 KiB of output kept; failures in
//! a row past the retries make it unhealthy, one success healthy. The state lives in the
//! container's `health.json` (written whole by rename), which `ps` and `inspect` read; each change
//! of status is an event (`health_status: healthy`).

use super::state::{self, ContainerRecord};
use crate::spec::health::Healthcheck;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const FILE: &str = "health.json";
/// The probes kept, and the output kept of each, as docker keeps them.
const KEEP: usize = 5;
const OUTPUT_LIMIT: u64 = 4096;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Probe {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

/// docker's `State.Health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    /// starting, healthy or unhealthy.
    pub status: String,
    pub failing_streak: u32,
    pub log: Vec<Probe>,
}

impl Health {
    fn starting() -> Health {
        Health { status: "starting".into(), failing_streak: 0, log: Vec::new() }
    }

    /// After `probe`: one success makes it healthy; failures count once the start period is over
    /// (`counts`), and `retries` of them in a row make it unhealthy. Pure.
    pub fn after(mut self, probe: Probe, counts: bool, retries: u32) -> Health {
        if probe.exit_code == 0 {
            self.status = "healthy".into();
            self.failing_streak = 0;
        } else if counts || self.status != "starting" {
            self.failing_streak += 1;
            if self.failing_streak >= retries {
                self.status = "unhealthy".into();
            }
        }
        self.log.push(probe);
        let extra = self.log.len().saturating_sub(KEEP);
        self.log.drain(..extra);
        self
    }

    /// What `ps` adds to "Up 3 minutes".
    pub fn suffix(&self) -> String {
        match self.status.as_str() {
            "starting" => " (health: starting)".into(),
            other => format!(" ({other})"),
        }
    }
}

/// The container's health as last recorded, if it has a check.
pub fn read(dir: &Path) -> Option<Health> {
    serde_json::from_slice(&fs::read(dir.join(FILE)).ok()?).ok()
}

fn write(dir: &Path, health: &Health) {
    let text = serde_json::to_vec(health).expect("serializable");
    // A full disk or a container removed meanwhile loses the record, never the container.
    let _ = crate::image::store::write_atomic_unsynced(&dir.join(FILE), &text);
}

/// Starts the checks of the container `record` (in `dir`, of the store at `store_root`) whose
/// first process is `pid`, in a thread that ends with that process.
pub fn watch(store_root: &Path, dir: &Path, record: &ContainerRecord, pid: i32, check: Healthcheck) {
    let Some(ended) = crate::sys::wait::pidfd(pid) else { return };
    write(dir, &Health::starting());
    let (root, dir, record) = (store_root.to_path_buf(), dir.to_path_buf(), record.clone());
    std::thread::spawn(move || {
        let started = Instant::now();
        let interval = Duration::from_nanos(check.interval_ns);
        let mut health = Health::starting();
        while !crate::sys::wait::readable(&ended, interval) {
            let probe = probe(&root, &dir, &record.id, &check);
            if crate::sys::wait::readable(&ended, Duration::ZERO) {
                return; // it ended meanwhile: the probe says nothing of its health
            }
            let counts = started.elapsed() >= Duration::from_nanos(check.start_period_ns);
            let before = health.status.clone();
            health = health.after(probe, counts, check.retries);
            // The event first: whoever sees the new status finds it among the events.
            if health.status != before {
                state::journal(&root, &record, &format!("health_status: {}", health.status), &[]);
            }
            write(&dir, &health);
        }
    });
}

/// Runs the check once, as `sbx exec`, killed at its timeout.
fn probe(root: &Path, dir: &Path, id: &str, check: &Healthcheck) -> Probe {
    let start = crate::time::now_rfc3339();
    let out_path: PathBuf = dir.join(".health.out");
    let timeout = Duration::from_nanos(check.timeout_ns);
    let ran = (|| -> std::io::Result<Option<i32>> {
        let out = fs::File::create(&out_path)?;
        let mut child = Command::new(std::env::current_exe()?)
            .arg("--root")
            .arg(root)
            .arg("exec")
            .arg(id)
            .args(check.command())
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        let pid = child.id() as i32;
        if !crate::sys::wait::ended_within(pid, timeout) {
            // sbx exec passes TERM on to the command; KILL if it does not end.
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGTERM);
            if !crate::sys::wait::ended_within(pid, Duration::from_secs(1)) {
                let _ = child.kill();
            }
            let _ = child.wait();
            return Ok(None);
        }
        Ok(Some(child.wait()?.code().unwrap_or(-1)))
    })();
    let mut output = String::new();
    if let Ok(f) = fs::File::open(&out_path) {
        let _ = f.take(OUTPUT_LIMIT).read_to_string(&mut output);
    }
    let _ = fs::remove_file(&out_path);
    let (exit_code, output) = match ran {
        Ok(Some(code)) => (code, output),
        Ok(None) => (-1, format!("Health check exceeded timeout ({timeout:?})")),
        Err(e) => (-1, format!("cannot run the health check: {e}")),
    };
    Probe { start, end: crate::time::now_rfc3339(), exit_code, output }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe(code: i32) -> Probe {
        Probe { start: String::new(), end: String::new(), exit_code: code, output: String::new() }
    }

    #[test]
    fn failures_in_a_row_make_it_unhealthy_and_one_success_healthy() {
        let h = Health::starting().after(probe(1), false, 2);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 0), "the start period does not count");
        let h = h.after(probe(1), true, 2);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 1));
        let h = h.after(probe(1), true, 2);
        assert_eq!((h.status.as_str(), h.suffix().as_str()), ("unhealthy", " (unhealthy)"));
        let h = h.after(probe(0), true, 2);
        assert_eq!((h.status.as_str(), h.failing_streak, h.suffix().as_str()), ("healthy", 0, " (healthy)"));
        let h = (0..7).fold(h, |h, _| h.after(probe(0), true, 2));
        assert_eq!(h.log.len(), KEEP);
        assert_eq!(Health::starting().suffix(), " (health: starting)");
    }
}
