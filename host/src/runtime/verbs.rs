//! The runtime CLI's verbs after `create`: start, state, kill, pause, resume, delete, list, and the
//! two that need no container: spec (a default config.json) and features.

use super::RuntimeError;
use super::hooks::{self, Place, Point};
use super::state::{FIFO, State, Status};
use crate::container::events::{Events, Now};
use crate::container::state::Status as LifeStatus;
use crate::isolate::cgroup;
use crate::plugin::bindings::Event;
use crate::plugin::{PluginSet, convert};
use crate::sys::wait::{pidfd, readable};
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// Tells the hook plugins of `event`; failures and vetoes at these late events are only reported.
fn tell(state: &State, plugins: &PluginSet, event: Event, now: Now) {
    if !plugins.may_have_hooks() {
        return;
    }
    let loaded = match plugins.load() {
        Ok(l) => l,
        Err(e) => return eprintln!("sbx: warning: {e}"),
    };
    let image = convert::bare_image(&state.spec.image);
    if let Some(events) = Events::new(loaded, &state.id, &state.id, &image, &state.spec, &state.user()) {
        events.fire(event, now).unwrap_or_else(|e| eprintln!("sbx: warning: {e}"));
    }
}

/// `start`: releases the process `create` left waiting on the exec fifo.
pub fn start(root: &Path, id: &str, plugins: &PluginSet) -> Result<(), RuntimeError> {
    let state = State::load(root, id)?;
    let status = state.status(root);
    if status != Status::Created {
        return Err(RuntimeError::Status { verb: "start", id: id.into(), status: status.name() });
    }
    let process = pidfd(state.pid).ok_or_else(|| RuntimeError::EndedBeforeStart(id.into()))?;
    // Before the fifo is opened: the process goes on as soon as it has a reader.
    let hooks = state.hooks.as_ref();
    if let Err(e) =
        hooks::run(hooks, Point::StartContainer, &state.report_as("created", state.pid), Place::Container(state.pid))
    {
        // The runtime-spec: a failed startContainer hook stops the container.
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(state.pid), nix::sys::signal::Signal::SIGKILL);
        return Err(e.into());
    }
    let path = State::dir(root, id).join(FIFO);
    let fifo = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&path)
        .map_err(RuntimeError::io(format!("open {}", path.display())))?;
    // The process opens the fifo for writing once it sees a reader, writes a byte, then execs.
    loop {
        if readable(&fifo, Duration::from_millis(50)) {
            let mut byte = [0u8];
            match rustix::io::read(&fifo, &mut byte) {
                Ok(1) => break,
                Ok(_) | Err(rustix::io::Errno::AGAIN) => {}
                Err(e) => return Err(RuntimeError::io(format!("read {}", path.display()))(e.into())),
            }
        }
        if readable(&process, Duration::ZERO) {
            return Err(RuntimeError::EndedBeforeStart(id.into()));
        }
    }
    let _ = fs::remove_file(&path);
    // A failed poststart hook is a warning; the container runs on (the runtime-spec).
    if let Err(e) = hooks::run(hooks, Point::Poststart, &state.report_as("running", state.pid), Place::Runtime) {
        eprintln!("sbx-runtime: warning: {e}");
    }
    let now = Now { status: LifeStatus::Running, pid: Some(state.pid), ..Now::created() };
    tell(&state, plugins, Event::Poststart, now);
    Ok(())
}

/// A signal by name (`KILL`, `SIGKILL`) or number.
pub fn parse_signal(text: &str) -> Result<i32, RuntimeError> {
    if let Ok(n) = text.parse::<i32>() {
        return if (1..=64).contains(&n) { Ok(n) } else { Err(RuntimeError::Signal(text.into())) };
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    name.parse::<nix::sys::signal::Signal>().map(|s| s as i32).map_err(|_| RuntimeError::Signal(text.into()))
}

/// The processes of the container's cgroup.
fn processes(state: &State) -> Vec<i32> {
    crate::isolate::cgroup::processes(&state.cgroup)
}

/// Sends `signal` to the container's process through a pidfd, checked to be the recorded one.
fn signal_process(state: &State, signal: i32) -> Result<(), RuntimeError> {
    let Some(fd) = pidfd(state.pid).filter(|_| state.alive()) else {
        return Err(RuntimeError::Status { verb: "kill", id: state.id.clone(), status: "stopped" });
    };
    // SAFETY: pidfd_send_signal(2) with a pidfd we own, a plain signal number and no siginfo.
    let r = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd.as_raw_fd(), signal, 0usize, 0u32) };
    if r < 0 {
        return Err(RuntimeError::io(format!("signal container {}", state.id))(std::io::Error::last_os_error()));
    }
    Ok(())
}

/// `kill`: a signal to the container's process, or with `all` to every process of its cgroup.
pub fn kill(root: &Path, id: &str, signal: &str, all: bool) -> Result<(), RuntimeError> {
    let state = State::load(root, id)?;
    let signal = parse_signal(signal)?;
    if state.status(root) == Status::Stopped {
        return Err(RuntimeError::Status { verb: "kill", id: id.into(), status: "stopped" });
    }
    if all {
        let signal =
            nix::sys::signal::Signal::try_from(signal).map_err(|_| RuntimeError::Signal(signal.to_string()))?;
        for pid in processes(&state) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), signal);
        }
    } else {
        signal_process(&state, signal)?;
    }
    // A frozen process takes SIGKILL only once thawed (v1's freezer): it is not left half dead.
    if signal == libc::SIGKILL && cgroup::frozen(&state.cgroup) {
        cgroup::set_frozen(&state.cgroup, false).map_err(crate::container::RunError::from)?;
    }
    Ok(())
}

/// `pause` (`freeze`) or `resume`: freezes or thaws every process of a running container's cgroup.
pub fn freeze(root: &Path, id: &str, freeze: bool) -> Result<(), RuntimeError> {
    let state = State::load(root, id)?;
    let (verb, from) = if freeze { ("pause", Status::Running) } else { ("resume", Status::Paused) };
    let status = state.status(root);
    if status != from {
        return Err(RuntimeError::Status { verb, id: id.into(), status: status.name() });
    }
    cgroup::set_frozen(&state.cgroup, freeze).map_err(crate::container::RunError::from)?;
    Ok(())
}

/// `delete`: removes a stopped container (with `force`, or when it was only created, its
/// processes are killed first): its cgroup and its state.
pub fn delete(root: &Path, id: &str, force: bool, plugins: &PluginSet) -> Result<(), RuntimeError> {
    let state = match State::load(root, id) {
        Err(RuntimeError::NoSuchContainer(_)) if force => return Ok(()),
        r => r?,
    };
    let status = state.status(root);
    if matches!(status, Status::Running | Status::Paused) && !force {
        let status = match status {
            Status::Running => "running; stop it first or use --force",
            _ => "paused; resume and stop it first, or use --force",
        };
        return Err(RuntimeError::Status { verb: "delete", id: id.into(), status });
    }
    if status != Status::Stopped {
        let process = pidfd(state.pid);
        for pid in processes(&state).into_iter().chain([state.pid]) {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        if status == Status::Paused {
            let _ = cgroup::set_frozen(&state.cgroup, false);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while state.alive() && Instant::now() < deadline {
            if let Some(fd) = &process {
                readable(fd, Duration::from_millis(100));
            } else {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    cgroup::remove_dirs(state.cgroup.clone()).map_err(crate::container::RunError::from)?;
    if let Err(e) = hooks::run(state.hooks.as_ref(), Point::Poststop, &state.report_as("stopped", 0), Place::Runtime) {
        eprintln!("sbx-runtime: warning: {e}");
    }
    let dir = State::dir(root, id);
    fs::remove_dir_all(&dir).map_err(RuntimeError::io(format!("remove {}", dir.display())))?;
    let ended = Now { status: LifeStatus::Exited, ..Now::created() };
    tell(&state, plugins, Event::Remove, ended);
    Ok(())
}

/// `ps`: the container's processes (host pids), as JSON (what containerd asks for) or `ps -f` of
/// them with `options` (as runc does).
pub fn ps(root: &Path, id: &str, json: bool, options: &[String]) -> Result<String, RuntimeError> {
    let state = State::load(root, id)?;
    let pids = processes(&state);
    if json {
        return Ok(serde_json::to_string(&pids).expect("numbers serialize"));
    }
    let list: Vec<String> = pids.iter().map(i32::to_string).collect();
    let mut cmd = std::process::Command::new("ps");
    cmd.args(if options.is_empty() { vec!["-f".to_string()] } else { options.to_vec() });
    if !list.is_empty() {
        cmd.arg("-p").arg(list.join(","));
    }
    let out = cmd.output().map_err(RuntimeError::io("run ps"))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `list`: every container under `root`, as a table or JSON.
pub fn list(root: &Path, json: bool) -> Result<String, RuntimeError> {
    let mut states = Vec::new();
    if let Ok(entries) = fs::read_dir(root) {
        for entry in entries.flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if let Ok(state) = State::load(root, &id) {
                states.push(state);
            }
        }
    }
    states.sort_by(|a, b| a.created.cmp(&b.created));
    if json {
        let all: Vec<_> = states.iter().map(|s| s.report(root)).collect();
        return Ok(serde_json::to_string(&all).expect("JSON values serialize"));
    }
    let mut out = format!("{:<20} {:<8} {:<10} {:<40} {}\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED");
    for s in &states {
        let status = s.status(root);
        let pid = if status == Status::Stopped { 0 } else { s.pid };
        out.push_str(&format!(
            "{:<20} {:<8} {:<10} {:<40} {}\n",
            s.id,
            pid,
            status.name(),
            s.bundle.display(),
            s.created
        ));
    }
    Ok(out)
}

/// `spec`: a default config.json in `bundle`, as runc writes (`sh` on a terminal, the rootfs at
/// `rootfs`, the hostname `sbx`).
pub fn spec(bundle: &Path) -> Result<(), RuntimeError> {
    let path = bundle.join("config.json");
    if path.exists() {
        return Err(RuntimeError::NotSupported(format!("{} exists; remove it first", path.display())));
    }
    let mut spec = oci_spec::runtime::Spec::default();
    spec.set_hostname(Some("sbx".into()));
    let text = serde_json::to_string_pretty(&spec).expect("a spec serializes");
    fs::write(&path, text).map_err(RuntimeError::io(format!("write {}", path.display())))
}

/// `features`: what this runtime supports, in the runtime-spec's features format.
pub fn features() -> serde_json::Value {
    let namespaces = ["cgroup", "ipc", "mount", "network", "pid", "user", "uts"];
    let caps: Vec<String> = crate::spec::caps::NAMES.iter().map(|s| s.to_string()).collect();
    serde_json::json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": "1.2.0",
        "hooks": ["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"],
        "mountOptions": ["ro", "rw", "bind", "rbind", "nosuid", "nodev", "noexec"],
        "linux": {
            "namespaces": namespaces,
            "capabilities": caps,
            "cgroup": { "v1": true, "v2": true, "systemd": false, "systemdUser": false },
            "seccomp": { "enabled": true },
            "apparmor": { "enabled": false },
            "selinux": { "enabled": false }
        },
        "annotations": { "org.opencontainers.runc.version": "none: sbx" }
    })
}
