//! The OCI runtime CLI (`sbx runtime VERB`, and the binary called `sbx-runtime`) on bundles the
//! tests write: the lifecycle the runtime-spec orders (create waits for start, state, kill,
//! delete), the bad inputs, the policies, and the hostile root filesystems of the symlink issue.
//! Each test checks that nothing is left: no state, no cgroup, no mount.

use sbx_tests::bundle::{Bundle, output};
use sbx_tests::harness::{Run, is_root, plugin_arg, sbx_bin, wait_for};
use serde_json::{Value, json};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn create_waits_for_start_then_state_kill_and_delete_follow_the_runtime_spec() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["sh", "-c", "touch /ran; exec sleep 1000"]);
    let id = b.id("life");
    let pid_file = b.s.scratch.join("pid");
    let r = b.rt(&["create", "--bundle", &b.dir.to_string_lossy(), "--pid-file", &pid_file.to_string_lossy(), &id]);
    assert_eq!(r.code, 0, "{r:?}");
    let state = b.state(&id);
    assert_eq!(state["status"], "created", "{state}");
    assert_eq!(state["id"], id.as_str());
    assert_eq!(state["bundle"], b.dir.to_string_lossy().as_ref());
    let pid: i64 = std::fs::read_to_string(&pid_file).unwrap().parse().unwrap();
    assert_eq!(state["pid"], pid, "the pid file holds the container's pid");
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert!(!b.dir.join("rootfs/ran").exists(), "nothing of the program runs before start");
    let list = b.rt(&["list"]);
    assert!(list.stdout.lines().any(|l| l.starts_with(&id) && l.contains("created")), "{list:?}");

    let r = b.rt(&["start", &id]);
    assert_eq!(r.code, 0, "{r:?}");
    wait_for("the program to run", || b.dir.join("rootfs/ran").exists());
    assert_eq!(b.status(&id), "running");
    let r = b.rt(&["start", &id]);
    assert!(r.code != 0 && r.stderr.contains("it is running"), "a second start is refused: {r:?}");
    let r = b.rt(&["delete", &id]);
    assert!(r.code != 0 && r.stderr.contains("running"), "delete of a running container without --force: {r:?}");
    let r = b.rt(&["kill", &id, "NOSUCH"]);
    assert!(r.code != 0 && r.stderr.contains("unknown signal 'NOSUCH'"), "{r:?}");

    let r = b.rt(&["kill", &id, "KILL"]);
    assert_eq!(r.code, 0, "{r:?}");
    wait_for("the container to stop", || b.status(&id) == "stopped");
    assert_eq!(b.state(&id)["pid"], 0);
    let r = b.rt(&["kill", &id, "TERM"]);
    assert!(r.code != 0 && r.stderr.contains("stopped"), "a stopped container takes no signal: {r:?}");
    let r = b.rt(&["delete", &id]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = b.rt(&["state", &id]);
    assert!(r.code != 0 && r.stderr.contains("does not exist"), "{r:?}");
    b.assert_clean();
}

#[test]
fn the_process_gets_the_bundles_user_env_cwd_hostname_and_capabilities() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&[
        "sh",
        "-c",
        "id; pwd; hostname; echo $GREETING; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; ulimit -n",
    ]);
    b.config(|c| {
        c["process"]["user"] = json!({ "uid": 1000, "gid": 1000, "additionalGids": [27] });
        c["process"]["env"] = json!(["PATH=/bin", "GREETING=hello"]);
        c["process"]["cwd"] = json!("/tmp");
        c["process"]["noNewPrivileges"] = json!(true);
        c["process"]["rlimits"] = json!([{ "type": "RLIMIT_NOFILE", "hard": 512, "soft": 256 }]);
        c["process"]["capabilities"] =
            json!({ "bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"] });
        c["hostname"] = json!("bundled");
    });
    let id = b.id("proc");
    let out = b.s.scratch.join("out");
    let file = std::fs::File::create(&out).unwrap();
    let status = b
        .command(&["create", "--bundle", &b.dir.to_string_lossy(), &id])
        .stdout(file)
        .stderr(Stdio::inherit())
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(b.rt(&["start", &id]).code, 0);
    wait_for("the container to stop", || b.status(&id) == "stopped");
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("uid=1000 gid=1000 groups=27"), "the additional gids as given: {text}");
    assert!(text.contains("\n/tmp\nbundled\nhello\n"), "{text}");
    assert!(text.contains("CapEff:\t0000000000000000"), "a user other than root holds none: {text}");
    assert!(text.contains("NoNewPrivs:\t1"), "{text}");
    assert!(text.trim_end().ends_with("256"), "{text}");
    assert_eq!(b.rt(&["delete", &id]).code, 0);
    b.assert_clean();
}

#[test]
fn exec_runs_a_process_beside_the_containers_from_the_command_line_or_a_process_json() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["sleep", "1000"]);
    let id = b.id("exec");
    let r = b.rt(&["exec", &id, "true"]);
    assert!(r.code != 0 && r.stderr.contains("does not exist"), "{r:?}");
    assert_eq!(b.create(&id).code, 0);
    let r = b.rt(&["exec", &id, "true"]);
    assert!(r.code != 0 && r.stderr.contains("cannot exec in container") && r.stderr.contains("created"), "{r:?}");
    assert_eq!(b.rt(&["start", &id]).code, 0);

    let r = b.rt(&["exec", &id, "sh", "-c", "cat /proc/1/cmdline; id -u; exit 7"]);
    assert_eq!(r.code, 7, "the exec's status is the verb's: {r:?}");
    assert_eq!(r.stdout, "sleep\u{0}1000\u{0}0\n", "{r:?}");

    let process = b.s.scratch.join("process.json");
    let json = json!({ "args": ["sh", "-c", "id; pwd; echo $X"], "env": ["X=from-json", "PATH=/bin"], "cwd": "/tmp",
        "user": { "uid": 1000, "gid": 1000 } });
    std::fs::write(&process, json.to_string()).unwrap();
    let r = b.rt(&["exec", "--process", &process.to_string_lossy(), &id]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "uid=1000 gid=1000\n/tmp\nfrom-json\n"), "{r:?}");

    let pid_file = b.s.scratch.join("exec.pid");
    let r = b.rt(&["exec", "--detach", "--pid-file", &pid_file.to_string_lossy(), &id, "sleep", "1000"]);
    assert_eq!(r.code, 0, "{r:?}");
    let pid = std::fs::read_to_string(&pid_file).unwrap();
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    assert_eq!(cmdline, b"sleep\x001000\x00", "the detached process runs on: pid {pid}");
    let r = b.rt(&["ps", "--format", "json", &id]);
    let pids: Vec<i64> = serde_json::from_str(&r.stdout).unwrap();
    let first = b.state(&id)["pid"].as_i64().unwrap();
    assert!(pids.contains(&first) && pids.contains(&pid.parse().unwrap()), "ps lists both: {r:?}");

    std::fs::write(&process, "{ \"args\": 3 }").unwrap();
    let r = b.rt(&["exec", "--process", &process.to_string_lossy(), &id]);
    assert!(r.code != 0 && r.stderr.contains("process file") && r.stderr.contains("process.json"), "{r:?}");
    std::fs::write(&process, json!({ "args": [], "cwd": "/", "user": { "uid": 0, "gid": 0 } }).to_string()).unwrap();
    let r = b.rt(&["exec", "--process", &process.to_string_lossy(), &id]);
    assert!(r.code != 0 && r.stderr.contains("process.args: empty"), "{r:?}");

    let r = b.rt(&["kill", "--all", &id, "KILL"]);
    assert_eq!(r.code, 0, "{r:?}");
    wait_for("every process of the container to end", || {
        b.status(&id) == "stopped" && !Path::new(&format!("/proc/{pid}/cmdline")).exists()
    });
    assert_eq!(b.rt(&["delete", &id]).code, 0);
    b.assert_clean();
}

/// Gives the bundle `c` a user namespace whose ids 0-65535 are host ids 300000-365535.
fn with_user_namespace(c: &mut Value) {
    c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({ "type": "user" }));
    let map = json!([{ "containerID": 0, "hostID": 300000, "size": 65536 }]);
    c["linux"]["uidMappings"] = map.clone();
    c["linux"]["gidMappings"] = map;
}

#[test]
fn a_bundles_user_namespace_holds_its_process_and_execs_and_bad_mappings_are_refused() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["sleep", "1000"]);
    b.chown_rootfs(300000);
    b.config(with_user_namespace);
    let id = b.id("userns");
    let r = b.create(&id);
    assert_eq!(r.code, 0, "{r:?}");
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    let host_view = std::fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap();
    assert_eq!(host_view.split_whitespace().collect::<Vec<_>>(), ["0", "300000", "65536"]);
    assert_eq!(std::fs::metadata(format!("/proc/{pid}")).unwrap().uid(), 300000, "root inside is 300000 outside");
    assert_eq!(b.rt(&["start", &id]).code, 0);
    let r = b.rt(&["exec", &id, "sh", "-c", "id -u; cat /proc/self/uid_map; touch /mine && echo wrote"]);
    let seen: Vec<&str> = r.stdout.split_whitespace().collect();
    assert_eq!((r.code, seen), (0, vec!["0", "0", "300000", "65536", "wrote"]), "the exec joins it: {r:?}");
    assert_eq!(std::fs::metadata(b.dir.join("rootfs/mine")).unwrap().uid(), 300000);
    assert_eq!(b.rt(&["delete", "--force", &id]).code, 0);

    let config = b.dir.join("config.json");
    let good = std::fs::read(&config).unwrap();
    let refused = |edit: &dyn Fn(&mut Value), needle: &str| {
        std::fs::write(&config, &good).unwrap();
        b.config(edit);
        let r = b.create(&id);
        assert!(r.code != 0 && r.stderr.contains(needle), "expected an error naming '{needle}': {r:?}");
        assert!(!b.root.join(&id).exists(), "no state is left");
    };
    refused(&|c| c["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "user"), "no user namespace");
    refused(&|c| c["linux"]["gidMappings"] = json!([]), "linux.gidMappings: missing");
    refused(
        &|c| c["linux"]["uidMappings"] = json!([{ "containerID": 1, "hostID": 300001, "size": 10 }]),
        "maps no host id to the container's id 0",
    );
    refused(
        &|c| c["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "network"),
        "a user namespace with the host's or a joined network namespace",
    );
    refused(
        &|c| {
            c["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "user");
            c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({ "type": "user", "path": "/proc/1/ns/user" }));
        },
        "joining the user namespace at /proc/1/ns/user",
    );
    // Overlapping ranges pass sbx's checks; the kernel refuses them once the process exists.
    refused(
        &|c| {
            c["linux"]["uidMappings"] = json!([{ "containerID": 0, "hostID": 300000, "size": 10 },
                { "containerID": 5, "hostID": 400000, "size": 10 }])
        },
        "the kernel refused the bundle's id mappings",
    );
    // A policy that wants a user namespace gets the bundle's; sbx does not invent one.
    let policy = format!(
        "plugins:\n  - path: {}\n    settings: {{require_userns: true, allow_unconfined: true}}\n",
        plugin_arg("no-escalation")
    );
    let cfg = b.s.write_config(&policy);
    std::fs::write(&config, &good).unwrap();
    let r = b.rt(&["--config", &cfg, "create", "--bundle", &b.dir.to_string_lossy(), &id]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(b.rt(&["delete", "--force", &id]).code, 0);
    b.config(|c| c["linux"]["namespaces"].as_array_mut().unwrap().retain(|n| n["type"] != "user"));
    b.config(|c| c["linux"]["uidMappings"] = json!(null));
    b.config(|c| c["linux"]["gidMappings"] = json!(null));
    let r = b.rt(&["--config", &cfg, "create", "--bundle", &b.dir.to_string_lossy(), &id]);
    assert!(r.code == 125 && r.stderr.contains("the bundle has no linux.uidMappings"), "{r:?}");
    assert!(!b.root.join(&id).exists(), "no state is left");
    b.assert_clean();
}

#[test]
fn delete_force_kills_a_running_container_and_a_killed_one_still_cleans_up() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["sleep", "1000"]);
    let (one, two) = (b.id("force"), b.id("killed"));
    for id in [&one, &two] {
        assert_eq!(b.create(id).code, 0);
        assert_eq!(b.rt(&["start", id]).code, 0);
    }
    let r = b.rt(&["delete", "--force", &one]);
    assert_eq!(r.code, 0, "{r:?}");
    let pid = b.state(&two)["pid"].as_i64().unwrap();
    Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap();
    wait_for("the killed container to stop", || b.status(&two) == "stopped");
    assert_eq!(b.rt(&["delete", &two]).code, 0);
    let r = b.rt(&["delete", "--force", &two]);
    assert_eq!(r.code, 0, "delete --force of what is gone succeeds, as runc's: {r:?}");
    // A created container that was never started is deleted without --force.
    let three = b.id("created");
    assert_eq!(b.create(&three).code, 0);
    assert_eq!(b.rt(&["delete", &three]).code, 0);
    b.assert_clean();
}

#[test]
fn bad_bundles_and_ids_are_refused_by_name_and_leave_nothing() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["true"]);
    let bundle = b.dir.to_string_lossy().into_owned();
    let id = b.id("bad");
    let refused = |r: Run, needle: &str| {
        assert!(r.code != 0 && r.stderr.contains(needle), "expected an error naming '{needle}': {r:?}");
        assert!(!b.root.join(&id).exists(), "no state is left");
    };
    let config = b.dir.join("config.json");
    let good = std::fs::read(&config).unwrap();

    std::fs::remove_file(&config).unwrap();
    refused(b.create(&id), "has no config.json");
    std::fs::write(&config, "{ not json").unwrap();
    refused(b.create(&id), "config.json: key must be a string");
    std::fs::write(&config, &good).unwrap();
    b.config(|c| c["ociVersion"] = json!("2.0.0"));
    refused(b.create(&id), "ociVersion 2.0.0 is not one sbx knows");
    std::fs::write(&config, &good).unwrap();
    b.config(|c| c["root"]["path"] = json!("nowhere"));
    refused(b.create(&id), "root filesystem");
    std::fs::write(&config, &good).unwrap();
    b.config(|c| c["process"]["args"] = json!([]));
    refused(b.create(&id), "process.args: empty");
    std::fs::write(&config, &good).unwrap();
    b.config(|c| c["mounts"] = json!([{ "destination": "/x", "type": "nfs", "source": "server:/x" }]));
    refused(b.create(&id), "a mount of type 'nfs' at /x");
    std::fs::write(&config, &good).unwrap();

    refused(b.rt(&["create", "--bundle", &bundle, "a/b"]), "container id 'a/b' is not valid");
    refused(b.rt(&["create", "--bundle", &bundle, ".."]), "container id '..' is not valid");
    let missing = b.s.scratch.join("no-bundle");
    refused(b.rt(&["create", "--bundle", &missing.to_string_lossy(), &id]), "no-bundle");

    b.config(|c| c["process"]["terminal"] = json!(true));
    let not_a_socket = b.s.scratch.join("file");
    std::fs::write(&not_a_socket, "").unwrap();
    refused(
        b.rt(&["create", "--bundle", &bundle, "--console-socket", &not_a_socket.to_string_lossy(), &id]),
        "not a unix socket",
    );
    refused(b.create(&id), "no --console-socket");
    std::fs::write(&config, &good).unwrap();

    assert_eq!(b.create(&id).code, 0);
    let r = b.create(&id);
    assert!(r.code != 0 && r.stderr.contains("already exists"), "{r:?}");
    assert_eq!(b.rt(&["delete", &id]).code, 0);
    for verb in ["start", "state", "delete"] {
        let r = b.rt(&[verb, "nosuch"]);
        assert!(r.code != 0 && r.stderr.contains("container nosuch does not exist"), "{verb}: {r:?}");
    }
    b.assert_clean();
}

#[test]
fn a_policy_deny_fails_create_with_its_message_on_stderr_and_in_the_json_log() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["true"]);
    let cfg = b.s.write_config(&format!("plugins:\n  - path: {}\n", plugin_arg("non-root")));
    let log = b.s.scratch.join("log.json");
    let id = b.id("denied");
    let mut cmd = b.command(&[]);
    cmd.args(["--config", &cfg, "--log", &log.to_string_lossy(), "--log-format", "json"]);
    let r = output(cmd.args(["create", "--bundle", &b.dir.to_string_lossy(), &id]));
    assert!(r.code != 0 && r.stderr.contains("denied by policy non-root"), "{r:?}");
    let line: Value = serde_json::from_str(std::fs::read_to_string(&log).unwrap().lines().last().unwrap()).unwrap();
    assert_eq!(line["level"], "error");
    assert!(line["msg"].as_str().unwrap().contains("denied by policy non-root"), "{line}");
    assert!(!b.root.join(&id).exists());

    b.config(|c| {
        c["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
        c["process"]["capabilities"] = json!({ "bounding": [], "effective": [], "permitted": [] });
    });
    let mut cmd = b.command(&[]);
    let r = output(cmd.args(["--config", &cfg, "create", "--bundle", &b.dir.to_string_lossy(), &id]));
    assert_eq!(r.code, 0, "a non-root process passes: {r:?}");
    assert_eq!(b.rt(&["delete", &id]).code, 0);
    b.assert_clean();
}

#[test]
fn image_checks_see_the_image_the_bundles_annotations_name_and_only_then() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["true"]);
    let cfg = b.s.write_config(&format!(
        "plugins:\n  - path: {}\n    settings: {{names: [\"docker.io/library/*\"]}}\n",
        plugin_arg("allowed-sources")
    ));
    let id = b.id("sources");
    let create = || output(&mut b.command(&["--config", &cfg, "create", "--bundle", &b.dir.to_string_lossy(), &id]));
    let name = |image: &str| {
        b.config(|c| c["annotations"] = json!({ "io.kubernetes.cri.image-name": image }));
    };
    name("evil.example/miner:1");
    let r = create();
    assert!(
        r.code == 125
            && r.stderr
                .contains("denied by policy allowed-sources: image evil.example/miner:1 is not from an allowed source"),
        "{r:?}"
    );
    assert!(!b.root.join(&id).exists(), "no state is left");
    name("docker.io/library/busybox:latest");
    let r = create();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(b.rt(&["delete", &id]).code, 0);
    // A bundle that does not say what it was made of is no image to check (its directory would
    // not be an allowed source): its spec is.
    b.config(|c| c["annotations"] = json!({}));
    let r = create();
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(b.rt(&["delete", &id]).code, 0);
    b.assert_clean();
}

#[test]
fn the_binary_called_sbx_runtime_speaks_runcs_command_line() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["true"]);
    let link = b.s.scratch.join("sbx-runtime");
    std::os::unix::fs::symlink(sbx_bin(), &link).unwrap();
    let run = |args: &[&str]| -> Run { output(Command::new(&link).args(args)) };
    let root = b.root.to_string_lossy().into_owned();
    let r = run(&["--version"]);
    assert!(r.code == 0 && r.stdout.starts_with("sbx-runtime "), "{r:?}");
    let id = b.id("runc");
    let r = run(&["--root", &root, "--log-format", "json", "create", "--bundle", &b.dir.to_string_lossy(), &id]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = run(&["--root", &root, "list", "--format", "json"]);
    let list: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(list[0]["id"], id.as_str(), "{r:?}");
    let r = run(&["--root", &root, "features"]);
    let features: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(features["ociVersionMax"], "1.2.0");
    let r = run(&["--root", &root, "--systemd-cgroup", "state", &id]);
    assert!(r.code != 0 && r.stderr.contains("--systemd-cgroup"), "{r:?}");
    for verb in ["checkpoint", "restore"] {
        let r = run(&["--root", &root, verb, &id]);
        assert!(r.code == 125 && r.stderr.contains(&format!("{verb} is not supported")), "{r:?}");
    }
    assert_eq!(run(&["--root", &root, "delete", "--force", &id]).code, 0);
    b.assert_clean();
}

#[test]
fn a_bundle_whose_proc_or_sys_is_a_symlink_out_of_its_root_is_refused() {
    if !is_root() {
        return;
    }
    let canary = Path::new("/tmp").join(format!("sbx-runtime-canary-{}", std::process::id()));
    let b = Bundle::new(&["sh", "-c", &format!("touch {}", canary.display())]);
    for (at, to) in [("proc", ".."), ("sys", "../.."), ("proc", "/")] {
        let rootfs = b.dir.join("rootfs");
        let path = rootfs.join(at);
        let _ = std::fs::remove_dir_all(&path);
        let _ = std::fs::remove_file(&path);
        std::os::unix::fs::symlink(to, &path).unwrap();
        let id = b.id("escape");
        let r = b.create(&id);
        assert!(r.code != 0 && r.stderr.contains(&format!("/{at}")), "{at} -> {to}: {r:?}");
        assert!(!canary.exists(), "the host's /tmp was written");
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir(&path).unwrap();
    }
    b.assert_clean();
}

#[test]
fn pause_freezes_every_process_and_resume_thaws_them() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["sh", "-c", "while true; do date +%s%N > /tick; sleep 0.02; done"]);
    let id = b.id("pause");
    assert_eq!(b.create(&id).code, 0);
    let r = b.rt(&["pause", &id]);
    assert!(r.code != 0 && r.stderr.contains("it is created"), "a created container is not paused: {r:?}");
    assert_eq!(b.rt(&["start", &id]).code, 0);
    let tick = b.dir.join("rootfs/tick");
    let read = || std::fs::read_to_string(&tick).unwrap_or_default();
    wait_for("the loop to tick", || !read().is_empty());

    let r = b.rt(&["pause", &id]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(b.status(&id), "paused");
    let frozen = read();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(read(), frozen, "nothing of a paused container runs");
    let r = b.rt(&["pause", &id]);
    assert!(r.code != 0 && r.stderr.contains("it is paused"), "{r:?}");
    let r = b.rt(&["delete", &id]);
    assert!(r.code != 0 && r.stderr.contains("paused"), "a paused container is not deleted without --force: {r:?}");

    let r = b.rt(&["resume", &id]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(b.status(&id), "running");
    wait_for("the loop to tick again", || read() != frozen);
    let r = b.rt(&["resume", &id]);
    assert!(r.code != 0 && r.stderr.contains("it is running"), "{r:?}");

    // A paused container killed with SIGKILL ends (it is thawed for the signal to land).
    assert_eq!(b.rt(&["pause", &id]).code, 0);
    assert_eq!(b.rt(&["kill", &id, "KILL"]).code, 0);
    wait_for("the killed container to stop", || b.status(&id) == "stopped");
    assert_eq!(b.rt(&["delete", &id]).code, 0);

    // delete --force of a paused one.
    let id2 = b.id("pause2");
    assert_eq!(b.create(&id2).code, 0);
    assert_eq!(b.rt(&["start", &id2]).code, 0);
    assert_eq!(b.rt(&["pause", &id2]).code, 0);
    let r = b.rt(&["delete", "--force", &id2]);
    assert_eq!(r.code, 0, "{r:?}");
    b.assert_clean();
}

#[test]
fn run_creates_starts_waits_and_deletes_or_detaches() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["sh", "-c", "echo out; echo err >&2; exit 3"]);
    let id = b.id("run");
    let r = b.rt(&["run", "--bundle", &b.dir.to_string_lossy(), &id]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (3, "out\n", "err\n"), "{r:?}");
    b.assert_clean();

    let r = b.rt(&["run", "--keep", "--bundle", &b.dir.to_string_lossy(), &id]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(b.status(&id), "stopped", "--keep keeps the stopped container");
    assert_eq!(b.rt(&["delete", &id]).code, 0);

    // In the foreground, the signals the runtime gets go to the process (as runc run's).
    let script = "trap 'echo got TERM; exit 7' TERM; touch /ready; while true; do sleep 0.1; done";
    b.config(|c| c["process"]["args"] = json!(["sh", "-c", script]));
    let mut run = b.command(&["run", "--bundle", &b.dir.to_string_lossy(), &id]);
    let child = run.stdout(Stdio::piped()).spawn().unwrap();
    wait_for("the process's trap", || b.dir.join("rootfs/ready").exists());
    // SAFETY: kill(2) with integers, to the runtime this test started.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let out = child.wait_with_output().unwrap();
    assert_eq!((out.status.code(), String::from_utf8_lossy(&out.stdout).as_ref()), (Some(7), "got TERM\n"));
    std::fs::remove_file(b.dir.join("rootfs/ready")).unwrap();
    b.assert_clean();

    b.config(|c| c["process"]["args"] = json!(["sleep", "1000"]));
    let r = b.rt(&["run", "--detach", "--bundle", &b.dir.to_string_lossy(), &id]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(b.status(&id), "running");
    assert_eq!(b.rt(&["delete", "--force", &id]).code, 0);
    b.assert_clean();
}

#[test]
fn the_cgroup_filesystem_shows_the_container_its_own_cgroup_read_only() {
    if !is_root() {
        return;
    }
    // Cgroups below the hierarchies' roots (the host's tree would have some), a write refused, and
    // every hierarchy's path in /proc/self/cgroup its namespace's root.
    let probe = "find /sys/fs/cgroup -mindepth 2 -type d | wc -l; \
        mkdir /sys/fs/cgroup/pids/x /sys/fs/cgroup/x 2>&1 | grep -c Read-only; \
        grep -c -v ':/$' /proc/self/cgroup; grep -c ' /sys/fs/cgroup' /proc/self/mounts";
    let b = Bundle::new(&["sh", "-c", probe]);
    let id = b.id("cgfs");
    let r = b.rt(&["run", "--bundle", &b.dir.to_string_lossy(), &id]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[..3], ["0", "1", "0"], "{r:?}");
    assert!(lines[3].parse::<u32>().unwrap() >= 1, "{r:?}");
    b.config(|c| {
        c["mounts"].as_array_mut().unwrap().retain(|m| m["destination"] != "/sys/fs/cgroup");
    });
    let r = b.rt(&["run", "--bundle", &b.dir.to_string_lossy(), &id]);
    assert_eq!(r.stdout.lines().last(), Some("0"), "none unless the bundle mounts it: {r:?}");
    b.assert_clean();
}

/// A hook running `script` with /bin/sh.
fn sh_hook(script: &str) -> Value {
    json!({ "path": "/bin/sh", "args": ["sh", "-c", script], "env": ["HOOKED=yes"], "timeout": 10 })
}

#[test]
fn the_bundles_hooks_run_at_their_points_with_the_state_on_stdin() {
    if !is_root() {
        return;
    }
    // Copied whole, then renamed: the test never reads a half-written copy.
    let b = Bundle::new(&["sh", "-c", "cp /started /tmp/saw && mv /tmp/saw /saw-start; exec sleep 1000"]);
    let id = b.id("hooks");
    let out = b.s.scratch.join("hooks");
    std::fs::create_dir(&out).unwrap();
    let o = out.display().to_string();
    // Each runtime-side hook appends its name to `order` and keeps its stdin and mount namespace.
    let record = |name: &str| {
        sh_hook(&format!(
            "echo {name} >> {o}/order; cat > {o}/{name}.json; readlink /proc/self/ns/mnt > {o}/{name}.mnt; echo $HOOKED > {o}/{name}.env"
        ))
    };
    b.config(|c| {
        c["hooks"] = json!({
            "prestart": [record("prestart")],
            "createRuntime": [record("createRuntime")],
            "createContainer": [record("createContainer")],
            // In the container: /bin/sh and / are the container's.
            "startContainer": [sh_hook("cat > /started")],
            "poststart": [record("poststart")],
            "poststop": [record("poststop")],
        });
    });
    let r = b.create(&id);
    assert_eq!(r.code, 0, "{r:?}");
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap_or_default();
    let state = |f: &str| -> Value { serde_json::from_str(&read(&format!("{f}.json"))).unwrap() };
    assert_eq!(read("order"), "prestart\ncreateRuntime\ncreateContainer\n");
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    for name in ["prestart", "createRuntime", "createContainer"] {
        let s = state(name);
        assert_eq!(
            (s["status"].as_str(), s["pid"].as_i64(), s["id"].as_str()),
            (Some("creating"), Some(pid), Some(&*id))
        );
        assert_eq!(s["bundle"], b.dir.to_string_lossy().as_ref());
        assert_eq!(read(&format!("{name}.env")), "yes\n", "a hook's env is its own");
    }
    let host_mnt = std::fs::read_link("/proc/self/ns/mnt").unwrap().to_string_lossy().into_owned();
    let container_mnt = std::fs::read_link(format!("/proc/{pid}/ns/mnt")).unwrap().to_string_lossy().into_owned();
    assert_ne!(host_mnt, container_mnt);
    assert_eq!(read("createRuntime.mnt").trim(), host_mnt, "createRuntime runs in the runtime's namespace");
    assert_eq!(read("createContainer.mnt").trim(), container_mnt, "createContainer runs in the container's");
    assert!(!b.dir.join("rootfs/started").exists(), "startContainer waits for start");

    let r = b.rt(&["start", &id]);
    assert_eq!(r.code, 0, "{r:?}");
    let started: Value = serde_json::from_slice(&std::fs::read(b.dir.join("rootfs/started")).unwrap()).unwrap();
    assert_eq!(started["status"], "created", "startContainer ran in the container, before its process");
    wait_for("the process to copy the startContainer hook's file", || b.dir.join("rootfs/saw-start").exists());
    let saw = std::fs::read_to_string(b.dir.join("rootfs/saw-start")).unwrap();
    assert_eq!(saw, std::fs::read_to_string(b.dir.join("rootfs/started")).unwrap(), "the hook finished before it");
    assert_eq!(state("poststart")["status"], "running");
    assert_eq!(read("order"), "prestart\ncreateRuntime\ncreateContainer\npoststart\n");

    assert_eq!(b.rt(&["delete", "--force", &id]).code, 0);
    assert_eq!(state("poststop")["status"], "stopped");
    assert_eq!(read("order").lines().last(), Some("poststop"));
    b.assert_clean();
}

#[test]
fn a_failing_hook_fails_its_step_by_name_and_leaves_nothing() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["sleep", "1000"]);
    let id = b.id("badhook");
    b.config(|c| c["hooks"] = json!({ "createRuntime": [sh_hook("echo the network is not ready >&2; exit 7")] }));
    let r = b.create(&id);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("createRuntime hook /bin/sh failed (exit status: 7): the network is not ready"), "{r:?}");
    b.assert_clean();

    b.config(|c| {
        c["hooks"] = json!({ "createContainer": [{ "path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1 }] })
    });
    let r = b.create(&id);
    assert!(r.code == 125 && r.stderr.contains("did not finish within its timeout of 1 s"), "{r:?}");
    b.assert_clean();

    b.config(|c| c["hooks"] = json!({ "prestart": [{ "path": "sh", "args": ["sh"] }] }));
    let r = b.create(&id);
    assert!(r.code == 125 && r.stderr.contains("hooks: the path sh is not absolute"), "{r:?}");
    b.assert_clean();

    // A failed startContainer hook fails start and stops the container.
    b.config(|c| c["hooks"] = json!({ "startContainer": [sh_hook("exit 1")] }));
    assert_eq!(b.create(&id).code, 0);
    let r = b.rt(&["start", &id]);
    assert!(r.code == 125 && r.stderr.contains("startContainer hook /bin/sh failed"), "{r:?}");
    wait_for("the container to stop", || b.status(&id) == "stopped");
    assert_eq!(b.rt(&["delete", &id]).code, 0);
    b.assert_clean();
}

/// A process in network, IPC, UTS and PID namespaces of its own, as a pod's sandbox holds them;
/// killed when dropped.
struct Pod {
    unshare: std::process::Child,
    /// The pod's first process (PID 1 of its PID namespace).
    pid: i32,
}

impl Pod {
    fn new() -> Pod {
        // --kill-child: the pod's process (PID 1 of its namespace) goes with `unshare`.
        let unshare = Command::new("unshare")
            .args([
                "--net",
                "--ipc",
                "--uts",
                "--pid",
                "--fork",
                "--kill-child",
                "sh",
                "-c",
                "hostname podhost; exec sleep 1000",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let children = format!("/proc/{0}/task/{0}/children", unshare.id());
        let mut pid = 0;
        wait_for("the pod's process", || {
            pid = std::fs::read_to_string(&children).unwrap_or_default().trim().parse().unwrap_or(0);
            pid != 0 && std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|e| e.ends_with("sleep"))
        });
        Pod { unshare, pid }
    }

    fn ns(&self, name: &str) -> String {
        format!("/proc/{}/ns/{name}", self.pid)
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        let _ = self.unshare.kill();
        let _ = self.unshare.wait();
    }
}

fn ns_of(pid: i64, name: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{name}")).unwrap().to_string_lossy().into_owned()
}

#[test]
fn a_container_joins_the_namespaces_a_bundle_names_by_path() {
    if !is_root() {
        return;
    }
    let pod = Pod::new();
    let b = Bundle::new(&["sh", "-c", "hostname > /seen; echo $$ >> /seen; exec sleep 1000"]);
    let id = b.id("join");
    let with = |paths: &[(&str, String)]| {
        let mut list = vec![json!({ "type": "mount" }), json!({ "type": "cgroup" })];
        list.extend(paths.iter().map(|(t, p)| json!({ "type": t, "path": p })));
        list
    };
    let joined =
        with(&[("network", pod.ns("net")), ("ipc", pod.ns("ipc")), ("uts", pod.ns("uts")), ("pid", pod.ns("pid"))]);
    b.config(|c| c["linux"]["namespaces"] = json!(joined));
    let r = b.create(&id);
    assert!(
        r.code == 125 && r.stderr.contains("hostname: cannot be set in a UTS namespace the container joins"),
        "{r:?}"
    );
    b.config(|c| {
        c.as_object_mut().unwrap().remove("hostname");
    });
    let r = b.create(&id);
    assert_eq!(r.code, 0, "{r:?}");
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    for name in ["net", "ipc", "uts", "pid"] {
        assert_eq!(ns_of(pid, name), ns_of(pod.pid as i64, name), "the container is in the pod's {name} namespace");
    }
    assert_ne!(ns_of(pid, "mnt"), ns_of(pod.pid as i64, "mnt"), "its mount namespace is its own");
    assert_eq!(b.rt(&["start", &id]).code, 0);
    wait_for("the process to run", || {
        std::fs::read_to_string(b.dir.join("rootfs/seen")).is_ok_and(|s| s.lines().count() == 2)
    });
    let seen = std::fs::read_to_string(b.dir.join("rootfs/seen")).unwrap();
    let mut lines = seen.lines();
    assert_eq!(lines.next(), Some("podhost"), "the pod's hostname");
    assert!(lines.next().unwrap().parse::<i32>().unwrap() > 1, "not PID 1: the pod's first process is: {seen}");
    assert_eq!(b.rt(&["delete", "--force", &id]).code, 0);
    b.assert_clean();
}

#[test]
fn joined_namespaces_that_are_the_hosts_or_not_namespaces_are_refused_or_seen_as_the_host() {
    if !is_root() {
        return;
    }
    let pod = Pod::new();
    let b = Bundle::new(&["true"]);
    let id = b.id("badjoin");
    let set = |list: Value| {
        b.config(|c| {
            c["linux"]["namespaces"] = list;
            c.as_object_mut().unwrap().remove("hostname");
        })
    };
    let own = |t: &str| json!({ "type": t });
    let join = |t: &str, p: &str| json!({ "type": t, "path": p });
    let me = std::process::id();
    for (list, says) in [
        (
            json!([own("mount"), own("pid"), own("uts"), join("ipc", &pod.ns("net"))]),
            format!("namespace {} (config.json linux.namespaces): is not a ipc namespace", pod.ns("net")),
        ),
        (
            json!([own("mount"), own("pid"), own("uts"), own("ipc"), join("network", "/nonexistent/ns")]),
            "namespace /nonexistent/ns (config.json linux.namespaces): No such file".to_string(),
        ),
        (
            json!([own("mount"), join("pid", &format!("/proc/{me}/ns/pid")), own("uts"), own("ipc")]),
            "is the host's pid namespace".to_string(),
        ),
        (
            json!([join("mount", &pod.ns("mnt")), own("pid"), own("uts"), own("ipc")]),
            "joining the mount namespace".to_string(),
        ),
    ] {
        set(list);
        let r = b.create(&id);
        assert!(r.code == 125 && r.stderr.contains(&says), "{says}: {r:?}");
        b.assert_clean();
    }

    // The host's network by path is the host network, and a policy sees it so.
    set(json!([own("mount"), own("pid"), own("uts"), own("ipc"), join("network", &format!("/proc/{me}/ns/net"))]));
    let policy = |settings: &str| {
        b.s.write_config(&format!("plugins:\n  - path: {}\n    settings: {settings}\n", plugin_arg("no-escalation")))
    };
    let create =
        |cfg: &str| output(&mut b.command(&["--config", cfg, "create", "--bundle", &b.dir.to_string_lossy(), &id]));
    let r = create(&policy("{ allow_unconfined: true }"));
    assert!(r.code == 125 && r.stderr.contains("the host's network (--network host) is not allowed"), "{r:?}");
    b.assert_clean();
    let r = create(&policy("{ allow_unconfined: true, allow_host_network: true }"));
    assert_eq!(r.code, 0, "{r:?}");
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    assert_eq!(ns_of(pid, "net"), ns_of(me as i64, "net"), "it runs in the host's network namespace");
    assert_eq!(b.rt(&["delete", "--force", &id]).code, 0);
    b.assert_clean();
}

#[test]
fn update_changes_the_limits_of_a_running_container_and_events_reads_its_cgroup() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["sleep", "1000"]);
    let id = b.id("update");
    assert_eq!(b.create(&id).code, 0);
    assert_eq!(b.rt(&["start", &id]).code, 0);
    let cg = |controller: &str, file: &str| {
        let dir = Path::new("/sys/fs/cgroup").join(controller).join("sbx-runtime").join(&id);
        std::fs::read_to_string(dir.join(file)).unwrap().trim().to_string()
    };
    let r = b.rt(&["update", "--memory", "67108864", "--pids-limit", "20", &id]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!((cg("memory", "memory.limit_in_bytes"), cg("pids", "pids.max")), ("67108864".into(), "20".into()));

    let file = b.s.scratch.join("resources.json");
    std::fs::write(&file, r#"{"memory": {"limit": 33554432}, "cpu": {"quota": 50000, "period": 100000}}"#).unwrap();
    let r = b.rt(&["update", "--resources", &file.to_string_lossy(), &id]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(cg("memory", "memory.limit_in_bytes"), "33554432");
    assert_eq!(cg("cpu", "cpu.cfs_quota_us"), "50000");
    assert_eq!(cg("pids", "pids.max"), "20", "what the update does not name stays");
    // From stdin, as containerd's shim passes it.
    let mut cmd = b.command(&["update", "--resources", "-", &id]);
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::null()).spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), br#"{"pids": {"limit": 30}}"#).unwrap();
    assert!(child.wait().unwrap().success());
    assert_eq!(cg("pids", "pids.max"), "30");

    let r = b.rt(&["events", "--stats", &id]);
    assert_eq!(r.code, 0, "{r:?}");
    let event: Value = serde_json::from_str(r.stdout.trim()).unwrap();
    assert_eq!((event["type"].as_str(), event["id"].as_str()), (Some("stats"), Some(&*id)));
    assert_eq!(event["data"]["pids"]["current"], 1, "{event}");
    assert_eq!(event["data"]["pids"]["limit"], 30, "{event}");
    assert_eq!(event["data"]["memory"]["usage"]["limit"], 33554432, "{event}");

    // Bad input, named; a policy sees an update as it saw create.
    std::fs::write(&file, "{not json").unwrap();
    let r = b.rt(&["update", "--resources", &file.to_string_lossy(), &id]);
    assert!(r.code == 125 && r.stderr.contains(&*file.to_string_lossy()), "{r:?}");
    let r = b.rt(&["update", "--blkio-weight", "10", &id]);
    assert!(r.code == 125 && r.stderr.contains("--blkio-weight is not supported"), "{r:?}");
    let cfg = b.s.write_config(&format!("plugins:\n  - path: {}\n", plugin_arg("non-root")));
    let r = b.rt(&["--config", &cfg, "update", "--memory", "134217728", &id]);
    assert!(r.code == 125 && r.stderr.contains("denied by policy non-root"), "{r:?}");
    assert_eq!(cg("memory", "memory.limit_in_bytes"), "33554432", "a denied update changes nothing");

    assert_eq!(b.rt(&["kill", &id, "KILL"]).code, 0);
    wait_for("the container to stop", || b.status(&id) == "stopped");
    let r = b.rt(&["update", "--memory", "67108864", &id]);
    assert!(r.code == 125 && r.stderr.contains("it is stopped"), "{r:?}");
    let r = b.rt(&["events", "--stats", &id]);
    assert!(r.code == 125 && r.stderr.contains("stopped"), "{r:?}");
    assert_eq!(b.rt(&["delete", &id]).code, 0);
    b.assert_clean();
}

#[test]
fn events_reports_a_kill_by_the_oom_killer_as_it_happens() {
    if !is_root() {
        return;
    }
    use std::io::{BufRead, BufReader};
    // Once told to (/go), a child fills 64 MiB of memory in a 16 MiB cgroup; the shell lives on
    // (the child and its own children are the OOM killer's first choice).
    let hog = "while [ ! -e /go ]; do sleep 0.1; done; \
        sh -c 'echo 1000 > /proc/self/oom_score_adj; x=$(head -c 67108864 /dev/zero | tr \"\\0\" a)'; \
        sleep 1000";
    let b = Bundle::new(&["sh", "-c", hog]);
    b.config(|c| c["linux"]["resources"] = json!({ "memory": { "limit": 16777216, "swap": 16777216 } }));
    let id = b.id("oom");
    assert_eq!(b.create(&id).code, 0);
    assert_eq!(b.rt(&["start", &id]).code, 0);
    let mut events = b.command(&["events", "--interval", "60", &id]).stdout(Stdio::piped()).spawn().unwrap();
    let mut lines = BufReader::new(events.stdout.take().unwrap()).lines();
    let first: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!(first["type"], "stats", "{first}");
    std::fs::write(b.dir.join("rootfs/go"), "").unwrap();
    let next: Value = serde_json::from_str(&lines.next().unwrap().unwrap()).unwrap();
    assert_eq!((next["type"].as_str(), next["id"].as_str()), (Some("oom"), Some(id.as_str())), "{next}");
    let _ = events.kill();
    let _ = events.wait();
    assert_eq!(b.status(&id), "running", "the shell outlived its child");
    assert_eq!(b.rt(&["delete", "--force", &id]).code, 0);
    std::fs::remove_file(b.dir.join("rootfs/go")).unwrap();
    b.assert_clean();
}

#[test]
fn sysctls_devices_and_the_oom_score_reach_the_container_and_not_the_host() {
    if !is_root() {
        return;
    }
    // Written whole, then renamed into place: the test never reads a half-written report.
    let script = "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/sys/kernel/domainname > /tmp/out; \
                  ls -l /dev/myfull /dev/fuse >> /tmp/out; if echo x > /dev/myfull; then echo wrote; fi 2>> /tmp/out; \
                  mv /tmp/out /out; exec sleep 1000";
    let b = Bundle::new(&["sh", "-c", script]);
    let id = b.id("sysctl");
    let host = |f: &str| std::fs::read_to_string(format!("/proc/sys/{f}")).unwrap();
    let before = (host("net/ipv4/ip_forward"), host("kernel/shmmax"), host("kernel/domainname"));
    b.config(|c| {
        c["linux"]["sysctl"] =
            json!({ "net.ipv4.ip_forward": "1", "kernel.shmmax": "123456789", "kernel.domainname": "pod.local" });
        c["linux"]["devices"] = json!([
            { "path": "/dev/myfull", "type": "c", "major": 1, "minor": 7, "fileMode": 0o620 },
            { "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229 },
        ]);
        c["process"]["oomScoreAdj"] = json!(500);
    });
    let r = b.create(&id);
    assert_eq!(r.code, 0, "{r:?}");
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    assert_eq!(std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj")).unwrap().trim(), "500");
    let devices = Path::new("/sys/fs/cgroup/devices/sbx-runtime").join(&id).join("devices.list");
    if devices.exists() {
        let list = std::fs::read_to_string(&devices).unwrap();
        assert!(list.contains("c 10:229 rwm"), "the device cgroup allows the bundle's devices: {list}");
    }
    assert_eq!(b.rt(&["start", &id]).code, 0);
    let out = b.dir.join("rootfs/out");
    wait_for("the process to report", || std::fs::read_to_string(&out).is_ok_and(|s| s.lines().count() >= 5));
    let seen = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(lines[..3], ["1", "123456789", "pod.local"], "{seen}");
    let node = |path: &str| lines.iter().find(|l| l.ends_with(path)).copied().unwrap_or_default();
    assert!(node("/dev/myfull").starts_with("crw--w----") && node("/dev/myfull").contains("1,   7"), "{seen}");
    assert!(node("/dev/fuse").starts_with("crw-rw-rw-") && node("/dev/fuse").contains("10, 229"), "{seen}");
    assert!(seen.contains("No space left on device"), "/dev/myfull is the full device: {seen}");
    assert_eq!(
        (host("net/ipv4/ip_forward"), host("kernel/shmmax"), host("kernel/domainname")),
        before,
        "the host's parameters are untouched"
    );
    assert_eq!(b.rt(&["delete", "--force", &id]).code, 0);
    b.assert_clean();

    for (edit, says) in [
        (json!({ "sysctl": { "kernel.panic": "1" } }), "kernel.panic is not in a namespace of the container"),
        (json!({ "sysctl": { "net/../../kernel/panic": "1" } }), "is not a kernel parameter's name"),
        (json!({ "sysctl": { "net.nosuch.param": "1" } }), "cannot set the kernel parameter net.nosuch.param"),
        (
            json!({ "devices": [{ "path": "/etc/x", "type": "c", "major": 1, "minor": 3 }] }),
            "/etc/x is not a path under /dev",
        ),
        (json!({ "devices": [{ "path": "/dev/p", "type": "p" }] }), "/dev/p: a device of type"),
    ] {
        b.config(|c| {
            let linux = c["linux"].as_object_mut().unwrap();
            linux.remove("sysctl");
            linux.remove("devices");
            linux.extend(edit.as_object().unwrap().clone());
        });
        let r = b.create(&id);
        assert!(r.code == 125 && r.stderr.contains(says), "{says}: {r:?}");
        b.assert_clean();
    }
    // net.* needs a network namespace of the container's own.
    b.config(|c| {
        c["linux"].as_object_mut().unwrap().remove("devices");
        c["linux"]["sysctl"] = json!({ "net.ipv4.ip_forward": "1" });
        let list = c["linux"]["namespaces"].as_array_mut().unwrap();
        list.retain(|n| n["type"] != "network");
    });
    let r = b.create(&id);
    assert!(r.code == 125 && r.stderr.contains("would change the host's network"), "{r:?}");
    b.assert_clean();
}

#[test]
fn preserve_fds_passes_the_engines_descriptors_after_stderr_and_only_those() {
    if !is_root() {
        return;
    }
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let b = Bundle::new(&[
        "sh",
        "-c",
        "echo through fd 3 >&3; if echo x >&4; then echo open > /fd4; fi 2>/dev/null; exec sleep 1000",
    ]);
    let file = b.s.scratch.join("fd3.txt");
    // Runs the runtime with `args`, descriptor 3 writing to `file` and 4 to another file.
    let with_fds = |args: &[&str]| {
        let f3 = std::fs::File::create(&file).unwrap();
        let f4 = std::fs::File::create(b.s.scratch.join("fd4.txt")).unwrap();
        let (a, c) = (f3.as_raw_fd(), f4.as_raw_fd());
        let mut cmd = b.command(args);
        // SAFETY: dup2 in the child before exec, on descriptors it inherited.
        unsafe {
            cmd.pre_exec(move || {
                // dup2 onto itself keeps close-on-exec: it is cleared either way.
                if libc::dup2(a, 3) < 0 || libc::dup2(c, 4) < 0 || libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                libc::fcntl(4, libc::F_SETFD, 0);
                Ok(())
            });
        }
        output(&mut cmd)
    };
    let id = b.id("fds");
    let r = with_fds(&["create", "--preserve-fds", "1", "--bundle", &b.dir.to_string_lossy(), &id]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(b.rt(&["start", &id]).code, 0);
    wait_for("the process to write to fd 3", || std::fs::read_to_string(&file).unwrap_or_default() == "through fd 3\n");
    std::thread::sleep(std::time::Duration::from_millis(200));
    assert!(!b.dir.join("rootfs/fd4").exists(), "descriptor 4 was not passed");
    // exec too.
    let script = "echo exec through fd 3 >&3; if echo x >&4; then echo open > /fd4; fi 2>/dev/null";
    let r = with_fds(&["exec", "--preserve-fds", "1", &id, "sh", "-c", script]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "exec through fd 3\n");
    assert!(!b.dir.join("rootfs/fd4").exists(), "descriptor 4 was not passed to the exec");
    let r = b.rt(&["exec", "--preserve-fds", "40", &id, "true"]);
    assert!(r.code == 125 && r.stderr.contains("descriptor") && r.stderr.contains("is not open"), "{r:?}");
    assert_eq!(b.rt(&["delete", "--force", &id]).code, 0);

    let r = b.rt(&["create", "--preserve-fds", "40", "--bundle", &b.dir.to_string_lossy(), &id]);
    assert!(r.code == 125 && r.stderr.contains("descriptor") && r.stderr.contains("is not open"), "{r:?}");
    b.assert_clean();
}

#[test]
fn the_cgroup_goes_where_the_bundles_cgroups_path_says() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["sleep", "1000"]);
    let id = b.id("cgpath");
    let parent = format!("sbx-cgtest-{}", std::process::id());
    b.config(|c| c["linux"]["cgroupsPath"] = json!(format!("/{parent}/pod1/{id}")));
    assert_eq!(b.create(&id).code, 0);
    let pid = b.state(&id)["pid"].as_i64().unwrap();
    let dir = Path::new("/sys/fs/cgroup/pids").join(&parent).join("pod1").join(&id);
    let procs = std::fs::read_to_string(dir.join("cgroup.procs")).unwrap();
    assert_eq!(procs.trim(), pid.to_string(), "the container's process is in {}", dir.display());
    let r = b.rt(&["update", "--pids-limit", "7", &id]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(std::fs::read_to_string(dir.join("pids.max")).unwrap().trim(), "7");
    assert_eq!(b.rt(&["delete", "--force", &id]).code, 0);
    assert!(!dir.exists(), "delete removes the container's cgroup");
    for c in sbx_tests::harness::CGROUP_MOUNTS {
        let top = Path::new("/sys/fs/cgroup").join(c).join(&parent);
        let _ = std::fs::remove_dir(top.join("pod1"));
        let _ = std::fs::remove_dir(&top);
        assert!(!top.exists(), "{} holds nothing of the container", top.display());
    }
    // A create that fails removes the parents it made for the path.
    b.config(|c| {
        c["linux"]["cgroupsPath"] = json!(format!("/{parent}/pod2/{id}"));
        c["hooks"] = json!({ "createRuntime": [sh_hook("exit 1")] });
    });
    assert_eq!(b.create(&id).code, 125);
    assert!(!Path::new("/sys/fs/cgroup/pids").join(&parent).exists(), "a failed create leaves no cgroup");
    b.config(|c| {
        c.as_object_mut().unwrap().remove("hooks");
    });
    for bad in ["/a/../b", "/"] {
        b.config(|c| c["linux"]["cgroupsPath"] = json!(bad));
        let r = b.create(&id);
        assert!(r.code == 125 && r.stderr.contains("is not a path of cgroup names"), "{bad}: {r:?}");
    }
    b.config(|c| c["linux"]["cgroupsPath"] = json!("system.slice:sbx:abc"));
    let r = b.create(&id);
    assert!(r.code == 125 && r.stderr.contains("systemd's slice:prefix:name form"), "{r:?}");
    b.assert_clean();
}

#[test]
fn a_bundles_allowed_decision_is_cached_under_the_runtime_root_and_a_deny_never() {
    if !is_root() {
        return;
    }
    let b = Bundle::new(&["sh", "-c", "grep CapBnd /proc/self/status > /caps; exec sleep 1000"]);
    b.config(|c| {
        let caps = json!(["CAP_KILL", "CAP_NET_RAW", "CAP_CHOWN"]);
        c["process"]["capabilities"] = json!({ "bounding": caps, "effective": caps, "permitted": caps });
    });
    let cfg = b.s.write_config(&format!(
        "plugins:\n  - path: {}\n    settings: {{ drop: [NET_RAW] }}\n",
        plugin_arg("drop-capabilities")
    ));
    let decisions = || std::fs::read_dir(b.root.join(".decisions")).map(|d| d.count()).unwrap_or(0);
    for round in ["made", "cached"] {
        let id = b.id(round);
        let r = b.rt(&["--config", &cfg, "create", "--bundle", &b.dir.to_string_lossy(), &id]);
        assert_eq!(r.code, 0, "{round}: {r:?}");
        assert_eq!(decisions(), 1, "{round}: one decision for one spec");
        assert_eq!(b.rt(&["start", &id]).code, 0);
        let caps = b.dir.join("rootfs/caps");
        wait_for("the process to report", || std::fs::read_to_string(&caps).is_ok_and(|c| c.ends_with('\n')));
        // CAP_CHOWN (0), CAP_KILL (5): the policy's drop of CAP_NET_RAW holds from the cache too.
        assert_eq!(std::fs::read_to_string(&caps).unwrap().trim(), "CapBnd:\t0000000000000021", "{round}");
        std::fs::remove_file(&caps).unwrap();
        assert_eq!(b.rt(&["delete", "--force", &id]).code, 0);
    }
    let deny = b.s.write_config(&format!("plugins:\n  - path: {}\n", plugin_arg("non-root")));
    for _ in 0..2 {
        let r = b.rt(&["--config", &deny, "create", "--bundle", &b.dir.to_string_lossy(), &b.id("denied")]);
        assert!(r.code == 125 && r.stderr.contains("denied by policy non-root"), "{r:?}");
    }
    assert_eq!(decisions(), 1, "denials are not cached");
    b.assert_clean();
}
