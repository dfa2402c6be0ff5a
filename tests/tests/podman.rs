//! sbx under podman: `podman --runtime PATH/sbx-runtime` with a store, run root and runtime state
//! of the test's own, no network (so nothing of the host's network changes) and the rlimits this
//! machine allows. podman drives the runtime CLI through conmon as it drives crun and runc. Its
//! containers and images are removed at the end, with nothing left mounted.

use sbx_tests::harness::{PodmanTraces, Run, Sandbox, has_tool, is_root, plugin_arg, sbx_bin, test_image};
use std::path::PathBuf;
use std::process::{Command, Stdio};

struct Podman {
    dir: PathBuf,
    /// podman's run root (it takes at most 50 characters, so not under the scratch directory).
    run: PathBuf,
    runtime: PathBuf,
    /// Its mounts and cgroups, removed at the end.
    traces: PodmanTraces,
}

/// podman's defaults raise RLIMIT_NOFILE and RLIMIT_NPROC above this machine's hard limits.
const RUN: [&str; 7] = ["run", "--network", "none", "--ulimit", "nofile=1024:20000", "--ulimit", "nproc=4096:4096"];

impl Podman {
    /// podman with the busybox test image loaded, or None when podman is not installed (a failure
    /// under CI).
    fn new(s: &Sandbox) -> Option<Podman> {
        if !has_tool("podman") {
            return None;
        }
        let dir = s.scratch.join("podman");
        std::fs::create_dir_all(&dir).unwrap();
        let runtime = dir.join("sbx-runtime");
        std::os::unix::fs::symlink(sbx_bin(), &runtime).unwrap();
        let run = PathBuf::from(format!("/run/sbx-podman-{}", std::process::id()));
        let traces = PodmanTraces::new(&[&dir, &run]);
        let p = Podman { dir, run, runtime, traces };
        let archive = s.scratch.join("busybox.tar");
        test_image("busybox").unwrap().write_docker_archive(&archive).unwrap();
        let r = p.podman(&["load", "-i", &archive.to_string_lossy()]);
        assert_eq!(r.code, 0, "{r:?}");
        Some(p)
    }

    fn command(&self, runtime: &std::path::Path, args: &[&str]) -> Command {
        let mut cmd = Command::new("podman");
        cmd.arg("--root")
            .arg(self.dir.join("root"))
            .arg("--runroot")
            .arg(&self.run)
            .args(["--cgroup-manager", "cgroupfs", "--events-backend", "none", "--runtime"])
            .arg(runtime)
            .args(args)
            .stdin(Stdio::null());
        cmd
    }

    fn podman(&self, args: &[&str]) -> Run {
        self.command(&self.runtime, args).output().unwrap().into()
    }

    fn run(&self, args: &[&str]) -> Run {
        self.podman(&[&RUN[..], args].concat())
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.podman(&["rm", "-af", "-t", "0"]);
        let _ = self.podman(&["rmi", "-af"]);
        self.traces.remove();
    }
}

#[test]
fn podman_runs_containers_with_sbx_as_its_runtime() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let Some(p) = Podman::new(&s) else { return };
    let image = "localhost/busybox:latest";
    let r = p.run(&["--rm", image, "sh", "-c", "echo hello from sbx; cat /proc/1/cmdline; exit 3"]);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (3, "hello from sbx\nsh\0-c\0echo hello from sbx; cat /proc/1/cmdline; exit 3\0"),
        "{r:?}"
    );

    // A detached container: exec, pause, unpause, stop, rm.
    let r = p.run(&["-d", "--name", "bg", image, "sleep", "1000"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = p.podman(&["exec", "bg", "sh", "-c", "echo in exec; exit 4"]);
    assert_eq!((r.code, r.stdout.as_str()), (4, "in exec\n"), "{r:?}");
    let status = || p.podman(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]).stdout;
    assert_eq!(p.podman(&["pause", "bg"]).code, 0);
    assert!(status().starts_with("bg Paused"), "{}", status());
    assert_eq!(p.podman(&["unpause", "bg"]).code, 0);
    assert!(status().starts_with("bg Up"), "{}", status());
    let r = p.podman(&["stop", "-t", "1", "bg"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(status().starts_with("bg Exited"), "{}", status());
    assert_eq!(p.podman(&["rm", "bg"]).code, 0);

    // A policy's deny, through a runtime that names the configuration.
    let cfg = s.write_config(&format!("plugins:\n  - path: {}\n", plugin_arg("non-root")));
    let wrapper = p.dir.join("sbx-runtime-policy");
    std::fs::write(&wrapper, format!("#!/bin/sh\nexec {} runtime --config {cfg} \"$@\"\n", sbx_bin().display()))
        .unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let r: Run = p.command(&wrapper, &[&RUN[..], &["--rm", image, "true"]].concat()).output().unwrap().into();
    assert!(r.code != 0 && r.stderr.contains("denied by policy non-root"), "{r:?}");
    let r: Run = p
        .command(&wrapper, &[&RUN[..], &["--rm", "--user", "1000", image, "id", "-u"]].concat())
        .output()
        .unwrap()
        .into();
    assert_eq!((r.code, r.stdout.as_str()), (0, "1000\n"), "{r:?}");
    let left = p.podman(&["ps", "-aq"]);
    assert!(left.stdout.trim().is_empty(), "{left:?}");
}
