//! Running the real `sbx` binary as root against a store of its own, and checking that nothing
//! was left behind (mounts, cgroups, container directories, staging directories).

use crate::image::{Image, Layer, busybox};
use anyhow::{Result, bail};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is in the workspace").to_path_buf()
}

/// The sbx binary under test: $SBX_BIN, else the workspace's release build, else the debug one.
pub fn sbx_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SBX_BIN") {
        return p.into();
    }
    let target = workspace().join("target");
    let release = target.join("release/sbx");
    if release.exists() { release } else { target.join("debug/sbx") }
}

/// A plugin's path as a command-line argument.
pub fn plugin_arg(name: &str) -> String {
    plugin(name).display().to_string()
}

/// A plugin built by plugins/build.sh.
pub fn plugin(name: &str) -> PathBuf {
    built(workspace().join("target/plugins").join(format!("{name}.wasm")))
}

/// A plugin written in `lang` (`python`, `js`) built by plugins/build.sh.
pub fn lang_plugin(lang: &str, name: &str) -> PathBuf {
    built(workspace().join("target/plugins").join(lang).join(format!("{name}.wasm")))
}

/// The JSON values of a file of one per line (an audit log).
pub fn json_lines(path: &Path) -> Vec<serde_json::Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{}: {e}: {l}", path.display()))).collect()
}

fn built(p: PathBuf) -> PathBuf {
    assert!(p.exists(), "{} is missing: run plugins/build.sh first", p.display());
    p
}

/// The escape probe (tests/probe/escape.rs) as a static binary that runs in any image: built with
/// rustc on first use, and again when its source is newer. Test processes build to their own file
/// and rename it into place; a process builds it once.
pub fn escape_probe() -> Vec<u8> {
    static BUILT: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BUILT.get_or_init(build_escape_probe).clone()
}

fn build_escape_probe() -> Vec<u8> {
    let source = workspace().join("tests/probe/escape.rs");
    let built = workspace().join("target/escape-probe");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    if modified(&built) < modified(&source) {
        let part = built.with_extension(format!("{}", std::process::id()));
        let out = Command::new("rustc")
            .args(["-O", "-C", "target-feature=+crt-static", "--edition", "2021", "-o"])
            .arg(&part)
            .arg(&source)
            .output()
            .expect("running rustc");
        assert!(out.status.success(), "building the escape probe: {}", String::from_utf8_lossy(&out.stderr));
        std::fs::rename(&part, &built).expect("placing the escape probe");
    }
    std::fs::read(&built).expect("reading the escape probe")
}

/// Whether `tool` (a peer the test drives: runc, podman, containerd) is installed. A test without
/// it is skipped, except under CI, where examples/setup.sh installs it: there it fails.
pub fn has_tool(tool: &str) -> bool {
    if Command::new(tool).arg("--version").output().is_ok() {
        return true;
    }
    assert!(std::env::var_os("CI").is_none(), "{tool} is not installed, and CI is set (examples/setup.sh installs it)");
    eprintln!("skipped: needs {tool}");
    false
}

/// Unmounts (lazily, deepest first) whatever is still mounted under any of `dirs`; returns the
/// mount points it found, for the caller to assert there were none.
pub fn unmount_left_under(dirs: &[&Path]) -> Vec<String> {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let under = |m: &&str| dirs.iter().any(|d| Path::new(m).starts_with(d));
    let mut left: Vec<String> =
        mounts.lines().filter_map(|l| l.split(' ').nth(4)).filter(under).map(String::from).collect();
    left.sort_by_key(|m| std::cmp::Reverse(m.len()));
    for m in &left {
        let _ = Command::new("umount").arg("-l").arg(m).status();
    }
    left
}

/// True when the test can run. Without root it is skipped, except under CI, where a skip would
/// hide a suite that did not run: there it fails.
pub fn is_root() -> bool {
    // SAFETY: getuid(2) takes nothing and cannot fail.
    let root = unsafe { libc::getuid() } == 0;
    if !root {
        assert!(std::env::var_os("CI").is_none(), "integration tests need root, and CI is set: refusing to skip");
        eprintln!("skipped: needs root");
    }
    root
}

/// Polls `done` every 20 ms; panics naming `what` after 15 s.
pub fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = std::time::Instant::now();
    while !done() {
        assert!(start.elapsed() < std::time::Duration::from_secs(15), "timed out waiting for {what}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// A command that runs what the caller appends (a program and its arguments) in a mount namespace
/// of its own where /etc/subuid and /etc/subgid both read `file`.
pub fn with_subids_of(file: &Path) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c"])
        .arg("mount --bind \"$0\" /etc/subuid && mount --bind \"$0\" /etc/subgid && exec \"$@\"")
        .arg(file);
    cmd
}

/// What podman and buildah leave on the machine that a test must take away: mounts under their
/// storage and run root, and podman's cgroups (`libpod_parent`, with `conmon` and the containers'
/// beside it) where the test made them.
pub struct PodmanTraces {
    dirs: Vec<PathBuf>,
    cgroups: Vec<PathBuf>,
}

impl PodmanTraces {
    /// Before the tools run: the cgroups that do not exist yet are the test's to remove.
    pub fn new(dirs: &[&Path]) -> PodmanTraces {
        let cgroups = CGROUP_MOUNTS
            .iter()
            .map(|c| Path::new("/sys/fs/cgroup").join(c).join("libpod_parent"))
            .filter(|d| !d.exists())
            .collect();
        PodmanTraces { dirs: dirs.iter().map(|d| d.to_path_buf()).collect(), cgroups }
    }

    /// Unmounts and removes what is left (the directories too); panics naming what was left,
    /// unless the test failed already.
    pub fn remove(&self) {
        let dirs: Vec<&Path> = self.dirs.iter().map(PathBuf::as_path).collect();
        let left = unmount_left_under(&dirs);
        for d in &self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
        let mut stuck = Vec::new();
        for dir in self.cgroups.iter().filter(|d| d.exists()) {
            let _ = std::fs::remove_dir(dir.join("conmon"));
            if std::fs::remove_dir(dir).is_err() {
                stuck.push(dir.clone());
            }
        }
        if !std::thread::panicking() {
            assert!(stuck.is_empty(), "cgroups of containers were left in {stuck:?}");
            assert!(left.is_empty(), "mounts of podman's directories were left: {left:?}");
        }
    }
}

/// A store of its own under /var/tmp, removed on drop (after checking it left nothing behind).
pub struct Sandbox {
    pub root: PathBuf,
    pub scratch: PathBuf,
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox::new()
    }
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Run {
    fn from(o: Output) -> Run {
        Run {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "exit {}\n--- stdout\n{}--- stderr\n{}", self.code, self.stdout, self.stderr)
    }
}

impl Sandbox {
    pub fn new() -> Sandbox {
        FIRST_SANDBOX.get_or_init(std::time::SystemTime::now);
        let base = PathBuf::from(format!("/var/tmp/sbx-test-{}-{}", std::process::id(), unique()));
        let root = base.join("store");
        let scratch = base.join("scratch");
        std::fs::create_dir_all(&scratch).expect("scratch dir");
        Sandbox { root, scratch }
    }

    /// A sandbox with the busybox test image loaded.
    pub fn with_busybox() -> Sandbox {
        let s = Sandbox::new();
        s.load(&test_image("busybox").expect("the busybox test image"));
        s
    }

    /// `sbx ARGS` against this store, for tests that need to spawn, kill or add environment. The
    /// tests share a plugin compile cache of their own (not the machine's).
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(sbx_bin());
        cmd.args(args)
            .env("SBX_ROOT", &self.root)
            .env("SBX_PLUGIN_CACHE", workspace().join("target/sbx-test-plugin-cache"))
            // Tests reach registries on 127.0.0.1 only: anything else goes to a proxy that is not
            // there (a port of 127.0.0.1 nothing listens on), so a test that pulls by mistake
            // fails instead of reaching out.
            .env("HTTPS_PROXY", "http://127.0.0.1:9")
            .env("HTTP_PROXY", "http://127.0.0.1:9")
            .env("NO_PROXY", "127.0.0.1")
            // Logins of its own, not the machine's.
            .env("REGISTRY_AUTH_FILE", self.scratch.join("auth.json"))
            .env("DOCKER_CONFIG", self.scratch.join("docker"))
            // Bridge networks only where a test asks for them, in a network namespace of its own
            // (see [`NetNs`]): the others leave the machine's network as it is.
            .env("SBX_NETWORK", "none")
            .stdin(Stdio::null());
        cmd
    }

    /// `WRAPPER... sbx ARGS` (`taskset -c 0`, `unshare --net`), with the environment of
    /// [`Sandbox::command`].
    pub fn command_under(&self, wrapper: &[&str], args: &[&str]) -> Command {
        let sbx = self.command(args);
        let (program, wrapper_args) = wrapper.split_first().expect("a wrapper program");
        let mut wrapped = Command::new(program);
        wrapped.args(wrapper_args).arg(sbx.get_program()).args(sbx.get_args()).stdin(Stdio::null());
        for (k, v) in sbx.get_envs() {
            match v {
                Some(v) => wrapped.env(k, v),
                None => wrapped.env_remove(k),
            };
        }
        wrapped
    }

    /// `sbx ARGS` run in the network namespace `ns`, with docker's default network (bridge).
    pub fn command_in(&self, ns: &NetNs, args: &[&str]) -> Command {
        let mut wrapped = self.command_under(&["nsenter", &format!("--net={}", ns.path())], args);
        wrapped.env_remove("SBX_NETWORK");
        wrapped
    }

    pub fn sbx_in(&self, ns: &NetNs, args: &[&str]) -> Run {
        self.command_in(ns, args).output().expect("running sbx").into()
    }

    pub fn sbx(&self, args: &[&str]) -> Run {
        self.command(args).output().expect("running sbx").into()
    }

    /// `sbx ARGS`, killed (and the test failed) if it has not ended within `limit`: for commands
    /// that a hostile input could make hang.
    pub fn sbx_within(&self, limit: std::time::Duration, args: &[&str]) -> Run {
        let mut child = self.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("running sbx");
        let start = std::time::Instant::now();
        while child.try_wait().expect("waiting for sbx").is_none() {
            if start.elapsed() > limit {
                let _ = child.kill();
                let r: Run = child.wait_with_output().expect("sbx's output").into();
                panic!("sbx {args:?} did not end within {limit:?}: {r:?}");
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        child.wait_with_output().expect("sbx's output").into()
    }

    /// Writes `yaml` as a config file in the scratch dir and returns its path.
    pub fn write_config(&self, yaml: &str) -> String {
        let path = self.scratch.join(format!("sbx-{}.yaml", unique()));
        std::fs::write(&path, yaml).expect("writing config");
        path.display().to_string()
    }

    /// Writes `image` as an OCI layout in the scratch dir and returns its path.
    pub fn oci(&self, image: &Image, name: &str) -> String {
        let dir = self.scratch.join(name);
        image.write_oci_layout(&dir, crate::image::Compression::Gzip).expect("writing layout");
        dir.to_string_lossy().into_owned()
    }

    /// Loads `image` into the store under its name.
    pub fn load(&self, image: &Image) {
        let path = self.oci(image, &format!("img-{}", unique()));
        let r = self.sbx(&["load", "-i", &path]);
        assert_eq!(r.code, 0, "{r:?}");
    }

    /// Loads busybox as `NAME:latest` with the image config `config` (docker's names).
    pub fn load_busybox_as(&self, name: &str, config: serde_json::Value) {
        self.load(&Image::new(&format!("{name}:latest"), vec![busybox().unwrap()]).with_config(config));
    }

    /// Loads busybox as `NAME:latest`, running `true`, with the label `key=value`: how a test tells
    /// the test plugins what to do.
    pub fn load_labelled(&self, name: &str, key: &str, value: &str) {
        self.load_busybox_as(name, serde_json::json!({ "Cmd": ["true"], "Labels": { key: value } }));
    }

    pub fn containers(&self) -> Vec<String> {
        list(&self.root.join("containers"))
    }

    pub fn layers(&self) -> Vec<String> {
        list(&self.root.join("layers"))
    }

    /// Panics if anything of this store is still mounted, a staging dir is left, or a cgroup of a
    /// container of this store remains.
    pub fn assert_clean(&self, expect_containers: usize) {
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        let root = self.root.to_string_lossy();
        assert!(!mounts.contains(root.as_ref()), "a mount of {root} is left:\n{mounts}");
        assert!(list(&self.root.join("tmp")).is_empty(), "staging left in tmp/: {:?}", list(&self.root.join("tmp")));
        let ids = self.containers();
        assert_eq!(ids.len(), expect_containers, "container dirs: {ids:?}");
        for id in ids {
            for c in CGROUP_MOUNTS {
                let cg = Path::new("/sys/fs/cgroup").join(c).join("sbx").join(&id);
                assert!(!cg.exists(), "cgroup {} is left", cg.display());
            }
        }
        let orphans = orphan_cgroups();
        assert!(orphans.is_empty(), "cgroups of containers that no test store has: {orphans:?}");
    }
}

/// The cgroup hierarchies (directories of /sys/fs/cgroup) that sbx, runc or the engines may make
/// a container's cgroup in.
pub const CGROUP_MOUNTS: [&str; 16] = [
    "pids",
    "memory",
    "cpu",
    "cpuacct",
    "cpuset",
    "devices",
    "freezer",
    "blkio",
    "net_cls",
    "perf_event",
    "hugetlb",
    "net_prio",
    "misc",
    "rdma",
    "systemd",
    "unified",
];

/// When this test process made its first sandbox: older cgroups are none of its business.
static FIRST_SANDBOX: std::sync::OnceLock<std::time::SystemTime> = std::sync::OnceLock::new();

/// sbx's cgroups made since this process's first sandbox whose container is in no test store: a
/// cgroup is made after its container's directory and removed before it, so each of these was
/// left behind by some test of this process (one running in parallel included).
fn orphan_cgroups() -> Vec<PathBuf> {
    // Another test's container can be seen half-way: its cgroup listed before its new store was,
    // or after its directory went with the cgroup about to go. A leak stays; such a sighting does
    // not, so what is found is looked at again a moment later.
    let found = orphan_cgroups_now();
    if found.is_empty() {
        return found;
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let again = orphan_cgroups_now();
    found.into_iter().filter(|c| again.contains(c)).collect()
}

fn orphan_cgroups_now() -> Vec<PathBuf> {
    let since = *FIRST_SANDBOX.get_or_init(std::time::SystemTime::now);
    let stores: Vec<PathBuf> = std::fs::read_dir("/var/tmp")
        .map(|d| d.flatten().map(|e| e.path()).filter(|p| p.to_string_lossy().contains("/sbx-test-")).collect())
        .unwrap_or_default();
    let in_a_store = |id: &str| stores.iter().any(|s| s.join("store/containers").join(id).exists());
    CGROUP_MOUNTS
        .iter()
        .flat_map(|c| {
            std::fs::read_dir(Path::new("/sys/fs/cgroup").join(c).join("sbx")).into_iter().flatten().flatten()
        })
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter(|e| e.metadata().and_then(|m| m.modified()).is_ok_and(|t| t >= since))
        .filter(|e| !in_a_store(&e.file_name().to_string_lossy()))
        .map(|e| e.path())
        .collect()
}

fn list(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}

impl Drop for Sandbox {
    /// A test that failed half-way may leave containers running or dead: `sbx rm -f` them first,
    /// so their cgroups go too, then the store.
    fn drop(&mut self) {
        let ids = self.containers();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids.iter().map(String::as_str));
            let _ = self.command(&args).output();
        }
        if let Some(base) = self.root.parent() {
            let _ = std::fs::remove_dir_all(base);
        }
    }
}

/// A network namespace made for a test (`ip netns add`, loopback up), where bridges, rules and
/// traffic stay; removed with everything in it when dropped.
pub struct NetNs {
    pub name: String,
}

impl NetNs {
    pub fn new() -> NetNs {
        let name = format!("sbxt-{}-{}", std::process::id(), unique() % 1_000_000_007);
        let ok = Command::new("ip").args(["netns", "add", &name]).status().is_ok_and(|s| s.success());
        assert!(ok, "ip netns add {name}");
        let ns = NetNs { name };
        ns.run(&["ip", "link", "set", "lo", "up"]);
        ns
    }

    pub fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    /// A TCP socket listening at `addr` in the namespace (a thread enters it to make the socket,
    /// which stays in it).
    pub fn listen(&self, addr: &str) -> std::net::TcpListener {
        let ns = std::fs::File::open(self.path()).expect("the namespace's file");
        let addr = addr.to_string();
        std::thread::spawn(move || {
            use std::os::fd::AsRawFd;
            // SAFETY: setns(2) on an open namespace file, for this thread only.
            let entered = unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(entered, 0, "setns: {}", std::io::Error::last_os_error());
            std::net::TcpListener::bind(&addr).expect("listening in the namespace")
        })
        .join()
        .expect("the listening thread")
    }

    /// Runs `argv` in the namespace; its output, failing the test if it fails.
    pub fn run(&self, argv: &[&str]) -> String {
        let r: Run = Command::new("nsenter")
            .arg(format!("--net={}", self.path()))
            .args(argv)
            .output()
            .expect("running nsenter")
            .into();
        assert_eq!(r.code, 0, "{argv:?} in {}: {r:?}", self.name);
        r.stdout
    }
}

impl Default for NetNs {
    fn default() -> NetNs {
        NetNs::new()
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos() as u64);
    N.fetch_add(1, Ordering::Relaxed) * 1_000_000_000 + t
}

/// The test images, by kind: `busybox`, `layered` (whiteouts and an opaque dir), `setuid`,
/// `many:N` (N layers), `user` (runs as nobody by default).
pub fn test_image(kind: &str) -> Result<Image> {
    Ok(match kind {
        "busybox" => Image::new("busybox:latest", vec![busybox()?]),
        "layered" => Image::new(
            "layered:latest",
            vec![
                busybox()?.file("etc/motd", 0o644, b"welcome\n").dir("data", 0o755).file("data/old", 0o644, b"old\n"),
                Layer::new().whiteout("etc/motd").dir("data", 0o755).opaque("data").file("data/new", 0o644, b"new\n"),
                Layer::new().file("etc/layer3", 0o644, b"third\n"),
            ],
        ),
        "setuid" => Image::new(
            "setuid:latest",
            vec![
                busybox()?,
                Layer::new().dir("usr", 0o755).dir("usr/bin", 0o755).file("usr/bin/su", 0o4755, b"#!/bin/sh\n"),
            ],
        ),
        "user" => Image::new("user:latest", vec![busybox()?])
            .with_config(serde_json::json!({ "User": "nobody", "Cmd": ["id", "-u"], "WorkingDir": "/tmp/work" })),
        k if k.starts_with("many:") => {
            let n: usize = k[5..].parse()?;
            let mut layers = vec![busybox()?.dir("layers", 0o755)];
            for i in 1..n {
                layers.push(Layer::new().dir("layers", 0o755).file(
                    &format!("layers/{i}"),
                    0o644,
                    format!("{i}\n").as_bytes(),
                ));
            }
            Image::new(&format!("many{n}:latest"), layers)
        }
        k if k.starts_with("files:") => {
            let n: usize = k[6..].parse()?;
            let mut layer = busybox()?.dir("files", 0o755);
            for d in 0..n.div_ceil(100) {
                layer = layer.dir(&format!("files/{d}"), 0o755);
                for f in 0..100.min(n - d * 100) {
                    layer = layer.file(&format!("files/{d}/{f}"), 0o644, format!("{d}/{f}\n").as_bytes());
                }
            }
            Image::new(&format!("files{n}:latest"), vec![layer])
        }
        other => bail!("unknown test image kind '{other}'"),
    })
}
