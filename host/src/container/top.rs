//! `sbx top`: the host's `ps` run with the user's options, its lines cut to the container's
//! processes: those of its PID namespace (its PID 1, their descendants, and what `exec` started,
//! whose parent is an sbx outside), as docker's top shows them; those of its cgroup when it shares
//! another PID namespace.

use super::state::{self, FindError};
use crate::image::Store;
use std::collections::BTreeSet;

#[derive(Debug, thiserror::Error)]
pub enum TopError {
    #[error(transparent)]
    Find(#[from] FindError),
    #[error("container {0} is not running")]
    NotRunning(String),
    #[error("cannot run the host's ps (Debian package procps): {0}")]
    NoPs(std::io::Error),
    #[error("ps {args} failed: {stderr}")]
    Ps { args: String, stderr: String },
    #[error("ps {0} shows no PID column: give options whose output has one (such as -ef or aux)")]
    NoPidColumn(String),
}

impl TopError {
    pub fn is_refusal(&self) -> bool {
        match self {
            TopError::Find(f) => f.is_refusal(),
            TopError::NotRunning(_) | TopError::NoPidColumn(_) => true,
            TopError::NoPs(_) | TopError::Ps { .. } => false,
        }
    }
}

/// The pids among `procs` (pid, its PID namespace) that are in `namespace`. Pure.
pub fn in_namespace(namespace: &str, procs: &[(i32, String)]) -> BTreeSet<i32> {
    procs.iter().filter(|(_, ns)| ns == namespace).map(|(pid, _)| *pid).collect()
}

/// The header of `ps`'s output and the lines whose PID column is in `pids`. Pure.
pub fn filter_ps<'a>(output: &'a str, pids: &BTreeSet<i32>) -> Option<Vec<&'a str>> {
    let mut lines = output.lines();
    let header = lines.next()?;
    let column = header.split_whitespace().position(|h| h == "PID")?;
    let ours = lines
        .filter(|l| l.split_whitespace().nth(column).and_then(|p| p.parse().ok()).is_some_and(|p| pids.contains(&p)));
    Some(std::iter::once(header).chain(ours).collect())
}

/// The PID namespace of process `pid` (its /proc/PID/ns/pid link, as `pid:[INODE]`).
fn pid_namespace(pid: i32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok().map(|l| l.to_string_lossy().into_owned())
}

/// Every process of the host with its PID namespace.
fn host_processes() -> Vec<(i32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter_map(|pid| Some((pid, pid_namespace(pid)?)))
        .collect()
}

/// The processes of the container `id`'s cgroup.
fn cgroup_processes(id: &str) -> BTreeSet<i32> {
    crate::isolate::cgroup::processes(&crate::isolate::cgroup::existing(id)).into_iter().collect()
}

/// The lines of `ps ps_args` (docker's default `-ef`) that are the container's processes.
pub fn top(store: &Store, query: &str, ps_args: &[String]) -> Result<Vec<String>, TopError> {
    let (dir, record) = state::find(store, query)?;
    let pid = match record.pid {
        Some(pid) if state::is_running(&dir) => pid,
        _ => return Err(TopError::NotRunning(record.name)),
    };
    let default = ["-ef".to_string()];
    let args = if ps_args.is_empty() { &default[..] } else { ps_args };
    let out = std::process::Command::new("ps").args(args).output().map_err(TopError::NoPs)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(TopError::Ps { args: args.join(" "), stderr });
    }
    // A PID namespace of the host's or another container's holds more than its processes: then
    // its cgroup tells them.
    let pids = match state::load_spec(&dir).is_some_and(|s| !s.pid.is_private()) {
        true => cgroup_processes(&record.id),
        false => {
            let namespace = pid_namespace(pid).ok_or_else(|| TopError::NotRunning(record.name.clone()))?;
            in_namespace(&namespace, &host_processes())
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let lines = filter_ps(&text, &pids).ok_or_else(|| TopError::NoPidColumn(args.join(" ")))?;
    Ok(lines.into_iter().map(str::to_string).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_containers_processes_are_those_of_its_pid_namespace() {
        let ns = |n: &str| n.to_string();
        let procs = [(1, ns("pid:[1]")), (10, ns("pid:[7]")), (11, ns("pid:[7]")), (12, ns("pid:[1]"))];
        assert_eq!(in_namespace("pid:[7]", &procs), BTreeSet::from([10, 11]));
        assert!(in_namespace("pid:[9]", &procs).is_empty());
    }

    #[test]
    fn ps_lines_are_cut_by_the_pid_column_wherever_it_is() {
        let ef = "UID   PID  PPID  C STIME TTY  TIME CMD\nroot    1     0  0 10:00 ?    00:00:01 init\nroot   10     1  0 10:00 ?    00:00:00 sleep 10\n";
        assert_eq!(
            filter_ps(ef, &BTreeSet::from([10])).unwrap(),
            ["UID   PID  PPID  C STIME TTY  TIME CMD", "root   10     1  0 10:00 ?    00:00:00 sleep 10"]
        );
        let aux = "USER PID %CPU\nroot 1 0.0\nbob 10 1.0\n";
        assert_eq!(filter_ps(aux, &BTreeSet::from([1])).unwrap().len(), 2, "the header and pid 1, not ppid 1");
        assert!(filter_ps("USER COMMAND\nroot init\n", &BTreeSet::from([1])).is_none());
    }
}
