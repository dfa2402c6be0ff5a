//! The bundle's own hooks (config.json's `hooks`): programs the engine names, run at the
//! runtime-spec's points with the container's state as JSON on stdin. prestart, createRuntime,
//! poststart and poststop run in the runtime's namespaces; createContainer and startContainer in
//! the container's (its mount, network, IPC, UTS and cgroup namespaces; not its PID namespace).
//! They are the engine's programs and run with the runtime's privileges, as runc runs them: they
//! are not sandboxed and the policies do not see them.

use oci_spec::runtime::{Hook, Hooks};
use std::io::{Read, Seek, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

/// The points of the container's life a hook runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Point {
    pub fn name(self) -> &'static str {
        match self {
            Point::Prestart => "prestart",
            Point::CreateRuntime => "createRuntime",
            Point::CreateContainer => "createContainer",
            Point::StartContainer => "startContainer",
            Point::Poststart => "poststart",
            Point::Poststop => "poststop",
        }
    }

    fn hooks(self, hooks: &Hooks) -> &[Hook] {
        let list = match self {
            Point::Prestart => hooks.prestart(),
            Point::CreateRuntime => hooks.create_runtime(),
            Point::CreateContainer => hooks.create_container(),
            Point::StartContainer => hooks.start_container(),
            Point::Poststart => hooks.poststart(),
            Point::Poststop => hooks.poststop(),
        };
        list.as_deref().unwrap_or(&[])
    }
}

/// Whether `hooks` has any hook at one of `points`.
pub fn any(hooks: Option<&Hooks>, points: &[Point]) -> bool {
    hooks.is_some_and(|h| points.iter().any(|p| !p.hooks(h).is_empty()))
}

#[derive(Debug, thiserror::Error)]
#[error("the bundle's {point} hook {path} {what}")]
pub struct HookError {
    point: &'static str,
    path: PathBuf,
    what: String,
}

/// Where hooks run: the runtime's namespaces, or those of the container whose process is `pid`.
#[derive(Debug, Clone, Copy)]
pub enum Place {
    Runtime,
    Container(i32),
}

/// The most of a hook's output an error shows.
const OUTPUT_SHOWN: u64 = 4096;

/// The namespaces a hook joins in the container, the mount namespace last (joining it changes
/// the root the others' paths would resolve in).
const CONTAINER_NAMESPACES: [&str; 5] = ["ipc", "uts", "net", "cgroup", "mnt"];

/// Runs the hooks of `point` in order, each given `state` on stdin; the first that fails (a
/// status other than 0, or its timeout passed) stops the rest and is the error.
pub fn run(hooks: Option<&Hooks>, point: Point, state: &serde_json::Value, place: Place) -> Result<(), HookError> {
    let list = hooks.map(|h| point.hooks(h)).unwrap_or(&[]);
    if list.is_empty() {
        return Ok(());
    }
    let input = serde_json::to_vec(state).expect("a state serializes");
    // Opened once for the point's hooks.
    let namespaces = match place {
        Place::Runtime => Vec::new(),
        Place::Container(pid) => CONTAINER_NAMESPACES
            .iter()
            .map(|ns| std::fs::File::open(format!("/proc/{pid}/ns/{ns}")).map(OwnedFd::from))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| HookError {
                point: point.name(),
                path: list[0].path().clone(),
                what: format!("cannot join the container's namespaces: {e}"),
            })?,
    };
    for hook in list {
        run_one(hook, point, &input, &namespaces)?;
    }
    Ok(())
}

/// Runs `hook`, in the namespaces `namespaces` (descriptors of a process's) when there are any.
fn run_one(hook: &Hook, point: Point, input: &[u8], namespaces: &[OwnedFd]) -> Result<(), HookError> {
    let fail = |what: String| HookError { point: point.name(), path: hook.path().clone(), what };
    let output = rustix::fs::memfd_create("sbx-hook", rustix::fs::MemfdFlags::CLOEXEC)
        .map(std::fs::File::from)
        .map_err(|e| fail(format!("cannot be started: {e}")))?;
    let mut cmd = Command::new(hook.path());
    if let Some((arg0, rest)) = hook.args().as_deref().and_then(|a| a.split_first()) {
        cmd.arg0(arg0).args(rest);
    }
    cmd.env_clear();
    for pair in hook.env().iter().flatten() {
        if let Some((k, v)) = pair.split_once('=') {
            cmd.env(k, v);
        }
    }
    let copy = |f: &std::fs::File| f.try_clone().map(Stdio::from).map_err(|e| fail(format!("cannot be started: {e}")));
    cmd.stdin(Stdio::piped()).stdout(copy(&output)?).stderr(copy(&output)?);
    let fds: Vec<i32> = namespaces.iter().map(|f| f.as_raw_fd()).collect();
    if !fds.is_empty() {
        // SAFETY: runs in the forked child before exec; setns(2) on descriptors opened above
        // (inherited) is a plain syscall that neither allocates nor takes locks.
        unsafe {
            cmd.pre_exec(move || {
                for fd in &fds {
                    if libc::setns(*fd, 0) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
    }
    let mut child = cmd.spawn().map_err(|e| fail(format!("cannot be started: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that does not read its state may close stdin: that is not a failure.
        let _ = stdin.write_all(input);
    }
    if let Some(seconds) = hook.timeout()
        && !crate::sys::wait::ended_within(child.id() as i32, Duration::from_secs(seconds as u64))
    {
        let _ = child.kill();
        let _ = child.wait();
        return Err(fail(format!("did not finish within its timeout of {seconds} s and was killed")));
    }
    let status = child.wait().map_err(|e| fail(format!("cannot be waited for: {e}")))?;
    if status.success() {
        return Ok(());
    }
    let mut shown = String::new();
    let mut output = output;
    let _ = output.rewind().and_then(|()| output.take(OUTPUT_SHOWN).read_to_string(&mut shown));
    let shown = shown.trim();
    Err(fail(if shown.is_empty() { format!("failed ({status})") } else { format!("failed ({status}): {shown}") }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(path: &str, args: &[&str], timeout: Option<i64>) -> Hook {
        let mut h = Hook::default();
        h.set_path(path.into());
        h.set_args(Some(args.iter().map(|a| a.to_string()).collect()));
        h.set_env(Some(vec!["WHO=hook".into()]));
        h.set_timeout(timeout);
        h
    }

    fn hooks(point: Point, list: Vec<Hook>) -> Hooks {
        let mut h = Hooks::default();
        match point {
            Point::Poststop => h.set_poststop(Some(list)),
            _ => h.set_prestart(Some(list)),
        };
        h
    }

    #[test]
    fn each_hook_gets_the_state_on_stdin_its_args_and_env_alone() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let script = format!("cat > {0}.state; echo \"$0 $1 $WHO ${{HOME:-nohome}}\" > {0}", out.display());
        let h = hooks(Point::Poststop, vec![hook("/bin/sh", &["named", "-c", &script, "zero", "one"], None)]);
        let state = serde_json::json!({"id": "c1", "status": "stopped"});
        run(Some(&h), Point::Poststop, &state, Place::Runtime).unwrap();
        let said: serde_json::Value =
            serde_json::from_slice(&std::fs::read(format!("{}.state", out.display())).unwrap()).unwrap();
        assert_eq!(said, state);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "zero one hook nohome\n", "its args and env alone");
        assert!(!any(Some(&h), &[Point::Prestart, Point::CreateRuntime]));
        assert!(any(Some(&h), &[Point::Poststop]));
        assert!(!any(None, &[Point::Poststop]));
    }

    #[test]
    fn a_failing_hook_stops_the_rest_and_says_what_it_printed() {
        let dir = tempfile::tempdir().unwrap();
        let second = dir.path().join("second");
        let h = hooks(
            Point::Prestart,
            vec![
                hook("/bin/sh", &["sh", "-c", "echo no network for you >&2; exit 3"], None),
                hook("/bin/sh", &["sh", "-c", &format!("touch {}", second.display())], None),
            ],
        );
        let e = run(Some(&h), Point::Prestart, &serde_json::json!({}), Place::Runtime).unwrap_err().to_string();
        assert!(e.contains("prestart hook /bin/sh failed (exit status: 3): no network for you"), "{e}");
        assert!(!second.exists(), "the hooks after a failed one do not run");
    }

    #[test]
    fn a_hook_past_its_timeout_is_killed_and_named() {
        let h = hooks(Point::Prestart, vec![hook("/bin/sleep", &["sleep", "10"], Some(1))]);
        let started = std::time::Instant::now();
        let e = run(Some(&h), Point::Prestart, &serde_json::json!({}), Place::Runtime).unwrap_err().to_string();
        assert!(e.contains("did not finish within its timeout of 1 s"), "{e}");
        assert!(started.elapsed() < Duration::from_secs(5));
        let missing = hooks(Point::Prestart, vec![hook("/no/such/hook", &[], None)]);
        let e = run(Some(&missing), Point::Prestart, &serde_json::json!({}), Place::Runtime).unwrap_err().to_string();
        assert!(e.contains("/no/such/hook cannot be started"), "{e}");
    }
}
