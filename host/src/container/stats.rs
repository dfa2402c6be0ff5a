//! `sbx stats`: a running container's CPU, memory and processes, read from its cgroup (v1: the
//! cpuacct, memory and pids hierarchies; v2: one directory). Reading is [`sample`]; turning two
//! samples into docker's columns is pure.

use crate::isolate::cgroup;
use std::path::PathBuf;

/// One reading of a container's cgroup.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sample {
    /// CPU time used, in nanoseconds, since the container started.
    pub cpu_ns: u64,
    /// Memory in use, less the inactive file cache (what docker shows).
    pub memory: u64,
    /// The memory limit, if one is set.
    pub memory_limit: Option<u64>,
    pub pids: u64,
}

fn field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| l.strip_prefix(key)?.strip_prefix(' ')?.trim().parse().ok())
}

fn number(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// A v1 limit file holds a huge number when there is no limit; v2 holds "max".
fn limit(text: &str) -> Option<u64> {
    number(text).filter(|n| *n < 1 << 60)
}

/// A sample from the files' texts (`read(controller, file)`; v2 ignores the controller). Pure.
pub fn parse(v2: bool, read: impl Fn(&str, &str) -> Option<String>) -> Sample {
    if v2 {
        let stat = read("memory", "memory.stat").unwrap_or_default();
        let current = read("memory", "memory.current").and_then(|t| number(&t)).unwrap_or(0);
        Sample {
            cpu_ns: read("cpu", "cpu.stat").and_then(|t| field(&t, "usage_usec")).unwrap_or(0) * 1000,
            memory: current.saturating_sub(field(&stat, "inactive_file").unwrap_or(0)),
            memory_limit: read("memory", "memory.max").and_then(|t| limit(&t)),
            pids: read("pids", "pids.current").and_then(|t| number(&t)).unwrap_or(0),
        }
    } else {
        let stat = read("memory", "memory.stat").unwrap_or_default();
        let usage = read("memory", "memory.usage_in_bytes").and_then(|t| number(&t)).unwrap_or(0);
        Sample {
            cpu_ns: read("cpuacct", "cpuacct.usage").and_then(|t| number(&t)).unwrap_or(0),
            memory: usage.saturating_sub(field(&stat, "total_inactive_file").unwrap_or(0)),
            memory_limit: read("memory", "memory.limit_in_bytes").and_then(|t| limit(&t)),
            pids: read("pids", "pids.current").and_then(|t| number(&t)).unwrap_or(0),
        }
    }
}

/// Reads the cgroup directories `dirs` of one container (`<mount>/<controller>/sbx/<id>` on v1).
pub fn sample(dirs: &[PathBuf]) -> Sample {
    parse(cgroup::is_v2(dirs), |controller, file| {
        std::fs::read_to_string(cgroup::controller_dir(dirs, controller)?.join(file)).ok()
    })
}

/// CPU use between two samples `elapsed_ns` apart, as docker shows it: 100% is one whole CPU.
pub fn cpu_percent(before: &Sample, after: &Sample, elapsed_ns: u64) -> f64 {
    if elapsed_ns == 0 {
        return 0.0;
    }
    after.cpu_ns.saturating_sub(before.cpu_ns) as f64 * 100.0 / elapsed_ns as f64
}

/// Bytes as docker writes them: 1.5MiB, 7.6GiB.
pub fn size(bytes: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < units.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes}B") } else { format!("{v:.2}{}", units[unit]) }
}

/// One line of the table (`host_memory` stands for the limit when there is none).
pub fn row(id: &str, name: &str, cpu: f64, s: &Sample, host_memory: u64) -> [String; 6] {
    let limit = s.memory_limit.unwrap_or(host_memory).max(1);
    [
        id[..12.min(id.len())].to_string(),
        name.to_string(),
        format!("{cpu:.2}%"),
        format!("{} / {}", size(s.memory), size(limit)),
        format!("{:.2}%", s.memory as f64 * 100.0 / limit as f64),
        s.pids.to_string(),
    ]
}

pub const HEADER: [&str; 6] = ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "PIDS"];
/// docker's field names of the columns, as `--format` sees them.
pub const FIELDS: [&str; 6] = ["ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "PIDs"];

/// The host's memory in bytes (MemTotal of /proc/meminfo); 0 when it cannot be read.
pub fn host_memory() -> u64 {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let kib = info.lines().find_map(|l| l.strip_prefix("MemTotal:")?.trim().strip_suffix("kB")?.trim().parse().ok());
    kib.unwrap_or(0u64) * 1024
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_and_v2_files_read_the_same() {
        let v1 = parse(false, |c, f| {
            Some(
                match (c, f) {
                    ("cpuacct", "cpuacct.usage") => "2000000000\n",
                    ("memory", "memory.usage_in_bytes") => "10485760\n",
                    ("memory", "memory.stat") => "cache 0\ntotal_inactive_file 2097152\n",
                    ("memory", "memory.limit_in_bytes") => "9223372036854771712\n",
                    ("pids", "pids.current") => "3\n",
                    _ => return None,
                }
                .to_string(),
            )
        });
        assert_eq!(v1, Sample { cpu_ns: 2_000_000_000, memory: 8 << 20, memory_limit: None, pids: 3 });
        let v2 = parse(true, |_, f| {
            Some(
                match f {
                    "cpu.stat" => "usage_usec 2000000\nuser_usec 1\n",
                    "memory.current" => "10485760\n",
                    "memory.stat" => "anon 1\ninactive_file 2097152\n",
                    "memory.max" => "67108864\n",
                    "pids.current" => "3\n",
                    _ => return None,
                }
                .to_string(),
            )
        });
        assert_eq!(v2, Sample { cpu_ns: 2_000_000_000, memory: 8 << 20, memory_limit: Some(64 << 20), pids: 3 });
    }

    #[test]
    fn columns_read_as_dockers() {
        let before = Sample { cpu_ns: 1_000_000_000, ..Default::default() };
        let after = Sample { cpu_ns: 1_500_000_000, memory: 3 << 19, memory_limit: Some(64 << 20), pids: 2 };
        let cpu = cpu_percent(&before, &after, 1_000_000_000);
        assert_eq!(
            row("0123456789abcdef", "web", cpu, &after, 1 << 34),
            [
                "0123456789ab".to_string(),
                "web".into(),
                "50.00%".into(),
                "1.50MiB / 64.00MiB".into(),
                "2.34%".into(),
                "2".into()
            ]
        );
        assert_eq!(size(512), "512B");
        assert_eq!(row("x", "n", 0.0, &Sample::default(), 1 << 30)[3], "0B / 1.00GiB", "no limit: the host's memory");
    }
}
