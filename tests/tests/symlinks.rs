//! Images that try to leave their container through symlinks: at every mount target sbx uses
//! (/proc, /sys, /dev; `-v` and `--tmpfs` destinations; masked paths), pointing to `..`, `../..`,
//! `/`, `/etc`, an absolute path of the host and a chain of links; /etc/passwd and /etc/group
//! linked to host files and to /dev/zero; and a running container that flips paths between
//! directories, files and symlinks while sbx starts containers, execs, diffs and commits. Each case
//! checks that nothing of the host changed (canaries), that errors name the path, and that nothing
//! is left mounted. Run with the default settings and with `--userns=auto` (rootless: rootless.rs).

use sbx_tests::harness::{Sandbox, is_root, plugin_arg};
use sbx_tests::image::{Image, Layer, busybox};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The ways a link can try to leave: (label, its text; `HOST` stands for a directory of the host).
const LINKS: [(&str, &str); 6] =
    [("dotdot", ".."), ("dotdot2", "../.."), ("root", "/"), ("etc", "/etc"), ("host", "HOST"), ("chain", "hop1")];

/// A layer that puts a link of kind `label` at `path` (a chain goes path -> hop1 -> hop2 -> ..).
fn link(path: &str, label: &str, host_dir: &Path) -> Layer {
    let (_, text) = LINKS.iter().find(|(l, _)| *l == label).expect("a known link");
    let text = text.replace("HOST", &host_dir.display().to_string());
    let layer = Layer::new().symlink(path, &text);
    if label == "chain" { layer.symlink("hop1", "hop2").symlink("hop2", "..") } else { layer }
}

fn hostile(s: &Sandbox, name: &str, layer: Layer) -> String {
    s.load(&Image::new(&format!("{name}:latest"), vec![busybox().unwrap(), layer]));
    name.to_string()
}

/// A file of the host that an escaped container would write: `/NAME` of the host's root.
struct Canary(PathBuf);

impl Canary {
    fn new(what: &str) -> Canary {
        Canary(PathBuf::from(format!("/sbx-canary-{what}-{}", std::process::id())))
    }

    fn name(&self) -> String {
        self.0.file_name().unwrap().to_string_lossy().into_owned()
    }

    fn assert_untouched(&self, case: &str) {
        for p in [self.0.clone(), Path::new("/etc").join(self.name()), Path::new("/tmp").join(self.name())] {
            assert!(!p.exists(), "{case}: the host's {} was written", p.display());
        }
    }
}

fn empty(dir: &Path) -> bool {
    std::fs::read_dir(dir).map(|mut d| d.next().is_none()).unwrap_or(true)
}

#[test]
fn symlinks_at_sbx_mount_points_are_refused_by_name() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let host_dir = s.scratch.join("host-dir");
    std::fs::create_dir(&host_dir).unwrap();
    let canary = Canary::new("own");
    let write = format!("echo escaped > /{}; echo escaped > /tmp/{0}", canary.name());
    for target in ["proc", "sys", "dev"] {
        for (label, _) in LINKS {
            let image = hostile(&s, &format!("{target}-{label}"), link(target, label, &host_dir));
            for flags in [&[][..], &["--userns=auto"][..]] {
                let case = format!("/{target} -> {label} {flags:?}");
                let r = s.sbx(&[&["run", "--rm"], flags, &[&image, "sh", "-c", &write]].concat());
                assert_eq!(r.code, 125, "{case}: {r:?}");
                let said = format!("/{target} in the image is a symlink or goes through one");
                assert!(r.stderr.contains(&said), "{case}: {r:?}");
                canary.assert_untouched(&case);
                assert!(empty(&host_dir), "{case}: something was mounted or made in the host's directory");
                s.assert_clean(0);
            }
        }
    }
}

#[test]
fn mount_destinations_follow_links_only_inside_the_container() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let host_dir = s.scratch.join("host-dir");
    let source = s.scratch.join("source");
    std::fs::create_dir(&host_dir).unwrap();
    std::fs::create_dir(&source).unwrap();
    // Root of a --userns=auto container is an id of its own on the host.
    std::fs::set_permissions(&source, std::fs::Permissions::from_mode(0o777)).unwrap();
    let canary = Canary::new("dest");
    let name = canary.name();
    let bind = format!("{}:/data", source.display());
    let nested = format!("{}:/data/{name}", source.display());
    for (label, _) in LINKS {
        let image = hostile(&s, &format!("data-{label}"), link("data", label, &host_dir));
        for flags in [&[][..], &["--userns=auto"][..]] {
            let write = format!("echo inside > /data/{name} && cat /etc/{name}");
            let cases: [(&str, Vec<&str>, &str); 3] = [
                ("-v", vec!["-v", &bind], &write),
                ("--tmpfs", vec!["--tmpfs", "/data"], &write),
                ("-v nested", vec!["-v", &nested], "true"),
            ];
            for (what, mount, cmd) in cases {
                let case = format!("{what} with /data -> {label} {flags:?}");
                let r = s.sbx(&[&["run", "--rm"], flags, &mount[..], &[&image, "sh", "-c", cmd]].concat());
                match label {
                    // /data is the container's root: a mount there would cover it all.
                    "dotdot" | "dotdot2" | "root" | "chain" if what != "-v nested" => {
                        assert_eq!(r.code, 125, "{case}: {r:?}");
                        assert!(r.stderr.contains("/data leads to the container's root"), "{case}: {r:?}");
                    }
                    // /data is the container's /etc: the mount lands there, in the container.
                    "etc" if what != "-v nested" => assert_eq!((r.code, r.stdout.as_str()), (0, "inside\n"), "{case}"),
                    // The host's path does not exist in the container: the link leads nowhere.
                    "host" => {
                        assert_eq!(r.code, 125, "{case}: {r:?}");
                        assert!(r.stderr.contains("is a symlink of the image that leads nowhere"), "{case}: {r:?}");
                    }
                    // /data/NAME is /NAME or /etc/NAME of the container.
                    _ => assert_eq!(r.code, 0, "{case}: {r:?}"),
                }
                canary.assert_untouched(&case);
                assert!(empty(&host_dir), "{case}: the host's directory was used");
                s.assert_clean(0);
            }
            let _ = std::fs::remove_file(source.join(&name));
        }
    }

    // A policy's masked path resolves the same way.
    let mask = s.write_config(&format!(
        "plugins:\n  - path: {}\n    settings: {{ paths: [/data] }}\n",
        plugin_arg("mask-paths")
    ));
    let r = s.sbx(&["--config", &mask, "run", "--rm", "data-dotdot", "true"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("cannot mask /data") && r.stderr.contains("leads to the container's root"), "{r:?}");
    let r = s.sbx(&["--config", &mask, "run", "--rm", "data-etc", "sh", "-c", "ls /etc | wc -l"]);
    assert_eq!((r.code, r.stdout.trim()), (0, "0"), "/etc, where /data leads, is masked: {r:?}");
    s.assert_clean(0);
}

/// The process's uid without reading /etc/passwd (which `id` does, and these images make hang).
const UID: &str = "/^Uid:/ { print $2 }";
const STATUS: &str = "/proc/self/status";

const HOST_PASSWD: &str = "root:x:0:0::/:/bin/sh\nescapee:x:4242:4242::/:/bin/sh\n";

#[test]
fn users_are_read_only_from_the_containers_own_files() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let host_passwd = s.scratch.join("passwd");
    std::fs::write(&host_passwd, HOST_PASSWD).unwrap();
    let host = host_passwd.display().to_string();
    let to_host = hostile(&s, "to-host", Layer::new().symlink("etc/passwd", &host).symlink("etc/group", "/dev/zero"));
    let to_zero = hostile(&s, "to-zero", Layer::new().symlink("etc/passwd", "/dev/zero"));
    let limit = Duration::from_secs(20);
    for flags in [&[][..], &["--userns=auto"][..]] {
        // At run, users come from the image's layers, where sbx follows no link.
        let r = s.sbx_within(limit, &[&["run", "--rm", "-u", "escapee"], flags, &[&to_host, "id", "-u"]].concat());
        assert_eq!(r.code, 125, "{r:?}");
        assert!(r.stderr.contains("the container's /etc/passwd is a symlink"), "{r:?}");
        let r = s.sbx_within(limit, &[&["run", "--rm", "-u", "0"], flags, &[&to_host, "awk", UID, STATUS]].concat());
        assert_eq!((r.code, r.stdout.as_str()), (0, "0\n"), "a numeric user needs neither file: {r:?}");

        // At exec, they come from the running container, read beneath its root.
        for (image, said) in [
            (&to_host, "unable to find user escapee"),
            (&to_zero, "the container's /etc/passwd is a character device, not a regular file"),
        ] {
            let r = s.sbx(&[&["run", "-d", "--name", "t1"], flags, &[image, "sleep", "100"]].concat());
            assert_eq!(r.code, 0, "{r:?}");
            let r = s.sbx_within(limit, &["exec", "-u", "escapee", "t1", "id", "-u"]);
            assert_eq!(r.code, 125, "{image} {flags:?}: {r:?}");
            assert!(r.stderr.contains(said), "{image} {flags:?}: {r:?}");
            let r = s.sbx_within(limit, &["exec", "-u", "0", "t1", "awk", UID, STATUS]);
            assert_eq!((r.code, r.stdout.as_str()), (0, "0\n"), "{r:?}");
            assert_eq!(s.sbx(&["rm", "-f", "t1"]).code, 0);
        }
    }
    s.assert_clean(0);
}

/// The container of the race: it flips /shared/x between a directory and links to `/` and `..`,
/// /etc/passwd between its own file and a link to the host's, and /w between a directory and a
/// link to a directory of the host, as fast as it can.
fn flipper_script(host_passwd: &str, host_dir: &str) -> String {
    format!(
        "echo 'flip:x:1234:1234::/:/bin/sh' > /etc/passwd.in; \
         while :; do \
           rm -rf /shared/x; mkdir /shared/x; rm -rf /shared/x; ln -s / /shared/x; rm -f /shared/x; ln -s .. /shared/x; \
           ln -sf {host_passwd} /etc/p.new; mv -f /etc/p.new /etc/passwd; cp /etc/passwd.in /etc/p.new; mv -f /etc/p.new /etc/passwd; \
           rm -rf /w; mkdir /w; echo inside > /w/marker; rm -rf /w; ln -s {host_dir} /w; \
         done"
    )
}

#[test]
fn a_container_that_swaps_paths_meanwhile_cannot_redirect_sbx() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let shared = s.scratch.join("shared");
    let source = s.scratch.join("source");
    let host_dir = s.scratch.join("host-dir");
    for d in [&shared, &source, &host_dir] {
        std::fs::create_dir(d).unwrap();
    }
    std::fs::write(host_dir.join("marker"), "host\n").unwrap();
    let host_passwd = s.scratch.join("passwd");
    std::fs::write(&host_passwd, HOST_PASSWD.replace("escapee", "flip")).unwrap();
    let canary = Canary::new("race");
    let name = canary.name();
    let volume = format!("{}:/shared", shared.display());
    let script = flipper_script(&host_passwd.display().to_string(), &host_dir.display().to_string());
    let r = s.sbx(&["run", "-d", "--name", "flipper", "-v", &volume, "busybox", "sh", "-c", &script]);
    assert_eq!(r.code, 0, "{r:?}");

    let limit = Duration::from_secs(20);
    let nested = format!("{}:/shared/x/{name}", source.display());
    let (mut started, mut users) = (0, 0);
    for round in 0..30 {
        // A bind under the flipping path: it lands in the new container's /shared/x, or its root.
        let r = s.sbx_within(limit, &["run", "--rm", "-v", &volume, "-v", &nested, "busybox", "true"]);
        assert!(r.code == 0 || r.code == 125, "round {round}: {r:?}");
        started += usize::from(r.code == 0);
        // The user is the container's (1234) or not found, never the host file's (4242).
        let r = s.sbx_within(limit, &["exec", "-u", "flip", "flipper", "id", "-u"]);
        match r.code {
            0 => {
                assert_eq!(r.stdout, "1234\n", "round {round}: {r:?}");
                users += 1;
            }
            _ => assert!(r.stderr.contains("flip"), "round {round}: {r:?}"),
        }
        // The working directory is the container's /w or nothing, never the host's directory.
        let r = s.sbx_within(limit, &["exec", "-w", "/w", "flipper", "cat", "marker"]);
        assert!(!r.stdout.contains("host"), "round {round}: read the host's marker: {r:?}");
        if round % 10 == 0 {
            let r = s.sbx_within(limit, &["diff", "flipper"]);
            assert_eq!(r.code, 0, "{r:?}");
            let r = s.sbx_within(limit, &["commit", "flipper", &format!("snap:{round}")]);
            assert!(r.code == 0 || r.stderr.contains("changed while it was read"), "{r:?}");
        }
        canary.assert_untouched(&format!("round {round}"));
    }
    assert!(started > 0 && users > 0, "the operations also succeeded: {started} runs, {users} users");
    assert_eq!(s.sbx(&["rm", "-f", "flipper"]).code, 0);
    assert_eq!(std::fs::read_to_string(host_dir.join("marker")).unwrap(), "host\n");
    assert_eq!(std::fs::read_dir(&host_dir).unwrap().count(), 1, "nothing was made in the host's directory");
    s.assert_clean(0);
}
