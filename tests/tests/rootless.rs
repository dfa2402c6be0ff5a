//! Rootless: a user made for the test (with the /etc/subuid and /etc/subgid ranges useradd gives
//! it) loads images and runs containers with its own store under ~/.local/share/sbx: root in the
//! container is that user on the host, the container's other ids are its range; detached runs,
//! exec, stop and rm work; hostile images' symlinks are refused; what needs the host's root is
//! refused by name; nothing is left behind.

use sbx_tests::harness::{NetNs, Run, is_root, sbx_bin, test_image, wait_for, with_subids_of};
use sbx_tests::image::{Compression, Image, Layer, busybox};
use sbx_tests::registry::{PASSWORD, Registry, USER};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A user of the host for one test, removed with its home when the test ends.
struct TestUser {
    name: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
}

impl TestUser {
    fn create(which: &str) -> TestUser {
        let name = format!("sbx{which}{}", std::process::id() % 100_000);
        let _ = Command::new("userdel").args(["-r", &name]).output();
        let out = Command::new("useradd").args(["-m", "-s", "/bin/sh", &name]).output().unwrap();
        assert!(out.status.success(), "useradd: {}", String::from_utf8_lossy(&out.stderr));
        let id = |flag: &str| -> u32 {
            let out = Command::new("id").args([flag, &name]).output().unwrap();
            String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
        };
        let home = PathBuf::from(format!("/home/{name}"));
        TestUser { uid: id("-u"), gid: id("-g"), name, home }
    }

    /// Its first range in a subid file: (start, count).
    fn range(&self, file: &str) -> (u32, u32) {
        let text = std::fs::read_to_string(file).unwrap();
        let line = text.lines().find(|l| l.starts_with(&format!("{}:", self.name)));
        let f: Vec<u32> = line
            .unwrap_or_else(|| panic!("useradd gave no range in {file}"))
            .split(':')
            .skip(1)
            .map(|n| n.parse().unwrap())
            .collect();
        (f[0], f[1])
    }

    /// A file of this user's (the sbx binary, an image) in its home.
    fn give(&self, name: &str, write: impl FnOnce(&Path)) -> String {
        let path = self.home.join(name);
        write(&path);
        std::os::unix::fs::chown(&path, Some(self.uid), Some(self.gid)).unwrap();
        path.display().to_string()
    }

    /// `sbx ARGS` as this user, with only HOME and PATH set, as a login would (no SBX_ROOT).
    fn sbx(&self, args: &[&str]) -> Run {
        self.sbx_in(None, args)
    }

    /// The same in the network namespace `ns` (the host's without).
    fn sbx_in(&self, ns: Option<&NetNs>, args: &[&str]) -> Run {
        let mut cmd = match ns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net={}", ns.path())).arg("setpriv");
                c
            }
            None => Command::new("setpriv"),
        };
        cmd.args(["--reuid", &self.uid.to_string(), "--regid", &self.gid.to_string(), "--init-groups"])
            .arg(self.home.join("sbx"))
            .args(args)
            .env_clear()
            .env("HOME", &self.home)
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .current_dir(&self.home);
        cmd.output().unwrap().into()
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = Command::new("pkill").args(["-KILL", "-u", &self.name]).output();
        let _ = Command::new("userdel").args(["-r", &self.name]).output();
    }
}

#[test]
fn a_user_with_subuid_ranges_runs_containers_without_root() {
    if !is_root() {
        return;
    }
    let user = TestUser::create("a");
    let (sub_uid, count) = user.range("/etc/subuid");
    assert!(count >= 1000, "a range large enough for uid 1000 in the container");
    user.give("sbx", |p| {
        std::fs::copy(sbx_bin(), p).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    });
    for kind in ["busybox", "layered"] {
        let archive = user.give(&format!("{kind}.tar"), |p| {
            test_image(kind).unwrap().write_oci_archive(p, Compression::Gzip).unwrap()
        });
        let r = user.sbx(&["load", "-i", &archive]);
        assert_eq!(r.code, 0, "{r:?}");
    }
    let store = user.home.join(".local/share/sbx");
    assert!(store.join("layers").is_dir(), "the store is under ~/.local/share/sbx");

    // Root in the container is the user; the container's uid 1000 is in the user's range.
    let shared = user.give("shared", |p| {
        std::fs::create_dir(p).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o777)).unwrap();
    });
    let volume = format!("{shared}:/shared");
    let script = "id -u; cat /proc/self/uid_map; touch /shared/by-root";
    let r = user.sbx(&["run", "--rm", "-v", &volume, "busybox", "sh", "-c", script]);
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<Vec<&str>> = r.stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["0"], "{r:?}");
    assert_eq!(lines[1], ["0", user.uid.to_string().as_str(), "1"], "{r:?}");
    assert_eq!(lines[2], ["1", sub_uid.to_string().as_str(), count.to_string().as_str()], "{r:?}");
    let r = user.sbx(&["run", "--rm", "-u", "1000", "-v", &volume, "busybox", "touch", "/shared/by-app"]);
    assert_eq!(r.code, 0, "{r:?}");
    let owner = |f: &str| std::fs::metadata(Path::new(&shared).join(f)).unwrap().uid();
    assert_eq!(owner("by-root"), user.uid, "root in the container is the user on the host");
    assert_eq!(owner("by-app"), sub_uid + 999, "uid 1000 is the 1000th id of the user's range");

    // Whiteouts and opaque directories of the image hold (they are user.overlay.* marks here).
    let r = user.sbx(&["run", "--rm", "layered", "sh", "-c", "ls /data; test -e /etc/motd || echo gone"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "new\ngone\n"), "{r:?}");

    // Hostile images hold too: a symlink at /proc, and a -v destination that leads to the root.
    for (name, link, flags, said) in [
        ("proc-up", "proc", &[][..], "/proc in the image is a symlink"),
        ("data-up", "data", &["-v", &volume.replace(":/shared", ":/data")][..], "/data leads to the container's root"),
    ] {
        let archive = user.give(&format!("{name}.tar"), |p| {
            let layers = vec![busybox().unwrap(), Layer::new().symlink(link, "..")];
            Image::new(&format!("{name}:latest"), layers).write_oci_archive(p, Compression::Gzip).unwrap()
        });
        assert_eq!(user.sbx(&["load", "-i", &archive]).code, 0);
        let r = user.sbx(&[&["run", "--rm"], flags, &[name, "true"]].concat());
        assert_eq!(r.code, 125, "{name}: {r:?}");
        assert!(r.stderr.contains(said), "{name}: {r:?}");
    }

    // Detached, exec, stop, rm.
    let r = user.sbx(&["run", "-d", "--name", "bg", "busybox", "sleep", "100"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = user.sbx(&["exec", "bg", "sh", "-c", "id -u; ps -o pid,comm | grep -c sleep"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "0\n1\n"), "{r:?}");
    assert_eq!(user.sbx(&["stop", "-t", "1", "bg"]).code, 0);
    let r = user.sbx(&["rm", "bg"]);
    assert_eq!(r.code, 0, "{r:?}");

    for (flags, what) in [
        (&["-m", "64m"][..], "a resource limit"),
        (&["--network", "host"][..], "--network host"),
        (&["--network", "bridge"][..], "a bridge network"),
        (&["--userns=auto"][..], "--userns=auto"),
    ] {
        let r = user.sbx(&[&["run", "--rm"], flags, &["busybox", "true"]].concat());
        assert_eq!(r.code, 125, "{flags:?}: {r:?}");
        assert!(r.stderr.contains(what) && r.stderr.contains("is not supported rootless"), "{flags:?}: {r:?}");
    }

    // Nothing left: no container, no staging, no mount, no process of the user.
    assert_eq!(std::fs::read_dir(store.join("containers")).unwrap().count(), 0);
    assert_eq!(std::fs::read_dir(store.join("tmp")).unwrap().count(), 0);
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&user.home.display().to_string()), "{mounts}");
    // (The monitor of `bg` may linger a moment as a zombie until the host's init reaps it.)
    wait_for("every process of the user to end", || {
        Command::new("pgrep").args(["-u", &user.name]).output().unwrap().stdout.is_empty()
    });
}

/// A user's containers get slirp4netns's network by default (in a network namespace of the test's,
/// so that nothing reaches the machine's network): tap0 with 10.0.2.100, a published port on
/// 127.0.0.1 answers and is shown by `sbx port`; with the container gone, so are slirp4netns and the
/// port.
#[test]
fn a_users_container_has_a_network_through_slirp4netns_and_its_published_port_answers() {
    if !is_root() {
        return;
    }
    let ns = NetNs::new();
    let user = TestUser::create("n");
    user.give("sbx", |p| {
        std::fs::copy(sbx_bin(), p).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    });
    let archive =
        user.give("busybox.tar", |p| test_image("busybox").unwrap().write_oci_archive(p, Compression::Gzip).unwrap());
    assert_eq!(user.sbx(&["load", "-i", &archive]).code, 0);

    let serve = "echo served > /tmp/index.html; exec httpd -f -p 80 -h /tmp";
    let r = user
        .sbx_in(Some(&ns), &["run", "-d", "--name", "web", "-p", "127.0.0.1:18080:80", "busybox", "sh", "-c", serve]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = user.sbx_in(Some(&ns), &["inspect", "-f", "{{.HostConfig.NetworkMode}}", "web"]);
    assert_eq!((r.code, r.stdout.trim()), (0, "slirp4netns"), "slirp4netns is a rootless sbx's default: {r:?}");
    let r = user.sbx_in(Some(&ns), &["port", "web"]);
    assert_eq!(r.stdout, "80/tcp -> 127.0.0.1:18080\n", "{r:?}");
    let r = user.sbx_in(Some(&ns), &["exec", "web", "sh", "-c", "ip -o -4 addr show tap0; ip route"]);
    assert!(r.stdout.contains("10.0.2.100/24") && r.stdout.contains("default via 10.0.2.2"), "{r:?}");

    let get = "printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | busybox nc 127.0.0.1 18080";
    let fetch =
        || Command::new("nsenter").arg(format!("--net={}", ns.path())).args(["sh", "-c", get]).output().unwrap();
    wait_for("the published port to answer", || String::from_utf8_lossy(&fetch().stdout).ends_with("served\n"));

    let r = user.sbx_in(Some(&ns), &["rm", "-f", "web"]);
    assert_eq!(r.code, 0, "{r:?}");
    wait_for("slirp4netns to end with the container", || {
        Command::new("pgrep").args(["-u", &user.name, "slirp4netns"]).output().unwrap().stdout.is_empty()
    });
    assert!(!fetch().status.success(), "nothing listens on the port any more");
    let store = user.home.join(".local/share/sbx");
    assert_eq!(std::fs::read_dir(store.join("networks/.ports")).unwrap().count(), 0, "the port's reservation is gone");
}

#[test]
fn a_user_without_subuid_ranges_is_told_what_to_ask_for() {
    if !is_root() {
        return;
    }
    let user = TestUser::create("b");
    user.give("sbx", |p| {
        std::fs::copy(sbx_bin(), p).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    });
    let empty = user.give("no-ranges", |p| std::fs::write(p, "").unwrap());
    // Its own view of /etc/subuid and /etc/subgid, empty, in a mount namespace of the test's.
    let out = with_subids_of(Path::new(&empty))
        .arg("setpriv")
        .args(["--reuid", &user.uid.to_string(), "--regid", &user.gid.to_string(), "--init-groups"])
        .arg("env")
        .arg(format!("HOME={}", user.home.display()))
        .arg(user.home.join("sbx"))
        .args(["run", "--rm", "busybox", "true"])
        .output()
        .unwrap();
    let r: Run = out.into();
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains(&format!("rootless sbx needs ranges of ids for the user {}", user.name)), "{r:?}");
    assert!(r.stderr.contains("usermod --add-subuids"), "{r:?}");
}

#[test]
fn a_user_pulls_with_the_login_it_made_though_pulling_runs_as_root_of_its_namespace() {
    if !is_root() {
        return;
    }
    let user = TestUser::create("r");
    user.give("sbx", |p| {
        std::fs::copy(sbx_bin(), p).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    });
    let Some(reg) = Registry::start(&user.home.join("registry"), true) else { return };
    let cfg = user.give("sbx.yaml", |p| std::fs::write(p, reg.sbx_config()).unwrap());
    // No XDG_RUNTIME_DIR (no login session): logins go to /run/containers/UID, made for the user
    // by root as podman's documentation says to.
    let runtime = PathBuf::from(format!("/run/containers/{}", user.uid));
    std::fs::create_dir_all(&runtime).unwrap();
    std::os::unix::fs::chown(&runtime, Some(user.uid), Some(user.gid)).unwrap();
    struct Gone(PathBuf);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
            let _ = std::fs::remove_dir(self.0.parent().unwrap()); // and /run/containers, when empty
        }
    }
    let _runtime = Gone(runtime.clone());
    let archive =
        user.give("busybox.tar", |p| test_image("busybox").unwrap().write_oci_archive(p, Compression::Gzip).unwrap());
    assert_eq!(user.sbx(&["load", "-i", &archive]).code, 0);

    let r = user.sbx(&["--config", &cfg, "login", "-u", USER, "-p", PASSWORD, &reg.addr]);
    assert_eq!(r.code, 0, "{r:?}");
    let file = std::fs::metadata(runtime.join("auth.json")).unwrap();
    assert_eq!((file.uid(), file.mode() & 0o777), (user.uid, 0o600));
    let name = format!("{}/u/busybox:1", reg.addr);
    let r = user.sbx(&["--config", &cfg, "push", "busybox", &name]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(user.sbx(&["rmi", "busybox"]).code, 0);
    // pull runs in the user's namespace, as its root: the login is still the user's.
    let r = user.sbx(&["--config", &cfg, "pull", "-q", &name]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = user.sbx(&["run", "--rm", &name, "echo", "pulled"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "pulled\n"), "{r:?}");
}
