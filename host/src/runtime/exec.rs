//! `exec`: a new process in a running container, from a process.json (what engines pass) or the
//! command line, checked by the policies as a spec of its own, in the container's namespaces and
//! cgroup. With `--detach` it returns once the process runs (the engine's shim reaps it), else it
//! waits and exits with the process's status.

use super::RuntimeError;
use super::admit::{Checks, admit, set_home};
use super::create::console;
use super::state::{State, Status};
use crate::container::exec::{How, Target, not_running, spawn_in};
use crate::isolate::Progress;
use crate::plugin::PluginSet;
use crate::spec::oci;
use oci_spec::runtime::Process;
use std::os::fd::AsRawFd;
use std::path::Path;

pub struct ExecOptions<'a> {
    pub root: &'a Path,
    pub id: &'a str,
    /// process.json; else the command line's process below.
    pub process: Option<&'a Path>,
    pub command: Vec<String>,
    pub env: Vec<String>,
    pub cwd: Option<String>,
    pub user: Option<(u32, u32)>,
    pub tty: bool,
    pub detach: bool,
    pub pid_file: Option<&'a Path>,
    pub console_socket: Option<&'a Path>,
    /// `--preserve-fds`: how many descriptors after stderr the process inherits.
    pub preserve_fds: u32,
}

/// The exec's process: process.json, or one made of the command line's fields.
fn process(opts: &ExecOptions) -> Result<Process, RuntimeError> {
    if let Some(path) = opts.process {
        let bad = |message: String| RuntimeError::BadProcess { path: path.to_path_buf(), message };
        let text = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        return serde_json::from_slice(&text).map_err(|e| bad(e.to_string()));
    }
    let (uid, gid) = opts.user.unwrap_or((0, 0));
    let made = serde_json::json!({
        "args": opts.command,
        "env": opts.env,
        "cwd": opts.cwd.clone().unwrap_or_else(|| "/".into()),
        "user": { "uid": uid, "gid": gid },
        "terminal": opts.tty,
    });
    Ok(serde_json::from_value(made).expect("a process of known fields"))
}

/// Runs the exec; returns the exit code sbx ends with (0 when detached).
pub fn exec(opts: &ExecOptions, plugins: &PluginSet) -> Result<i32, RuntimeError> {
    let state = State::load(opts.root, opts.id)?;
    let status = state.status(opts.root);
    if status != Status::Running {
        return Err(RuntimeError::Status { verb: "exec in", id: opts.id.into(), status: status.name() });
    }
    let mut spec = state.spec.clone();
    let mut notices = Vec::new();
    let process = process(opts)?;
    let user = oci::apply_process(&mut spec, &process, &mut notices)?;
    set_home(&mut spec, user.uid, &state.rootfs);
    for n in notices {
        eprintln!("sbx-runtime: {n}");
    }
    let (mut spec, user) = admit(&spec, &user, &state.rootfs, plugins, opts.root, Checks::Spec)?;
    let console = if spec.terminal { Some(console(opts.console_socket)?) } else { None };
    let target = Target {
        pid: state.pid,
        name: &state.id,
        cgroup: &state.cgroup,
        own_ids: state.spec.userns == crate::spec::Userns::Auto,
        seccomp_cache: &opts.root.join(".seccomp"),
    };
    let how = How {
        stdio: [None; 3],
        terminal: console.as_ref().map(|s| (s.as_raw_fd(), (24, 80))),
        outlives_sbx: opts.detach,
        preserve_fds: opts.preserve_fds,
    };
    let (mut child, plan) = spawn_in(&target, &mut spec, &user, &how)?;
    drop(console);
    match child.advance() {
        Ok(Progress::Running) => {}
        other => return Err(not_running(other, child, &plan, &spec).into()),
    }
    if let Some(adj) = process.oom_score_adj() {
        let path = format!("/proc/{}/oom_score_adj", child.pid);
        std::fs::write(&path, adj.to_string()).map_err(RuntimeError::io(format!("write {path}")))?;
    }
    if let Some(path) = opts.pid_file {
        super::write_pid_file(path, child.pid.as_raw())?;
    }
    if opts.detach {
        return Ok(0);
    }
    Ok(child.wait().code)
}
