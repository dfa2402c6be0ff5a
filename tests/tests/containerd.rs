//! sbx under a real engine: Debian's containerd, started by the test with a config, root, state
//! and socket of its own, runs containers through its runc shim (io.containerd.runc.v2) with sbx
//! as the runc binary (`ctr run --runc-binary PATH/sbx-runtime`). containerd is stopped and its
//! directories removed at the end, with nothing left mounted.

use sbx_tests::harness::{
    Run, Sandbox, has_tool, is_root, plugin_arg, sbx_bin, test_image, unmount_left_under, wait_for,
};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

struct Containerd {
    dir: PathBuf,
    namespace: String,
    daemon: Child,
    /// The runc binary the shim is given: a link to sbx named sbx-runtime.
    runtime: PathBuf,
}

impl Containerd {
    /// Starts containerd, or None when it is not installed (a failure under CI).
    fn start(s: &Sandbox) -> Option<Containerd> {
        if !has_tool("containerd") {
            return None;
        }
        let dir = s.scratch.join("ctd");
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.display();
        let config = format!(
            "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\ndisabled_plugins = [\"io.containerd.grpc.v1.cri\"]\n\
             [grpc]\n  address = \"{d}/sock\"\n[ttrpc]\n  address = \"{d}/sock.ttrpc\"\n[debug]\n  address = \"{d}/debug.sock\"\n"
        );
        std::fs::write(dir.join("config.toml"), config).unwrap();
        let log = std::fs::File::create(dir.join("log")).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(dir.join("config.toml"))
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting containerd");
        let runtime = dir.join("sbx-runtime");
        std::os::unix::fs::symlink(sbx_bin(), &runtime).unwrap();
        let namespace = format!("sbx-test-{}", std::process::id());
        let c = Containerd { dir, namespace, daemon, runtime };
        wait_for("containerd to answer", || c.ctr(&["version"]).code == 0);
        Some(c)
    }

    fn ctr(&self, args: &[&str]) -> Run {
        self.ctr_command(args).output().unwrap().into()
    }

    fn ctr_command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("ctr");
        cmd.arg("--address").arg(self.dir.join("sock")).args(["-n", &self.namespace]).args(args).stdin(Stdio::null());
        cmd
    }

    /// `ctr run ARGS` with sbx as the shim's runc binary `runtime`.
    fn run_with(&self, runtime: &Path, args: &[&str]) -> Run {
        let runtime = runtime.to_string_lossy();
        let mut all = vec!["run", "--runtime", "io.containerd.runc.v2", "--runc-binary", &runtime];
        all.extend(args);
        self.ctr(&all)
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let tasks = self.ctr(&["task", "ls", "-q"]);
        for id in tasks.stdout.lines() {
            let _ = self.ctr(&["task", "kill", "-s", "KILL", id]);
            let _ = self.ctr(&["task", "delete", "-f", id]);
        }
        for id in self.ctr(&["container", "ls", "-q"]).stdout.lines() {
            let _ = self.ctr(&["container", "rm", id]);
        }
        let _ = Command::new("kill").arg(self.daemon.id().to_string()).status();
        let _ = self.daemon.wait();
        let left = unmount_left_under(&[&self.dir]);
        // ctr gives each container the cgroup path /NAMESPACE/ID: the containers' are gone with
        // them, the namespace's own directories are removed here.
        let cgroups: Vec<PathBuf> = sbx_tests::harness::CGROUP_MOUNTS
            .iter()
            .map(|c| Path::new("/sys/fs/cgroup").join(c).join(&self.namespace))
            .filter(|d| d.exists())
            .collect();
        let stuck: Vec<_> = cgroups.iter().filter(|d| std::fs::remove_dir(d).is_err()).collect();
        // The shim keeps its runtime's state under /run/containerd/runc/NAMESPACE.
        let _ = std::fs::remove_dir_all(Path::new("/run/containerd/runc").join(&self.namespace));
        let _ = std::fs::remove_dir_all(&self.dir);
        if !std::thread::panicking() {
            assert!(left.is_empty(), "mounts of containerd's directories were left: {left:?}");
            assert!(stuck.is_empty(), "cgroups of containers were left in {stuck:?}");
        }
    }
}

#[test]
fn containerd_runs_containers_with_sbx_as_its_runtime() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let Some(c) = Containerd::start(&s) else { return };
    let archive = s.scratch.join("busybox.tar");
    test_image("busybox").unwrap().write_docker_archive(&archive).unwrap();
    let r = c.ctr(&["image", "import", &archive.to_string_lossy()]);
    assert_eq!(r.code, 0, "{r:?}");
    let image = "docker.io/library/busybox:latest";

    // A container's life through the shim, its output and exit status.
    let r = c.run_with(
        &c.runtime,
        &["--rm", image, "once", "sh", "-c", "echo hello from sbx; cat /proc/sys/kernel/hostname; exit 3"],
    );
    assert_eq!(r.code, 3, "the exit status comes back through the shim: {r:?}");
    // ctr names no hostname: the container keeps the host's, as with runc.
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(r.stdout, format!("hello from sbx\n{host}"), "{r:?}");

    // A detached task: running, killed, deleted.
    let r = c.run_with(&c.runtime, &["-d", image, "bg", "sleep", "1000"]);
    assert_eq!(r.code, 0, "{r:?}");
    let running =
        |status: &str| c.ctr(&["task", "ls"]).stdout.lines().any(|l| l.starts_with("bg ") && l.contains(status));
    assert!(running("RUNNING"), "{:?}", c.ctr(&["task", "ls"]));
    let r =
        c.ctr(&["task", "exec", "--exec-id", "e1", "bg", "sh", "-c", "echo in the task; cat /proc/1/cmdline; exit 4"]);
    assert_eq!(r.code, 4, "an exec's status comes back: {r:?}");
    assert_eq!(r.stdout, "in the task\nsleep\u{0}1000\u{0}", "it runs beside the task's process: {r:?}");
    let pid = c
        .ctr(&["task", "ls"])
        .stdout
        .lines()
        .find(|l| l.starts_with("bg "))
        .map(|l| l.split_whitespace().nth(1).unwrap().to_string());
    let r = c.ctr(&["task", "ps", "bg"]);
    assert!(
        r.code == 0 && r.stdout.lines().any(|l| Some(l.split_whitespace().next().unwrap_or("")) == pid.as_deref()),
        "{pid:?}: {r:?}"
    );
    let r = c.ctr(&["task", "pause", "bg"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(running("PAUSED"), "{:?}", c.ctr(&["task", "ls"]));
    let r = c.ctr(&["task", "resume", "bg"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(running("RUNNING"), "{:?}", c.ctr(&["task", "ls"]));
    let r = c.ctr(&["task", "kill", "-s", "KILL", "bg"]);
    assert_eq!(r.code, 0, "{r:?}");
    wait_for("the task to stop", || running("STOPPED"));
    assert_eq!(c.ctr(&["task", "delete", "bg"]).code, 0);
    assert_eq!(c.ctr(&["container", "rm", "bg"]).code, 0);

    // A terminal: the pty's master reaches the shim through the console socket.
    let ctr = c.ctr_command(&[]).get_args().map(|a| a.to_string_lossy().into_owned()).collect::<Vec<_>>().join(" ");
    let line = format!(
        "ctr {ctr} run --rm -t --runtime io.containerd.runc.v2 --runc-binary {} {image} tty sh -c 'tty; echo on-a-tty'",
        c.runtime.display()
    );
    let r: Run =
        Command::new("script").args(["-qec", &line, "/dev/null"]).stdin(Stdio::null()).output().unwrap().into();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("/dev/pts/0") && r.stdout.contains("on-a-tty"), "{r:?}");
    let r = c.run_with(&c.runtime, &["-d", image, "bg2", "sleep", "1000"]);
    assert_eq!(r.code, 0, "{r:?}");
    let line = format!("ctr {ctr} task exec -t --exec-id e2 bg2 sh -c 'tty; echo exec-on-a-tty'");
    let r: Run =
        Command::new("script").args(["-qec", &line, "/dev/null"]).stdin(Stdio::null()).output().unwrap().into();
    assert!(r.stdout.contains("/dev/pts/") && r.stdout.contains("exec-on-a-tty"), "{r:?}");
    assert_eq!(c.ctr(&["task", "kill", "-s", "KILL", "bg2"]).code, 0);
    wait_for("the second task to stop", || {
        c.ctr(&["task", "ls"]).stdout.lines().any(|l| l.starts_with("bg2 ") && l.contains("STOPPED"))
    });
    assert_eq!(c.ctr(&["task", "delete", "bg2"]).code, 0);
    assert_eq!(c.ctr(&["container", "rm", "bg2"]).code, 0);

    // A policy's deny, through the configuration the runtime reads, reaches ctr's user.
    let cfg = s.write_config(&format!("plugins:\n  - path: {}\n", plugin_arg("non-root")));
    let denying = c.dir.join("sbx-runtime-denying");
    std::fs::write(&denying, format!("#!/bin/sh\nexec {} runtime --config {cfg} \"$@\"\n", sbx_bin().display()))
        .unwrap();
    std::fs::set_permissions(&denying, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let r = c.run_with(&denying, &["--rm", image, "denied", "true"]);
    assert!(r.code != 0 && r.stderr.contains("denied by policy non-root"), "{r:?}");
    assert!(c.ctr(&["task", "ls", "-q"]).stdout.trim().is_empty());
    let _ = c.ctr(&["container", "rm", "denied"]);
    drop(c);
    s.assert_clean(0);
}
