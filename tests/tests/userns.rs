//! `--userns=auto`: the container's root is an unprivileged host id from the `containers` ranges of
//! /etc/subuid and /etc/subgid (examples/setup.sh adds them), seen from the host through what the
//! container writes (a bind mount, its writable layer) and its processes' ids; the image's layers
//! stay as they are on disk (they are idmapped, not copied); exec, restart and commit work; and the
//! bad inputs are refused with nothing left behind.

use sbx_tests::harness::{Sandbox, is_root, sbx_bin, with_subids_of};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;

/// The host id where the container's id 0 starts, from a `/proc/self/uid_map` line.
fn map_start(line: &str) -> u32 {
    let f: Vec<&str> = line.split_whitespace().collect();
    assert_eq!((f.len(), f[0], f[2]), (3, "0", "65536"), "an id map of one 65536-id range: {line}");
    f[1].parse().unwrap()
}

fn inspect(s: &Sandbox, name: &str) -> serde_json::Value {
    let r = s.sbx(&["inspect", name]);
    assert_eq!(r.code, 0, "{r:?}");
    serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap()[0].clone()
}

fn container_dir(s: &Sandbox, name: &str) -> std::path::PathBuf {
    s.root.join("containers").join(inspect(s, name)["Id"].as_str().unwrap())
}

#[test]
fn root_in_the_container_is_an_unprivileged_host_id() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let shared = s.scratch.join("shared");
    std::fs::create_dir(&shared).unwrap();
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
    let volume = format!("{}:/data", shared.display());
    // Idempotent, so that a restart runs it again and shows what the first run left.
    let script = "cat /opt/mine 2>/dev/null || echo none; id -u; cat /proc/self/uid_map /proc/self/gid_map; \
                  stat -c %u:%g /bin/busybox; echo hi > /data/by-root; mkdir -p /opt; echo x > /opt/mine; \
                  chown 1000:1000 /opt/mine; rm -f /bin/true";
    let r = s.sbx(&["run", "--name", "u1", "--userns=auto", "-v", &volume, "busybox", "sh", "-c", script]);
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        (lines[0], lines[1], lines[4]),
        ("none", "0", "0:0"),
        "root inside; the image's files are root's: {r:?}"
    );
    let (uid, gid) = (map_start(lines[2]), map_start(lines[3]));
    assert!(uid >= 65536 && gid >= 65536, "the range is outside the host's ordinary ids: {uid}:{gid}");

    let written = std::fs::metadata(shared.join("by-root")).unwrap();
    assert_eq!(
        (written.uid(), written.gid()),
        (uid, gid),
        "a file root wrote to a bind mount is the range's on the host"
    );
    let upper = container_dir(&s, "u1").join("upper");
    let mine = std::fs::metadata(upper.join("opt/mine")).unwrap();
    assert_eq!((mine.uid(), mine.gid()), (uid + 1000, gid + 1000), "the writable layer holds mapped owners");
    assert_eq!(std::fs::metadata(upper.join("opt")).unwrap().uid(), uid);
    let whiteout = std::fs::symlink_metadata(upper.join("bin/true")).unwrap();
    assert!(whiteout.file_type().is_char_device() && whiteout.rdev() == 0, "rm makes a whiteout in the layer");
    let layers = std::fs::read_dir(s.root.join("layers")).unwrap();
    for layer in layers.flatten() {
        let busybox = layer.path().join("diff/bin/busybox");
        if busybox.exists() {
            assert_eq!(std::fs::metadata(&busybox).unwrap().uid(), 0, "the layer on disk is not changed");
        }
    }
    let host_config = &inspect(&s, "u1")["HostConfig"];
    assert_eq!(host_config["UsernsMode"], "auto");
    assert_eq!(host_config["IDMappings"]["UidMap"][0], format!("0:{uid}:65536"));
    assert_eq!(host_config["IDMappings"]["GidMap"][0], format!("0:{gid}:65536"));

    // A restart: the same ids, the same layer.
    let r = s.sbx(&["start", "-a", "u1"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.lines().next(), Some("x"), "{r:?}");
    assert_eq!(map_start(r.stdout.lines().nth(2).unwrap()), uid, "{r:?}");

    // A second container gets another range; its processes, and an exec's, run as its ids.
    let r = s.sbx(&["run", "-d", "--name", "d1", "--userns=auto", "busybox", "sleep", "100"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = s.sbx(&["exec", "d1", "sh", "-c", "id -u; cat /proc/self/uid_map; touch /made-by-exec"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.lines().next(), Some("0"), "{r:?}");
    let other = map_start(r.stdout.lines().nth(1).unwrap());
    assert_ne!(other, uid, "each container has its own range");
    assert_eq!(std::fs::metadata(container_dir(&s, "d1").join("upper/made-by-exec")).unwrap().uid(), other);
    let pid = inspect(&s, "d1")["State"]["Pid"].as_i64().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uids = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(uids.split_whitespace().nth(1), Some(other.to_string().as_str()), "{uids}");

    // commit writes the container's own ids, not the host's.
    assert_eq!(s.sbx(&["commit", "u1", "committed:1"]).code, 0);
    let r = s.sbx(&["run", "--rm", "committed:1", "stat", "-c", "%u:%g", "/opt/mine"]);
    assert_eq!((r.code, r.stdout.trim()), (0, "1000:1000"), "{r:?}");

    // The same with the single mount(2) of kernels before 6.8.
    let legacy = ["run", "--rm", "--userns=auto", "busybox", "sh", "-c", "touch /new && stat -c %u /new /bin/busybox"];
    let r: sbx_tests::harness::Run = s.command(&legacy).env("SBX_OVERLAY_MOUNT", "legacy").output().unwrap().into();
    assert_eq!((r.code, r.stdout.as_str()), (0, "0\n0\n"), "{r:?}");

    assert_eq!(s.sbx(&["rm", "-f", "u1", "d1"]).code, 0);
    // Removed containers free their ranges.
    let r = s.sbx(&["run", "--rm", "--userns=auto", "busybox", "cat", "/proc/self/uid_map"]);
    assert_eq!((r.code, map_start(r.stdout.trim())), (0, uid), "{r:?}");
    s.assert_clean(0);
}

/// `sbx ARGS` in a mount namespace of its own where /etc/subuid and /etc/subgid read `subids`.
fn with_subids(s: &Sandbox, subids: &str, args: &[&str]) -> sbx_tests::harness::Run {
    let file = s.scratch.join(format!("subids-{}", subids.len()));
    std::fs::write(&file, subids).unwrap();
    with_subids_of(&file)
        .arg(sbx_bin())
        .args(args)
        .env("SBX_ROOT", &s.root)
        .env("SBX_NETWORK", "none")
        .output()
        .unwrap()
        .into()
}

#[test]
fn bad_user_namespace_settings_are_refused_and_leave_nothing() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let run = ["run", "--rm", "--userns=auto", "busybox", "true"];
    let cases = [
        ("someone:100000:65536\n", "needs ranges of host ids for the user 'containers' in /etc/subuid"),
        ("containers:100000:1000\n", "no free range of 65536 ids left in the 'containers' ranges"),
    ];
    for (subids, message) in cases {
        let r = with_subids(&s, subids, &run);
        assert_eq!(r.code, 125, "{subids}: {r:?}");
        assert!(r.stderr.contains(message), "{subids}: {r:?}");
    }
    let r = with_subids(&s, "containers:100000:65536\n", &run);
    assert_eq!(r.code, 0, "one range is enough for one container: {r:?}");

    for (flags, message) in [
        (&["--userns=auto", "--network", "host"][..], "--userns=auto cannot be combined with --network host"),
        (&["--userns=keep-id"][..], "user namespace mode 'keep-id' is not supported"),
    ] {
        let r = s.sbx(&[&["run", "--rm"], flags, &["busybox", "true"]].concat());
        assert_eq!(r.code, 125, "{flags:?}: {r:?}");
        assert!(r.stderr.contains(message), "{flags:?}: {r:?}");
    }
    assert!(!Path::new(&s.root).join("containers").read_dir().is_ok_and(|mut d| d.next().is_some()));
    s.assert_clean(0);
}
