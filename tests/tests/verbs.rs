//! docker's everyday verbs on containers that sbx lacked: pause/unpause, rename, top, container
//! and system prune, info, version, the `container` group; and the flags `--label`, `--stop-signal`,
//! `--stop-timeout`, `--cidfile`, `ps --filter/-n/-l/--no-trunc`. Bad input gets docker's exit
//! codes (1 for what is not there or refused as things stand, 125 for sbx's own failures).

use sbx_tests::harness::{Sandbox, is_root, wait_for};
use serde_json::Value;
use std::io::Write;
use std::process::Stdio;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
}

fn inspect(s: &Sandbox, name: &str) -> Value {
    let r = s.sbx(&["inspect", name]);
    assert_eq!(r.code, 0, "{r:?}");
    json(&r.stdout)[0].clone()
}

/// The counter a container writes to /n in its writable layer, read from the host.
fn counter(s: &Sandbox, id: &str) -> String {
    std::fs::read_to_string(s.root.join("containers").join(id).join("upper/n")).unwrap_or_default()
}

#[test]
fn pause_freezes_every_process_until_unpause() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let script = "i=0; while true; do i=$((i+1)); echo $i > /n; sleep 0.01; done";
    let r = s.sbx(&["run", "-d", "--name", "p1", "busybox", "sh", "-c", script]);
    assert_eq!(r.code, 0, "{r:?}");
    let id = r.stdout.trim().to_string();
    wait_for("the counter to count", || !counter(&s, &id).is_empty());

    let r = s.sbx(&["pause", "p1"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "p1\n"), "{r:?}");
    let frozen = counter(&s, &id);
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(counter(&s, &id), frozen, "a paused container does not run");
    let v = inspect(&s, "p1");
    assert_eq!((v["State"]["Status"].as_str(), v["State"]["Paused"].as_bool()), (Some("paused"), Some(true)), "{v}");
    assert!(s.sbx(&["ps"]).stdout.contains("(Paused)"));
    assert_eq!(s.sbx(&["ps", "-q", "--filter", "status=paused"]).stdout.trim(), &id[..12]);

    // What cannot be done to a paused container is refused with exit 1, naming it.
    let r = s.sbx(&["pause", "p1"]);
    assert!(r.code == 1 && r.stderr.contains("container p1 is already paused"), "{r:?}");
    let r = s.sbx(&["exec", "p1", "true"]);
    assert!(r.code == 1 && r.stderr.contains("container p1 is paused"), "{r:?}");

    let r = s.sbx(&["unpause", "p1"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "p1\n"), "{r:?}");
    wait_for("the counter to go on", || counter(&s, &id) != frozen);
    let r = s.sbx(&["unpause", "p1"]);
    assert!(r.code == 1 && r.stderr.contains("container p1 is not paused"), "{r:?}");

    // A paused container still stops: the signal is sent, then it is thawed to take it.
    assert_eq!(s.sbx(&["pause", "p1"]).code, 0);
    let r = s.sbx(&["stop", "-t", "1", "p1"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(inspect(&s, "p1")["State"]["Status"], "exited");
    for verb in ["pause", "unpause"] {
        let r = s.sbx(&[verb, "p1"]);
        assert!(r.code == 1 && r.stderr.contains("container p1 is not running"), "{verb}: {r:?}");
        let r = s.sbx(&[verb, "nosuch"]);
        assert!(r.code == 1 && r.stderr.contains("no such container: nosuch"), "{verb}: {r:?}");
    }
    // rm -f of a paused one.
    assert_eq!(s.sbx(&["run", "-d", "--name", "p2", "busybox", "sleep", "100"]).code, 0);
    assert_eq!(s.sbx(&["pause", "p2"]).code, 0);
    let r = s.sbx(&["rm", "-f", "p2", "p1"]);
    assert_eq!(r.code, 0, "{r:?}");
    s.assert_clean(0);
}

#[test]
fn rename_keeps_the_container_and_refuses_a_taken_or_bad_name() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    assert_eq!(s.sbx(&["run", "-d", "--name", "old", "busybox", "sleep", "100"]).code, 0);
    assert_eq!(s.sbx(&["create", "--name", "other", "busybox", "true"]).code, 0);
    let r = s.sbx(&["rename", "old", "new"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "{r:?}");
    let r = s.sbx(&["inspect", "old"]);
    assert_eq!(r.code, 1, "the old name is gone: {r:?}");
    // The sbx that runs it records its end under the new name.
    assert_eq!(s.sbx(&["stop", "-t", "0", "new"]).code, 0);
    assert_eq!(inspect(&s, "new")["State"]["Status"], "exited");
    for (to, says) in [
        ("other", "the name 'other' is already in use"),
        ("new", "the name 'new' is already in use"),
        ("bad name", "invalid container name 'bad name'"),
    ] {
        let r = s.sbx(&["rename", "new", to]);
        assert!(r.code == 1 && r.stderr.contains(says), "{to}: {r:?}");
    }
    let r = s.sbx(&["rename", "nosuch", "x1"]);
    assert!(r.code == 1 && r.stderr.contains("no such container: nosuch"), "{r:?}");
    assert_eq!(s.sbx(&["rm", "new", "other"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn top_shows_the_containers_processes_and_only_them() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&["run", "-d", "--name", "t1", "busybox", "sh", "-c", "sleep 171 & sleep 172"]);
    assert_eq!(r.code, 0, "{r:?}");
    wait_for("both sleeps", || s.sbx(&["top", "t1"]).stdout.contains("sleep 171"));
    let r = s.sbx(&["top", "t1"]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].contains("PID") && lines[0].contains("CMD"), "ps -ef's header: {r:?}");
    assert_eq!(lines.len(), 3, "the two sleeps (sh execs the last): {r:?}");
    assert!(r.stdout.contains("sleep 172") && !r.stdout.contains("sbx"), "{r:?}");
    let r = s.sbx(&["top", "t1", "-o", "pid,comm"]);
    assert_eq!((r.code, r.stdout.lines().count()), (0, 3), "{r:?}");
    let r = s.sbx(&["top", "t1", "-o", "comm"]);
    assert!(r.code == 1 && r.stderr.contains("shows no PID column"), "{r:?}");
    let r = s.sbx(&["top", "t1", "--no-such-option"]);
    assert!(r.code == 125 && r.stderr.contains("ps --no-such-option failed"), "{r:?}");
    // What exec started is the container's too, though its parent is not.
    assert_eq!(s.sbx(&["exec", "-d", "t1", "sleep", "173"]).code, 0);
    wait_for("the exec's sleep", || s.sbx(&["top", "t1"]).stdout.contains("sleep 173"));
    assert_eq!(s.sbx(&["top", "t1"]).stdout.lines().count(), 4);
    assert_eq!(s.sbx(&["kill", "t1"]).code, 0);
    let r = s.sbx(&["top", "t1"]);
    assert!(r.code == 1 && r.stderr.contains("container t1 is not running"), "{r:?}");
    assert_eq!(s.sbx(&["rm", "t1"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn ps_filters_labels_and_the_last_containers() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let labels = s.scratch.join("labels");
    std::fs::write(&labels, "# a comment\nteam=a\n").unwrap();
    let l = labels.to_str().unwrap();
    let made: Vec<String> = [
        &["run", "--name", "f1", "-l", "tier=web", "busybox", "true"][..],
        &["run", "--name", "f2", "--label", "tier=db", "--label-file", l, "busybox", "sh", "-c", "exit 3"],
        &["create", "--name", "f3", "--label", "flag", "busybox", "true"],
    ]
    .iter()
    .map(|args| {
        let r = s.sbx(args);
        assert!(r.code == 0 || r.code == 3, "{r:?}");
        inspect(&s, args[2])["Id"].as_str().unwrap().to_string()
    })
    .collect();
    let m = |ix: &[usize]| ix.iter().map(|i| made[*i].clone()).collect::<Vec<_>>();
    let q = |args: &[&str]| {
        let r = s.sbx(&[&["ps", "-a", "-q", "--no-trunc"][..], args].concat());
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        r.stdout.lines().map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(q(&[]), m(&[2, 1, 0]), "newest first, whole ids");
    assert_eq!(q(&["--filter", "label=tier"]), m(&[1, 0]));
    assert_eq!(q(&["--filter", "label=tier=db", "--filter", "label=team=a"]), m(&[1]));
    assert_eq!(q(&["-f", "label=flag"]), m(&[2]));
    assert_eq!(q(&["--filter", "status=created"]), m(&[2]));
    assert_eq!(q(&["--filter", "exited=3"]), m(&[1]));
    assert_eq!(q(&["--filter", "name=f", "--filter", "status=exited"]), m(&[1, 0]));
    assert_eq!(q(&["--filter", "name=f1", "--filter", "name=f3"]), m(&[2, 0]), "one key's values: any");
    assert_eq!(q(&["--filter", &format!("id={}", &made[0][..6])]), m(&[0]));
    assert_eq!(q(&["--filter", "ancestor=busybox"]).len(), 3);
    assert_eq!(q(&["--filter", "ancestor=nosuch"]).len(), 0);
    assert_eq!(q(&["--filter", "before=f3"]), m(&[1, 0]));
    assert_eq!(q(&["--filter", "since=f1"]), m(&[2, 1]));
    assert_eq!(q(&["-n", "2"]), m(&[2, 1]));
    assert_eq!(q(&["-l"]), m(&[2]));
    let r = s.sbx(&["ps", "-l", "-q"]);
    assert_eq!(r.stdout.trim(), &made[2][..12], "-l counts stopped ones too: {r:?}");
    assert_eq!(s.sbx(&["ps", "-q"]).stdout, "", "none runs");
    let v = inspect(&s, "f2");
    assert_eq!(v["Config"]["Labels"], json(r#"{"team":"a","tier":"db"}"#), "{v}");
    let r = s.sbx(&["ps", "-a", "--format", "json", "--filter", "name=f1"]);
    assert_eq!(json(&r.stdout)["Labels"], "tier=web", "docker's KEY=VALUE,...: {r:?}");

    for (bad, says) in [
        ("colour=red", "invalid filter 'colour'"),
        ("status=asleep", "invalid filter 'status=asleep'"),
        ("before=nosuch", "no such container: nosuch"),
    ] {
        let r = s.sbx(&["ps", "--filter", bad]);
        assert!(r.code == 1 && r.stderr.contains(says), "{bad}: {r:?}");
    }
    let r = s.sbx(&["run", "--rm", "--label", "=x", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("bad label '=x'"), "{r:?}");
    assert_eq!(s.sbx(&["rm", "f1", "f2", "f3"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn stop_sends_the_containers_stop_signal_and_waits_its_stop_timeout() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    // A shell as PID 1 takes only the signals it has a handler for; it says when it has one, as
    // a signal sent before would end it with the default action.
    let trap = "trap 'exit 7' USR1; echo ready; while true; do sleep 0.05; done";
    assert_eq!(s.sbx(&["run", "-d", "--name", "s1", "--stop-signal", "SIGUSR1", "busybox", "sh", "-c", trap]).code, 0);
    let ready = std::time::Instant::now();
    while s.sbx(&["logs", "s1"]).stdout != "ready\n" {
        assert!(ready.elapsed() < std::time::Duration::from_secs(20), "the shell never set its trap");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let r = s.sbx(&["stop", "s1"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "s1\n"), "{r:?}");
    assert_eq!(inspect(&s, "s1")["State"]["ExitCode"], 7, "USR1 was sent, not TERM");
    assert_eq!(inspect(&s, "s1")["Spec"]["stop-signal"], "SIGUSR1");
    // -s overrides it; TERM has no handler in PID 1, so the grace period runs out and KILL ends it.
    assert_eq!(s.sbx(&["start", "s1"]).code, 0);
    let r = s.sbx(&["stop", "-s", "TERM", "-t", "1", "s1"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(inspect(&s, "s1")["State"]["ExitCode"], 137);
    // --stop-timeout is the default grace period.
    assert_eq!(s.sbx(&["run", "-d", "--name", "s2", "--stop-timeout", "1", "busybox", "sleep", "100"]).code, 0);
    let started = std::time::Instant::now();
    assert_eq!(s.sbx(&["stop", "s2"]).code, 0);
    assert!(started.elapsed() < std::time::Duration::from_secs(9), "waited 1 s, not docker's 10");
    assert_eq!(inspect(&s, "s2")["State"]["ExitCode"], 137);

    let r = s.sbx(&["run", "--rm", "--stop-signal", "NOPE", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("unknown stop signal 'NOPE'"), "{r:?}");
    let r = s.sbx(&["stop", "-s", "NOPE", "s2"]);
    assert!(r.code == 125 && r.stderr.contains("unknown signal 'NOPE'"), "{r:?}");
    assert_eq!(s.sbx(&["rm", "s1", "s2"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn cidfile_gets_the_id_and_an_existing_one_is_refused() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let cid = s.scratch.join("cid");
    let c = cid.to_str().unwrap();
    let r = s.sbx(&["run", "--cidfile", c, "--name", "c1", "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(std::fs::read_to_string(&cid).unwrap(), inspect(&s, "c1")["Id"].as_str().unwrap());
    let r = s.sbx(&["create", "--cidfile", c, "--name", "c2", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("the container id file") && r.stderr.contains("exists"), "{r:?}");
    assert_eq!(s.containers().len(), 1, "no container made");
    let r = s.sbx(&["run", "--cidfile", "/nonexistent/dir/cid", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("cannot write the container id file /nonexistent/dir/cid"), "{r:?}");
    assert_eq!(s.containers().len(), 1, "the container whose id could not be written is gone");
    assert_eq!(s.sbx(&["rm", "c1"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn the_container_group_and_prunes() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    assert_eq!(s.sbx(&["container", "run", "--name", "g1", "busybox", "true"]).code, 0);
    assert_eq!(s.sbx(&["container", "create", "--name", "g2", "busybox", "true"]).code, 0);
    assert_eq!(s.sbx(&["run", "-d", "--name", "up", "busybox", "sleep", "100"]).code, 0);
    for list in ["ls", "list", "ps"] {
        let r = s.sbx(&["container", list, "-a", "--format", "json"]);
        assert_eq!((r.code, r.stdout.lines().count()), (0, 3), "container {list}: {r:?}");
    }
    let r = s.sbx(&["container", "inspect", "busybox"]);
    assert!(r.code == 1 && r.stderr.contains("no such container: busybox"), "containers only: {r:?}");
    assert_eq!(inspect(&s, "g1")["Name"], "g1");

    // Without -f, prune asks; anything but yes keeps everything.
    let mut child = s.command(&["container", "prune"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"n\n").unwrap();
    assert!(child.wait_with_output().unwrap().status.success());
    assert_eq!(s.containers().len(), 3);
    let r = s.sbx(&["container", "prune", "-f"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("Deleted Containers:\n") && r.stdout.contains("Total reclaimed space:"), "{r:?}");
    assert_eq!(r.stdout.lines().filter(|l| l.len() == 64).count(), 2, "g1 and g2: {r:?}");
    assert_eq!(s.sbx(&["ps", "-a", "-q"]).stdout.lines().count(), 1, "the running one stays");

    // system prune: stopped containers and images without a name.
    assert_eq!(s.sbx(&["run", "--name", "g3", "busybox", "sh", "-c", "echo x > /f"]).code, 0);
    assert_eq!(s.sbx(&["commit", "g3"]).code, 0, "an image without a name");
    let r = s.sbx(&["system", "prune", "-f"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("Deleted Containers:") && r.stdout.contains("Deleted Images:"), "{r:?}");
    let images = s.sbx(&["images", "-q"]);
    assert_eq!(images.stdout.lines().count(), 1, "busybox stays: {images:?}");
    assert_eq!(s.sbx(&["container", "rm", "-f", "up"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn info_and_version_tell_what_sbx_is_and_holds() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    assert_eq!(s.sbx(&["run", "-d", "--name", "i1", "busybox", "sleep", "100"]).code, 0);
    assert_eq!(s.sbx(&["create", "--name", "i2", "busybox", "true"]).code, 0);
    assert_eq!(s.sbx(&["pause", "i1"]).code, 0);
    for args in [&["info", "--format", "json"][..], &["system", "info", "-f", "json"]] {
        let r = s.sbx(args);
        assert_eq!(r.code, 0, "{r:?}");
        let v = json(&r.stdout);
        let counts = ["Containers", "ContainersRunning", "ContainersPaused", "ContainersStopped", "Images"]
            .map(|k| v[k].as_u64());
        assert_eq!(counts, [Some(2), Some(0), Some(1), Some(1), Some(1)], "{v}");
        assert_eq!(v["DockerRootDir"], s.root.to_str().unwrap());
        assert_eq!(v["NCPU"].as_u64().unwrap() as usize, std::thread::available_parallelism().unwrap().get());
    }
    let r = s.sbx(&["info"]);
    assert!(r.stdout.contains("Containers: 2\n Running: 0\n Paused: 1\n Stopped: 1\n"), "{r:?}");
    let r = s.sbx(&["version", "--format", "json"]);
    let v = json(&r.stdout);
    let plain = s.sbx(&["--version"]);
    assert!(plain.stdout.contains(v["Client"]["Version"].as_str().unwrap()), "{plain:?} vs {v}");
    assert!(s.sbx(&["version"]).stdout.contains("OS/Arch:           linux/"));
    assert_eq!(s.sbx(&["rm", "-f", "i1", "i2"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn format_takes_go_templates_with_dockers_field_names() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    assert_eq!(s.sbx(&["run", "-d", "--name", "web", "-l", "tier=front", "busybox", "sleep", "100"]).code, 0);
    assert_eq!(s.sbx(&["run", "--name", "done", "busybox", "true"]).code, 0);
    let out = |args: &[&str]| {
        let r = s.sbx(args);
        assert_eq!(r.code, 0, "{args:?}: {r:?}");
        r.stdout
    };
    assert_eq!(
        out(&["ps", "-a", "--format", "{{.Names}} {{.State}} {{.Labels}}"]),
        "done exited \nweb running tier=front\n"
    );
    let table = out(&["ps", "--format", "table {{.Names}}\\t{{.Image}}"]);
    assert_eq!(table, "NAMES   IMAGE\nweb     busybox\n", "a header, and cells aligned at the tabs");
    let line = out(&["ps", "--format", "{{json .}}"]);
    assert_eq!(json(&line)["Names"], "web");
    assert_eq!(
        out(&["inspect", "-f", "{{.State.Status}} {{index .Config.Labels \"tier\"}} {{json .Config.Cmd}}", "web"]),
        "running front [\"sleep\",\"100\"]\n"
    );
    assert_eq!(out(&["container", "inspect", "--format", "{{.Name}}", "web", "done"]), "web\ndone\n");
    assert_eq!(
        out(&["image", "inspect", "-f", "{{range .RepoTags}}{{upper .}}{{end}}", "busybox"]),
        "BUSYBOX:LATEST\n"
    );
    assert_eq!(out(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.Containers}}"]), "busybox:latest 2\n");
    assert_eq!(out(&["images", "--filter", "reference=busy*", "--format", "{{.Repository}}"]), "busybox\n");
    assert_eq!(out(&["images", "--filter", "dangling=true", "-q"]), "");
    assert_eq!(out(&["info", "--format", "{{.ContainersRunning}}/{{.Containers}}"]), "1/2\n");
    assert!(out(&["version", "--format", "{{.Client.Os}}"]).starts_with("linux"));
    assert_eq!(out(&["stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}"]), "web 1\n");

    // A bad template: the column of what is wrong; a field that is not there: the fields that are.
    let r = s.sbx(&["ps", "--format", "{{.Names | nosuch}}"]);
    assert!(r.code == 125 && r.stderr.contains("bad template at column 12: function nosuch not defined"), "{r:?}");
    let r = s.sbx(&["ps", "--format", "{{range .Names}}"]);
    assert!(r.code == 125 && r.stderr.contains("bad template at column 17"), "{r:?}");
    let r = s.sbx(&["ps", "--format", "{{.Nope}}"]);
    assert!(r.code == 125 && r.stderr.contains("no field Nope here (the fields are Command, CreatedAt, ID"), "{r:?}");
    // inspect prints what it rendered before the one that failed.
    let r = s.sbx(&["inspect", "-f", "{{.State.Status}}", "web", "busybox"]);
    assert!(r.code == 125 && r.stdout == "running\n" && r.stderr.contains("no field State"), "{r:?}");
    let r = s.sbx(&["images", "--filter", "colour=red"]);
    assert!(r.code == 1 && r.stderr.contains("invalid filter 'colour=red'"), "{r:?}");
    assert_eq!(s.sbx(&["rm", "-f", "web", "done"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn restart_history_and_commit_with_changes() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&["run", "-d", "--name", "r1", "busybox", "sh", "-c", "echo start >> /log; cat /log; sleep 100"]);
    assert_eq!(r.code, 0, "{r:?}");
    let pid = inspect(&s, "r1")["State"]["Pid"].as_i64().unwrap();
    let r = s.sbx(&["restart", "-t", "0", "r1"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "r1\n"), "{r:?}");
    let v = inspect(&s, "r1");
    assert_eq!(v["State"]["Status"], "running");
    assert_ne!(v["State"]["Pid"].as_i64().unwrap(), pid, "a new process");
    wait_for("the second start's output", || s.sbx(&["logs", "r1"]).stdout.contains("start\nstart\n"));
    let r = s.sbx(&["restart", "nosuch"]);
    assert!(r.code == 1 && r.stderr.contains("no such container: nosuch"), "{r:?}");

    // commit -m -a -c: the message, the author and the changes are the new image's.
    assert_eq!(s.sbx(&["exec", "r1", "sh", "-c", "echo hi > /f"]).code, 0);
    let changes =
        ["-c", "CMD [\"cat\", \"/f\"]", "-c", "ENV X=1", "-c", "LABEL v=2", "-c", "EXPOSE 80", "-c", "WORKDIR /tmp"];
    let args =
        [&["commit", "-m", "my message", "-a", "Me <me@example.org>"][..], &changes, &["r1", "committed"]].concat();
    let r = s.sbx(&args);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(inspect(&s, "r1")["State"]["Status"], "running", "paused while read, then thawed");
    let r = s.sbx(&["run", "--rm", "committed"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "hi\n"), "{r:?}");
    let r = s.sbx(&["run", "--rm", "committed", "sh", "-c", "echo $X $(pwd)"]);
    assert_eq!(r.stdout, "1 /tmp\n", "{r:?}");
    let r = s.sbx(&[
        "image",
        "inspect",
        "-f",
        "{{.Author}}|{{json .Config.Labels}}|{{json .Config.ExposedPorts}}",
        "committed",
    ]);
    assert_eq!(r.stdout, "Me <me@example.org>|{\"v\":\"2\"}|{\"80/tcp\":{}}\n", "{r:?}");
    let r = s.sbx(&["history", "--format", "{{.ID}}|{{.CreatedBy}}|{{.Comment}}|{{.Size}}", "committed"]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "the base's layer and the commit: {r:?}");
    // The commit's layer holds /f and /log: 15 bytes.
    assert!(lines[0].ends_with("|sbx commit r1|my message|15B") && lines[1].starts_with("<missing>|"), "{r:?}");
    assert!(s.sbx(&["history", "committed"]).stdout.starts_with("IMAGE "));
    let r = s.sbx(&["commit", "-c", "RUN rm -rf /", "r1"]);
    assert!(r.code == 125 && r.stderr.contains("RUN cannot be applied by commit; use one of CMD"), "{r:?}");
    let r = s.sbx(&["history", "nosuch"]);
    assert!(r.code == 1 && r.stderr.contains("no image 'nosuch'"), "{r:?}");

    // Boolean flags take docker's =false.
    let r = s.sbx(&["run", "--rm=true", "--tty=false", "-i=false", "--init=false", "busybox", "echo", "ok"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "ok\n"), "{r:?}");
    assert_eq!(s.sbx(&["rm", "-f", "r1"]).code, 0);
    assert_eq!(s.sbx(&["rmi", "committed"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn logs_by_time_shm_size_and_volume_sources() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    assert_eq!(
        s.sbx(&["run", "-d", "--name", "l1", "busybox", "sh", "-c", "echo early; sleep 1.2; echo late"]).code,
        0
    );
    assert_eq!(s.sbx(&["wait", "l1"]).stdout, "0\n");
    let r = s.sbx(&["logs", "-t", "l1"]);
    let late_at = r.stdout.lines().nth(1).and_then(|l| l.split_whitespace().next()).unwrap_or_else(|| panic!("{r:?}"));
    assert_eq!(s.sbx(&["logs", "--since", late_at, "l1"]).stdout, "late\n");
    assert_eq!(s.sbx(&["logs", "--until", late_at, "l1"]).stdout, "early\n");
    assert_eq!(s.sbx(&["logs", "--since", "1h", "l1"]).stdout, "early\nlate\n");
    assert_eq!(s.sbx(&["logs", "--since", "4000000000", "l1"]).stdout, "", "a Unix time to come");
    let r = s.sbx(&["logs", "--since", "yesterday", "l1"]);
    assert!(r.code == 125 && r.stderr.contains("'yesterday' is not a time"), "{r:?}");

    let r = s.sbx(&["run", "--rm", "--shm-size", "2m", "busybox", "df", "-k", "/dev/shm"]);
    assert!(
        r.code == 0 && r.stdout.lines().nth(1).is_some_and(|l| l.split_whitespace().nth(1) == Some("2048")),
        "{r:?}"
    );
    let r = s.sbx(&["run", "--rm", "busybox", "df", "-k", "/dev/shm"]);
    assert!(
        r.stdout.lines().nth(1).is_some_and(|l| l.split_whitespace().nth(1) == Some("65536")),
        "docker's 64m: {r:?}"
    );
    let r = s.sbx(&["run", "--rm", "--shm-size", "0", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("invalid value '0' for '--shm-size"), "{r:?}");

    // -v ./dir:/x is the current directory's dir (tests/volumes.rs has -v NAME:/x).
    std::fs::create_dir(s.scratch.join("data")).unwrap();
    std::fs::write(s.scratch.join("data/f"), "from the host\n").unwrap();
    let r = s
        .command(&["run", "--rm", "-v", "./data:/x:ro", "busybox", "cat", "/x/f"])
        .current_dir(&s.scratch)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&r.stdout), "from the host\n", "{r:?}");
    assert_eq!(s.sbx(&["rm", "l1"]).code, 0);
    s.assert_clean(0);
}

/// A cgroup file of container `id`, v1 (`/sys/fs/cgroup/CONTROLLER/sbx/ID/FILE`) or v2.
fn cgroup_file(id: &str, controller: &str, file: &str) -> String {
    let v1 = format!("/sys/fs/cgroup/{controller}/sbx/{id}/{file}");
    let v2 = format!("/sys/fs/cgroup/sbx/{id}/{file}");
    std::fs::read_to_string(&v1).or_else(|_| std::fs::read_to_string(&v2)).unwrap_or_default().trim().to_string()
}

#[test]
fn update_changes_a_running_containers_limits_at_once_and_a_stopped_ones_for_its_next_start() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&["run", "-d", "--name", "u1", "--pids-limit", "50", "busybox", "sleep", "100"]);
    assert_eq!(r.code, 0, "{r:?}");
    let id = r.stdout.trim().to_string();
    let r = s.sbx(&["update", "-m", "64m", "--pids-limit", "20", "u1"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "u1\n"), "{r:?}");
    assert_eq!(cgroup_file(&id, "pids", "pids.max"), "20");
    let memory = cgroup_file(&id, "memory", "memory.limit_in_bytes");
    let memory = if memory.is_empty() { cgroup_file(&id, "memory", "memory.max") } else { memory };
    assert_eq!(memory, "67108864");
    let v = inspect(&s, "u1");
    assert_eq!((v["HostConfig"]["Memory"].as_u64(), v["HostConfig"]["PidsLimit"].as_u64()), (Some(67108864), Some(20)));
    // What is not named stays.
    assert_eq!(s.sbx(&["update", "--cpus", "0.5", "u1"]).code, 0);
    assert_eq!(inspect(&s, "u1")["HostConfig"]["PidsLimit"], 20);

    // A stopped container's new limits apply at its next start.
    assert_eq!(s.sbx(&["create", "--name", "u2", "busybox", "sleep", "100"]).code, 0);
    assert_eq!(s.sbx(&["update", "--pids-limit", "7", "u2"]).code, 0);
    assert_eq!(s.sbx(&["start", "u2"]).code, 0);
    let id2 = inspect(&s, "u2")["Id"].as_str().unwrap().to_string();
    assert_eq!(cgroup_file(&id2, "pids", "pids.max"), "7");

    for (args, code, says) in [
        (&["update", "u1"][..], 125, "needs at least one limit"),
        (&["update", "--pids-limit", "5", "nosuch"][..], 1, "no such container: nosuch"),
        (&["update", "--memory-swap", "1m", "u1"][..], 125, "swap"),
        (&["update", "--restart", "always", "u1"][..], 125, "not supported"),
    ] {
        let r = s.sbx(args);
        assert!(r.code == code && r.stderr.contains(says), "{args:?}: {r:?}");
    }
    assert_eq!(s.sbx(&["rm", "-f", "u1", "u2"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn events_tell_each_step_of_a_containers_life_past_and_as_it_happens() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let now = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
    let since = format!("{:.6}", now());
    let until = format!("{:.0}", now() + 4.0);
    // Following: started before the container, it prints what happens from --since on.
    let follower = s
        .command(&[
            "events",
            "--since",
            &since,
            "--until",
            &until,
            "--filter",
            "container=ev1",
            "--format",
            "{{.Action}}",
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    assert_eq!(s.sbx(&["run", "--name", "ev1", "busybox", "sh", "-c", "exit 3"]).code, 3);
    assert_eq!(s.sbx(&["run", "-d", "--name", "ev2", "busybox", "sleep", "100"]).code, 0);
    assert_eq!(s.sbx(&["pause", "ev2"]).code, 0);
    assert_eq!(s.sbx(&["unpause", "ev2"]).code, 0);
    assert_eq!(s.sbx(&["rename", "ev1", "ev3"]).code, 0);
    assert_eq!(s.sbx(&["rm", "-f", "ev2", "ev3"]).code, 0);
    let out = follower.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "create\nstart\ndie\n", "only ev1's steps, until its rename");

    // The past, in docker's line form, with the exit code, the renaming and the kill.
    let r = s.sbx(&["events", "--since", &since, "--until", "0s", "--filter", "type=container"]);
    let steps: Vec<(&str, &str)> = r
        .stdout
        .lines()
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            (words[2], l.split_once(" (").map_or("", |(_, a)| a))
        })
        .collect();
    let actions: Vec<&str> = steps.iter().map(|(a, _)| *a).collect();
    assert_eq!(
        actions,
        [
            "create", "start", "die", "create", "start", "pause", "unpause", "rename", "kill", "die", "destroy",
            "destroy"
        ],
        "{r:?}"
    );
    assert!(steps[2].1.contains("exitCode=3"), "{:?}", steps[2]);
    assert!(steps[7].1.contains("name=ev3") && steps[7].1.contains("oldName=ev1"), "{:?}", steps[7]);
    let r = s.sbx(&["events", "--since", &since, "--until", "0s", "--filter", "event=die", "--format", "json"]);
    let docs: Vec<Value> = r.stdout.lines().map(json).collect();
    assert_eq!(docs.len(), 2, "{r:?}");
    assert_eq!(
        (docs[0]["Type"].as_str(), docs[0]["Actor"]["Attributes"]["exitCode"].as_str()),
        (Some("container"), Some("3"))
    );
    let r = s.sbx(&["events", "--filter", "colour=red"]);
    assert!(r.code == 1 && r.stderr.contains("invalid filter 'colour=red'"), "{r:?}");
    let r = s.sbx(&["events", "--since", "yesterday"]);
    assert!(r.code == 125 && r.stderr.contains("--since 'yesterday'"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn a_restart_policy_starts_a_detached_container_again_until_a_user_stops_it() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let state = |name: &str| {
        let v = inspect(&s, name);
        (v["State"]["Status"].as_str().unwrap_or_default().to_string(), v["RestartCount"].as_u64().unwrap_or(99))
    };
    // on-failure:2: three runs in all (the writable layer kept: each run appends to /runs), then
    // it stays exited.
    let script = "echo x >> /runs; wc -l < /runs; exit 2";
    let r = s.sbx(&["run", "-d", "--name", "rf", "--restart", "on-failure:2", "busybox", "sh", "-c", script]);
    assert_eq!(r.code, 0, "{r:?}");
    wait_for("two restarts and the end", || state("rf") == ("exited".to_string(), 2));
    assert_eq!(s.sbx(&["logs", "rf"]).stdout.split_whitespace().collect::<Vec<_>>(), ["1", "2", "3"]);
    let v = inspect(&s, "rf");
    assert_eq!(v["HostConfig"]["RestartPolicy"], serde_json::json!({"Name": "on-failure", "MaximumRetryCount": 2}));
    assert_eq!(v["State"]["ExitCode"], 2);

    // always: restarted even after a success, shown as restarting between runs; a stop ends it.
    let r = s.sbx(&["run", "-d", "--name", "ra", "--restart", "always", "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    wait_for("a restart", || state("ra").1 >= 2);
    wait_for("ps to show it restarting", || {
        s.sbx(&["ps", "-a", "--filter", "name=ra", "--format", "{{.Status}}"]).stdout.starts_with("Restarting (0)")
    });
    assert_eq!(s.sbx(&["stop", "ra"]).code, 0);
    let stopped = state("ra");
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert_eq!(state("ra"), ("exited".to_string(), stopped.1), "no start after the stop");
    // The same policy through create and start.
    assert_eq!(s.sbx(&["create", "--name", "rc", "--restart", "on-failure:1", "busybox", "false"]).code, 0);
    assert_eq!(s.sbx(&["start", "rc"]).code, 0);
    wait_for("its one restart", || state("rc") == ("exited".to_string(), 1));

    for (args, says) in [
        (&["run", "--restart", "always", "busybox", "true"][..], "--restart needs -d"),
        (&["run", "-d", "--rm", "--restart", "always", "busybox", "true"][..], "--restart and --rm"),
        (&["run", "-d", "--restart", "sometimes", "busybox", "true"][..], "invalid restart policy 'sometimes'"),
    ] {
        let r = s.sbx(args);
        assert!(r.code == 125 && r.stderr.contains(says), "{args:?}: {r:?}");
    }
    assert_eq!(s.sbx(&["rm", "-f", "rf", "ra", "rc"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn exec_detached_returns_at_once_and_its_command_runs_on() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    assert_eq!(s.sbx(&["run", "-d", "--name", "xd", "busybox", "sleep", "100"]).code, 0);
    let r = s.sbx(&["exec", "-d", "xd", "sh", "-c", "echo out; sleep 0.2; echo later > /mark; sleep 100"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, ""), "nothing of its output comes back: {r:?}");
    wait_for("the detached command to write", || s.sbx(&["exec", "xd", "cat", "/mark"]).stdout == "later\n");
    let r = s.sbx(&["exec", "-d", "xd", "nosuchcommand"]);
    assert!(r.code == 127 && r.stderr.contains("nosuchcommand"), "{r:?}");
    let r = s.sbx(&["exec", "-d", "-i", "xd", "true"]);
    assert!(r.code == 125 && r.stderr.contains("exec -d takes neither -i nor -t"), "{r:?}");
    // It ends with the container: nothing of it is left.
    assert_eq!(s.sbx(&["rm", "-f", "xd"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn attach_flags_choose_the_streams_a_foreground_run_shows() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let both = "echo out; echo err >&2";
    let r = s.sbx(&["run", "--rm", "-a", "STDOUT", "busybox", "sh", "-c", both]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (0, "out\n", ""), "{r:?}");
    let r = s.sbx(&["run", "--rm", "-a", "stderr", "busybox", "sh", "-c", both]);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", "err\n"), "{r:?}");
    // A container that stays logs what is not shown too, as docker's log driver does.
    let r = s.sbx(&["run", "--name", "a1", "-a", "stderr", "busybox", "sh", "-c", both]);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("", "err\n"), "{r:?}");
    let r = s.sbx(&["logs", "a1"]);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("out\n", "err\n"), "{r:?}");
    assert_eq!(s.sbx(&["rm", "a1"]).code, 0);
    let mut child = s
        .command(&["run", "--rm", "-a", "stdin", "-a", "stdout", "busybox", "cat"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"through stdin\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "through stdin\n", "-a stdin keeps stdin open");
    let r = s.sbx(&["run", "-d", "-a", "stdout", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("-a and -d"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn group_add_gives_the_process_more_groups_by_id_or_name() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&["run", "--rm", "-u", "1000", "--group-add", "10", "--group-add", "nogroup", "busybox", "id", "-G"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "0 10 65534\n"), "{r:?}");
    assert_eq!(s.sbx(&["run", "-d", "--name", "g1", "--group-add", "77", "busybox", "sleep", "100"]).code, 0);
    let r = s.sbx(&["exec", "g1", "id", "-G"]);
    assert_eq!(r.stdout, "0 77\n", "an exec gets them too: {r:?}");
    let r = s.sbx(&["run", "--rm", "--group-add", "nosuchgroup", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("unable to find group nosuchgroup"), "{r:?}");
    assert_eq!(s.sbx(&["rm", "-f", "g1"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn attach_follows_a_running_containers_output_to_its_end_and_passes_signals() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let script = "echo before; sleep 1; echo out; echo err >&2; exit 3";
    assert_eq!(s.sbx(&["run", "-d", "--name", "at", "busybox", "sh", "-c", script]).code, 0);
    wait_for("its first line", || s.sbx(&["logs", "at"]).stdout == "before\n");
    let r = s.sbx(&["attach", "at"]);
    assert_eq!((r.code, r.stdout.as_str(), r.stderr.as_str()), (3, "out\n", "err\n"), "from now on: {r:?}");
    let r = s.sbx(&["attach", "at"]);
    assert!(r.code == 1 && r.stderr.contains("cannot attach to a stopped container at"), "{r:?}");
    let r = s.sbx(&["attach", "nosuch"]);
    assert!(r.code == 1 && r.stderr.contains("no such container: nosuch"), "{r:?}");

    // A signal to attach goes to the container (--sig-proxy, docker's default).
    let script = "trap 'echo interrupted; exit 7' INT; echo ready; while true; do sleep 0.1; done";
    assert_eq!(s.sbx(&["run", "-d", "--name", "at2", "busybox", "sh", "-c", script]).code, 0);
    wait_for("it to trap", || s.sbx(&["logs", "at2"]).stdout == "ready\n");
    let child = s.command(&["attach", "at2"]).stdout(Stdio::piped()).spawn().unwrap();
    // Time for attach to start passing signals on (a few ms; more on a loaded machine).
    std::thread::sleep(std::time::Duration::from_millis(500));
    nix_kill(child.id(), libc::SIGINT);
    let out = child.wait_with_output().unwrap();
    assert_eq!((out.status.code(), String::from_utf8_lossy(&out.stdout).as_ref()), (Some(7), "interrupted\n"));
    assert_eq!(s.sbx(&["rm", "at", "at2"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn attach_sends_input_to_a_container_run_with_i_and_detaches_from_its_terminal() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let script = "read a; echo got $a; read b; echo got $b >&2; exit 4";
    assert_eq!(s.sbx(&["run", "-d", "-i", "--name", "ai", "busybox", "sh", "-c", script]).code, 0);
    assert_eq!(s.sbx(&["inspect", "-f", "{{.Config.OpenStdin}}", "ai"]).stdout, "true\n");
    // A first client's input ends: the container's stdin stays open for the next one.
    let mut first = s.command(&["attach", "ai"]);
    first.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut first = first.spawn().unwrap();
    first.stdin.take().unwrap().write_all(b"one\n").unwrap();
    wait_for("the first line read", || s.sbx(&["logs", "ai"]).stdout == "got one\n");
    let mut second = s.command(&["attach", "ai"]);
    second.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut second = second.spawn().unwrap();
    second.stdin.take().unwrap().write_all(b"two\n").unwrap();
    let (first, second) = (first.wait_with_output().unwrap(), second.wait_with_output().unwrap());
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert_eq!(
        (first.status.code(), text(&first.stdout), text(&first.stderr)),
        (Some(4), "got one\n".into(), "got two\n".into())
    );
    assert_eq!(
        (second.status.code(), text(&second.stdout), text(&second.stderr)),
        (Some(4), String::new(), "got two\n".into())
    );
    // --no-stdin keeps input out.
    assert_eq!(s.sbx(&["start", "ai"]).code, 0);
    let mut quiet = s.command(&["attach", "--no-stdin", "ai"]).stdin(Stdio::piped()).spawn().unwrap();
    quiet.stdin.take().unwrap().write_all(b"not sent\n").unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(s.sbx(&["logs", "ai"]).stdout, "got one\n", "nothing more read");
    assert_eq!(s.sbx(&["kill", "ai"]).code, 0);
    assert_eq!(quiet.wait().unwrap().code(), Some(137));

    // With a terminal, Ctrl-P Ctrl-Q detaches and leaves the container running.
    assert_eq!(s.sbx(&["run", "-d", "-i", "-t", "--name", "at3", "busybox", "sh"]).code, 0);
    let mut child = s.command(&["attach", "at3"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut typed = child.stdin.take().unwrap();
    typed.write_all(b"echo $((6*7))\n").unwrap();
    wait_for("the shell's answer", || s.sbx(&["logs", "at3"]).stdout.contains("42"));
    typed.write_all(b"\x10\x11").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "detached");
    assert!(String::from_utf8_lossy(&out.stdout).contains("42"), "{out:?}");
    assert_eq!(s.sbx(&["inspect", "-f", "{{.State.Status}}", "at3"]).stdout, "running\n");
    // Keys of one's own: Ctrl-P is then the container's.
    let mut child = s.command(&["attach", "--detach-keys", "ctrl-x,q", "at3"]).stdin(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(b"\x10\x18q").unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0), "detached");
    assert_eq!(s.sbx(&["inspect", "-f", "{{.State.Status}}", "at3"]).stdout, "running\n");
    let r = s.sbx(&["attach", "--detach-keys", "ctrl-1", "at3"]);
    assert!(r.code == 125 && r.stderr.contains("invalid detach key 'ctrl-1'"), "{r:?}");
    assert_eq!(s.sbx(&["rm", "-f", "ai", "at3"]).code, 0);
    s.assert_clean(0);
}

fn nix_kill(pid: u32, signal: i32) {
    // SAFETY: kill(2) with a pid of our own child and a plain signal number.
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0);
}
