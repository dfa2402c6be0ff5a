//! A bundle of the busybox test image's files and a runtime root of its own, for the tests that
//! drive the runtime CLI (`sbx runtime VERB`) as engines do.

use crate::harness::{Run, Sandbox};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `cmd` with its output in files: the container's process inherits `create`'s stdout and
/// stderr (as runc's does), so pipes would stay open until it ends.
pub fn output(cmd: &mut Command) -> Run {
    let dir = std::env::temp_dir();
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let (out, err) = (dir.join(format!("sbx-rt-{n}.out")), dir.join(format!("sbx-rt-{n}.err")));
    let status =
        cmd.stdout(std::fs::File::create(&out).unwrap()).stderr(std::fs::File::create(&err).unwrap()).status().unwrap();
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: std::fs::read_to_string(&out).unwrap(),
        stderr: std::fs::read_to_string(&err).unwrap(),
    };
    let _ = (std::fs::remove_file(out), std::fs::remove_file(err));
    run
}

/// A bundle of the busybox test image's files and a runtime root of its own.
pub struct Bundle {
    pub s: Sandbox,
    pub dir: PathBuf,
    /// The runtime's state root (`--root`).
    pub root: PathBuf,
}

impl Bundle {
    pub fn new(args: &[&str]) -> Bundle {
        let s = Sandbox::with_busybox();
        let dir = s.scratch.join("bundle");
        std::fs::create_dir_all(&dir).unwrap();
        let layers = s.root.join("layers");
        let layer = std::fs::read_dir(&layers).unwrap().flatten().next().expect("the busybox layer").path();
        let cp = Command::new("cp").arg("-a").arg(layer.join("diff")).arg(dir.join("rootfs")).status().unwrap();
        assert!(cp.success());
        let root = s.scratch.join("runtime");
        let b = Bundle { s, dir, root };
        b.config(|c| {
            c["process"]["args"] = json!(args);
            c["process"]["terminal"] = json!(false);
            c["root"]["readonly"] = json!(false);
        });
        b
    }

    /// Rewrites config.json (made by `sbx runtime spec` first) through `edit`.
    pub fn config(&self, edit: impl FnOnce(&mut Value)) {
        let path = self.dir.join("config.json");
        if !path.exists() {
            let r = self.rt(&["spec", "--bundle", &self.dir.to_string_lossy()]);
            assert_eq!(r.code, 0, "{r:?}");
        }
        let mut c = self.config_value();
        edit(&mut c);
        std::fs::write(&path, serde_json::to_vec_pretty(&c).unwrap()).unwrap();
    }

    /// Gives the root filesystem's files to host id `id` (user and group), as engines do for a
    /// container whose user namespace maps its root there.
    pub fn chown_rootfs(&self, id: u32) {
        let owner = format!("{id}:{id}");
        let chown = Command::new("chown").args(["-hR", &owner]).arg(self.dir.join("rootfs")).status().unwrap();
        assert!(chown.success());
    }

    /// config.json as it is now.
    pub fn config_value(&self) -> Value {
        serde_json::from_slice(&std::fs::read(self.dir.join("config.json")).unwrap()).unwrap()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = self.s.command(&["runtime", "--root", &self.root.to_string_lossy()]);
        cmd.args(args);
        cmd
    }

    pub fn rt(&self, args: &[&str]) -> Run {
        output(&mut self.command(args))
    }

    pub fn create(&self, id: &str) -> Run {
        self.rt(&["create", "--bundle", &self.dir.to_string_lossy(), id])
    }

    pub fn state(&self, id: &str) -> Value {
        let r = self.rt(&["state", id]);
        assert_eq!(r.code, 0, "{r:?}");
        serde_json::from_str(&r.stdout).unwrap()
    }

    pub fn status(&self, id: &str) -> String {
        self.state(id)["status"].as_str().unwrap().to_string()
    }

    /// Nothing of the runtime is left: no container state, no cgroup of its containers, no mount
    /// of the bundle.
    pub fn assert_clean(&self) {
        let left: Vec<_> = std::fs::read_dir(&self.root)
            .map(|d| d.flatten().map(|e| e.file_name()).filter(|n| !n.to_string_lossy().starts_with('.')).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "state left: {left:?}");
        for c in crate::harness::CGROUP_MOUNTS {
            let dir = Path::new("/sys/fs/cgroup").join(c).join("sbx-runtime");
            let ours: Vec<_> = std::fs::read_dir(&dir)
                .map(|d| d.flatten().filter(|e| e.file_name().to_string_lossy().starts_with(&self.prefix())).collect())
                .unwrap_or_default();
            assert!(ours.is_empty(), "cgroups left in {}: {ours:?}", dir.display());
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(!mounts.contains(&*self.dir.to_string_lossy()), "a mount of the bundle is left:\n{mounts}");
        self.s.assert_clean(0);
    }

    /// Container ids of this bundle start with this, so parallel tests' cgroups are told apart.
    pub fn prefix(&self) -> String {
        format!(
            "t{}-",
            self.s.scratch.parent().unwrap().file_name().unwrap().to_string_lossy().replace("sbx-test-", "")
        )
    }

    pub fn id(&self, name: &str) -> String {
        format!("{}{name}", self.prefix())
    }
}

impl Drop for Bundle {
    /// A test that failed half-way may leave containers: delete them, so their processes and
    /// cgroups go too.
    fn drop(&mut self) {
        for entry in std::fs::read_dir(&self.root).into_iter().flatten().flatten() {
            let id = entry.file_name().to_string_lossy().into_owned();
            if !id.starts_with('.') {
                let _ = self.rt(&["delete", "--force", &id]);
            }
        }
    }
}
