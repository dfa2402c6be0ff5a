//! Containers that outlive their process: `sbx create`, `sbx start -a` on the same writable layer
//! (a restarted container sees what it wrote), one start at a time, and the bad inputs.

use sbx_tests::harness::{Sandbox, is_root, wait_for};
use std::time::{Duration, Instant};

#[test]
fn a_created_container_starts_and_keeps_its_writes_across_starts() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&["create", "--name", "keeper", "busybox", "sh", "-c", "echo run >> /count; wc -l < /count"]);
    assert_eq!(r.code, 0, "{r:?}");
    let id = r.stdout.trim();
    assert!(id.len() == 64 && id.chars().all(|c| c.is_ascii_hexdigit()), "{r:?}");
    assert_eq!(s.containers(), [id.to_string()]);
    let r = s.sbx(&["start", "-a", "keeper"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "1\n"), "{r:?}");
    let r = s.sbx(&["start", "-a", &id[..8]]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "2\n"), "the second start sees the first one's write: {r:?}");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.root.join("containers").join(id).join("container.json")).unwrap())
            .unwrap();
    assert_eq!((record["status"].as_str(), record["exit_code"].as_i64()), (Some("exited"), Some(0)));
    assert!(record["started"].is_string() && record["finished"].is_string(), "{record}");
    let r = s.sbx(&["start", "keeper"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "keeper\n"), "in the background, saying the name given: {r:?}");
    assert_eq!(s.sbx(&["wait", "keeper"]).stdout, "0\n");
    assert_eq!(s.sbx(&["logs", "keeper"]).stdout, "1\n2\n3\n", "every run's output, attached or not, as docker's");
    let r = s.sbx(&["start", "-a", "--rm", "keeper"]);
    assert_eq!(r.stdout, "4\n", "{r:?}");
    s.assert_clean(0);
}

#[test]
fn one_start_at_a_time() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&["create", "--name", "slow", "busybox", "sleep", "2"]);
    assert_eq!(r.code, 0, "{r:?}");
    let mut first = s.command(&["start", "-a", "slow"]).spawn().unwrap();
    let record = s.root.join("containers").join(r.stdout.trim()).join("container.json");
    wait_for("the first start to run", || std::fs::read_to_string(&record).unwrap().contains("\"running\""));
    let r = s.sbx(&["start", "-a", "slow"]);
    assert_eq!(r.code, 1, "refused as things stand, as docker's: {r:?}");
    assert!(r.stderr.contains("container slow is already running"), "{r:?}");
    assert!(first.wait().unwrap().success());
    s.assert_clean(1);
}

#[test]
fn bad_inputs_are_refused_and_change_nothing() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&["start", "-a", "nosuch"]);
    assert!(r.code == 1 && r.stderr.contains("no such container: nosuch"), "{r:?}");
    let r = s.sbx(&["create", "-u", "nobody-here", "busybox", "true"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("nobody-here"), "{r:?}");
    let r = s.sbx(&["create", "--ulimit", "nofile=10:5", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("the soft limit is above the hard one"), "{r:?}");
    s.assert_clean(0);
    let r = s.sbx(&["create", "--name", "c1", "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = s.sbx(&["create", "--name", "c1", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("the name 'c1' is already in use"), "{r:?}");
    s.assert_clean(1);
}

#[test]
fn ps_inspect_and_diff_show_what_docker_shows() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&[
        "create",
        "--name",
        "w1",
        "busybox",
        "sh",
        "-c",
        "echo x > /new; echo y >> /etc/passwd; rm /etc/group; exit 3",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let id = r.stdout.trim().to_string();
    let r = s.sbx(&["ps"]);
    assert_eq!(r.stdout.lines().count(), 1, "only the header: nothing runs: {r:?}");
    let r = s.sbx(&["ps", "-a"]);
    let row = r.stdout.lines().nth(1).unwrap_or_else(|| panic!("{r:?}"));
    assert!(
        row.starts_with(&id[..12]) && row.contains("busybox") && row.contains("Created") && row.ends_with(" w1"),
        "{r:?}"
    );
    let r = s.sbx(&["start", "-a", "w1"]);
    assert_eq!(r.code, 3, "{r:?}");
    let r = s.sbx(&["ps", "-a"]);
    assert!(r.stdout.contains("Exited (3) "), "{r:?}");
    assert_eq!(s.sbx(&["ps", "-a", "-q"]).stdout, format!("{}\n", &id[..12]));
    let r = s.sbx(&["ps", "-a", "-s", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {r:?}"));
    assert_eq!((v["State"].as_str(), v["Names"].as_str()), (Some("exited"), Some("w1")));
    // docker's text: the writable layer's size, then with the image's.
    let size = v["Size"].as_str().unwrap_or_default();
    assert!(size.contains("B (virtual ") && !size.starts_with("0B"), "{v}");
    let r = s.sbx(&["inspect", "w1"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v[0]["Id"], id.as_str());
    assert_eq!((v[0]["State"]["Status"].as_str(), v[0]["State"]["ExitCode"].as_i64()), (Some("exited"), Some(3)));
    let upper = std::path::Path::new(v[0]["GraphDriver"]["Data"]["UpperDir"].as_str().unwrap());
    let mut written: Vec<String> =
        std::fs::read_dir(upper).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    written.sort();
    assert_eq!(written, ["etc", "new"], "only its own writes: /dev, /proc and /sys come from the init layer");
    let r = s.sbx(&["diff", "w1"]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    for want in ["A /new", "C /etc", "C /etc/passwd", "D /etc/group"] {
        assert!(lines.contains(&want), "{want}: {r:?}");
    }
    assert!(!lines.iter().any(|l| l.ends_with(" /proc") || l.ends_with(" /dev")), "sbx's mount points: {r:?}");
    let r = s.sbx(&["inspect", "w1", "nosuch"]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stderr.contains("no such object: nosuch"), "{r:?}");
    s.assert_clean(1);
}

#[test]
fn detached_containers_log_stop_and_wait_with_dockers_exit_codes() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r =
        s.sbx(&["run", "-d", "--name", "talk", "busybox", "sh", "-c", "echo out; echo err >&2; sleep 0.3; echo late"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.trim().len(), 64, "prints the id: {r:?}");
    let r = s.sbx(&["logs", "-f", "talk"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "out\nlate\n", "err\n"), "{r:?}");
    let r = s.sbx(&["logs", "--tail", "1", "-t", "talk"]);
    assert!(r.stdout.ends_with("Z late\n") && r.stdout.starts_with("20"), "{r:?}");
    assert_eq!(s.sbx(&["wait", "talk"]).stdout, "0\n");

    let r = s.sbx(&[
        "run",
        "-d",
        "--name",
        "polite",
        "busybox",
        "sh",
        "-c",
        "trap 'exit 42' TERM; echo trapped; while true; do sleep 0.1; done",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(s.sbx(&["ps"]).stdout.contains("polite"), "it runs after sbx returned");
    wait_for("the trap to be set", || s.sbx(&["logs", "polite"]).stdout.contains("trapped"));
    assert_eq!(s.sbx(&["stop", "polite"]).stdout, "polite\n");
    assert_eq!(s.sbx(&["wait", "polite"]).stdout, "42\n", "SIGTERM reached it");

    let r = s.sbx(&["run", "-d", "--name", "deaf", "busybox", "sleep", "100"]);
    assert_eq!(r.code, 0, "{r:?}");
    let started = Instant::now();
    assert_eq!(s.sbx(&["stop", "-t", "1", "deaf"]).code, 0);
    assert!(started.elapsed() < Duration::from_secs(5), "SIGKILL after the grace period");
    assert_eq!(s.sbx(&["wait", "deaf"]).stdout, "137\n");
    assert!(s.sbx(&["ps", "-a"]).stdout.contains("Exited (137)"));

    let r = s.sbx(&["run", "-d", "--name", "target", "busybox", "sleep", "100"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.sbx(&["kill", "-s", "KILL", "target"]).stdout, "target\n");
    assert_eq!(s.sbx(&["wait", "target"]).stdout, "137\n");
    let r = s.sbx(&["kill", "target"]);
    assert!(r.code == 1 && r.stderr.contains("container target is not running"), "{r:?}");
    let r = s.sbx(&["kill", "-s", "FLY", "target"]);
    assert!(r.code == 125 && r.stderr.contains("unknown signal 'FLY'"), "{r:?}");

    // A `--rm` container removes itself when it ends; `rm -f` ends it and succeeds all the same.
    for _ in 0..3 {
        let r = s.sbx(&["run", "-d", "--rm", "--name", "brief", "busybox", "sleep", "100"]);
        assert_eq!(r.code, 0, "{r:?}");
        let r = s.sbx(&["rm", "-f", "brief"]);
        assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "brief\n", ""), "{r:?}");
        assert!(!s.sbx(&["ps", "-a"]).stdout.contains("brief"));
    }

    let r = s.sbx(&["run", "-d", "--name", "broken", "busybox", "no-such-program"]);
    assert_eq!(r.code, 127, "{r:?}");
    assert!(r.stderr.contains("executable file not found"), "{r:?}");
    assert!(s.sbx(&["ps", "-a"]).stdout.contains("Created"), "it stays, created, as docker's");
    s.assert_clean(5);
}

#[test]
fn a_killed_monitor_leaves_a_dead_container_that_rm_cleans() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&["run", "-d", "--name", "orphan", "busybox", "sleep", "100"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&s.sbx(&["inspect", "orphan"]).stdout).unwrap();
    let pid = v[0]["State"]["Pid"].as_i64().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let ppid: i32 = stat.rsplit(')').next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: kill(2) takes two integers.
    unsafe { libc::kill(ppid, libc::SIGKILL) };
    wait_for("the container to die with its monitor", || !std::path::Path::new(&format!("/proc/{pid}")).exists());
    wait_for("ps to say Dead", || s.sbx(&["ps", "-a"]).stdout.contains("Dead"));
    let r = s.sbx(&["rm", "orphan"]);
    assert_eq!(r.code, 0, "{r:?}");
    s.assert_clean(0);
}

#[test]
fn fifty_runs_at_once_all_succeed_and_a_name_is_taken_once() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let piped = || std::process::Stdio::piped();
    let runs: Vec<_> = (0..50)
        .map(|i| {
            let script = format!("echo {i} > /mine; cat /mine");
            s.command(&["run", "--rm", "busybox", "sh", "-c", &script]).stdout(piped()).stderr(piped()).spawn().unwrap()
        })
        .collect();
    for (i, child) in runs.into_iter().enumerate() {
        let r: sbx_tests::harness::Run = child.wait_with_output().unwrap().into();
        assert_eq!((r.code, r.stdout.as_str()), (0, format!("{i}\n").as_str()), "run {i}: {r:?}");
    }
    s.assert_clean(0);
    let creates: Vec<_> = (0..10)
        .map(|_| {
            s.command(&["create", "--name", "only", "busybox", "true"]).stdout(piped()).stderr(piped()).spawn().unwrap()
        })
        .collect();
    let codes: Vec<i32> = creates.into_iter().map(|c| c.wait_with_output().unwrap().status.code().unwrap()).collect();
    assert_eq!(codes.iter().filter(|c| **c == 0).count(), 1, "{codes:?}");
    assert!(codes.iter().all(|c| *c == 0 || *c == 125), "{codes:?}");
    s.assert_clean(1);
}

#[test]
fn entrypoint_and_env_file_flags() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let env = s.scratch.join("app.env");
    std::fs::write(&env, "# settings\nFROM_FILE=file\nBOTH=file\n\n").unwrap();
    let env = env.to_str().unwrap();
    let r = s.sbx(&[
        "run",
        "--rm",
        "--env-file",
        env,
        "-e",
        "BOTH=flag",
        "--entrypoint",
        "/bin/sh",
        "busybox",
        "-c",
        "echo $FROM_FILE $BOTH",
    ]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "file flag\n"), "{r:?}");
    let r = s.sbx(&["run", "--rm", "--env-file", "/no/such.env", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("cannot read env file /no/such.env"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn exec_joins_a_running_container_and_is_a_policy_check_of_its_own() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&["run", "-d", "--name", "host", "-h", "boxy", "busybox", "sleep", "100"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.sbx(&["exec", "host", "hostname"]).stdout, "boxy\n");
    let r = s.sbx(&["exec", "host", "ps", "-o", "pid,args"]);
    assert!(r.stdout.contains("    1 sleep 100"), "it sees the container's processes: {r:?}");
    let r = s.sbx(&["exec", "-e", "X=1", "-w", "/tmp", "-u", "1000", "host", "sh", "-c", "echo $X $(pwd) $(id -u)"]);
    assert_eq!(r.stdout, "1 /tmp 1000\n", "{r:?}");
    assert_eq!(s.sbx(&["exec", "host", "sh", "-c", "exit 7"]).code, 7);
    assert_eq!(s.sbx(&["exec", "host", "no-such-program"]).code, 127);
    let cfg = s.write_config(&format!("plugins:\n  - path: {}\n", sbx_tests::harness::plugin_arg("non-root")));
    let r = s.sbx(&["--config", &cfg, "exec", "host", "id"]);
    assert!(r.code == 125 && r.stderr.contains("denied by policy non-root"), "{r:?}");
    let r = s.sbx(&["--config", &cfg, "exec", "-u", "1000", "host", "id", "-u"]);
    assert_eq!(r.stdout, "1000\n", "{r:?}");
    assert_eq!(s.sbx(&["stop", "-t", "0", "host"]).code, 0);
    let r = s.sbx(&["exec", "host", "true"]);
    assert!(r.code == 1 && r.stderr.contains("container host is not running"), "{r:?}");
    s.assert_clean(1);
}

#[test]
fn commit_makes_an_image_of_the_changes_and_the_policies_check_it() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let script = "echo kept > /data.txt; rm /etc/group; ln -s /data.txt /link; cp /bin/busybox /suid; chmod u+s /suid";
    let r = s.sbx(&["run", "--name", "src", "busybox", "sh", "-c", script]);
    assert_eq!(r.code, 0, "{r:?}");
    let strict = s.write_config(&format!("plugins:\n  - path: {}\n", sbx_tests::harness::plugin_arg("deny-setuid")));
    let r = s.sbx(&["--config", &strict, "commit", "src", "denied:v1"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("denied by policy deny-setuid") && r.stderr.contains("/suid"), "{r:?}");
    assert!(!s.sbx(&["images"]).stdout.contains("denied"), "a denied image is not stored");
    let r = s.sbx(&["commit", "src", "mine:v1"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("sha256:"), "{r:?}");
    let r = s.sbx(&["images"]);
    assert!(
        r.stdout.lines().any(|l| l.starts_with("mine ") && l.contains("v1") && l.trim_end().ends_with('2')),
        "{r:?}"
    );
    let r = s.sbx(&[
        "run",
        "--rm",
        "mine:v1",
        "sh",
        "-c",
        "cat /data.txt /link; test -e /etc/group || echo gone; stat -c %a /suid",
    ]);
    assert_eq!(r.stdout, "kept\nkept\ngone\n4755\n", "{r:?}");
    s.assert_clean(1);
}

#[test]
fn a_killed_sbx_leaves_a_dead_container_that_rm_cleans() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let mut sbx = s.command(&["run", "--name", "fg", "busybox", "sleep", "100"]).spawn().unwrap();
    wait_for("the container to run", || s.sbx(&["inspect", "fg"]).stdout.contains("\"Running\": true"));
    // SAFETY: kill(2) takes two integers.
    unsafe { libc::kill(sbx.id() as i32, libc::SIGKILL) };
    let _ = sbx.wait();
    wait_for("ps to say Dead", || s.sbx(&["ps", "-a"]).stdout.contains("Dead"));
    let r = s.sbx(&["rm", "fg"]);
    assert_eq!(r.code, 0, "{r:?}");
    s.assert_clean(0);
}
