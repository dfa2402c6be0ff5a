//! What a container may use: memory (an OOM kill is exit 137 and OOMKilled), processes (a fork
//! bomb stops at the pids limit and the host keeps working), CPU weight and CPUs, swap, the
//! network (none by default, or the host's), `sbx stats`, and the device cgroup on cgroup v2 (a
//! BPF program); every cgroup goes with the container. `--cgroups=disabled`: no cgroup, and still
//! no device reached.

use sbx_tests::harness::{Sandbox, is_root, sbx_bin, wait_for};
use sbx_tests::image::{Image, Layer, busybox};
use std::process::Command;
use std::time::{Duration, Instant};

fn inspect(s: &Sandbox, name: &str) -> serde_json::Value {
    let r = s.sbx(&["inspect", name]);
    assert_eq!(r.code, 0, "{r:?}");
    serde_json::from_str::<serde_json::Value>(&r.stdout).unwrap()[0].clone()
}

#[test]
fn a_memory_hog_is_oom_killed_at_its_limit() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    // tail keeps the one endless line of /dev/zero in memory.
    let r = s.sbx(&["run", "--name", "hog", "-m", "16m", "busybox", "tail", "/dev/zero"]);
    assert_eq!(r.code, 137, "{r:?}");
    let v = inspect(&s, "hog");
    assert_eq!((v["State"]["ExitCode"].as_i64(), v["State"]["OOMKilled"].as_bool()), (Some(137), Some(true)), "{v}");
    assert!(s.sbx(&["ps", "-a"]).stdout.contains("Exited (137)"));
    // The same, detached: the monitor records it.
    let r = s.sbx(&["run", "-d", "--name", "bg-hog", "-m", "16m", "busybox", "tail", "/dev/zero"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.sbx(&["wait", "bg-hog"]).stdout, "137\n");
    assert_eq!(inspect(&s, "bg-hog")["State"]["OOMKilled"].as_bool(), Some(true));
    let r = s.sbx(&["run", "--name", "fine", "-m", "16m", "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(inspect(&s, "fine")["State"]["OOMKilled"].as_bool(), Some(false));
    assert_eq!(s.sbx(&["rm", "hog", "bg-hog", "fine"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn a_fork_bomb_stops_at_the_pids_limit_and_the_host_keeps_working() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&[
        "run",
        "-d",
        "--name",
        "bomb",
        "--pids-limit",
        "32",
        "busybox",
        "sh",
        "-c",
        // Forks until a fork fails, then keeps what it made: a count that stays at the limit to be
        // read, where an exponential bomb dies out and refills faster than a poll can see it.
        "(while :; do sleep 1000 & done) 2>/dev/null; exec sleep 1000",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let pids = || -> u64 {
        let r = s.sbx(&["stats", "--no-stream", "--format", "json", "bomb"]);
        let row: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap_or_default();
        row["PIDs"].as_str().and_then(|p| p.parse().ok()).unwrap_or(0)
    };
    wait_for("the bomb to fill its pids limit", || pids() >= 20);
    let started = Instant::now();
    let host = Command::new("true").status().unwrap();
    assert!(host.success() && started.elapsed() < Duration::from_secs(2), "the host can still start processes");
    let r = s.sbx(&["stats", "--no-stream", "--format", "json", "bomb"]);
    assert_eq!(r.code, 0, "{r:?}");
    let row: serde_json::Value = serde_json::from_str(r.stdout.trim()).unwrap();
    let pids: u64 = row["PIDs"].as_str().unwrap().parse().unwrap();
    assert!((20..=32).contains(&pids), "the bomb filled its limit and no more: {pids}");
    assert_eq!(s.sbx(&["rm", "-f", "bomb"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn stats_show_cpu_memory_and_processes() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&["run", "-d", "--name", "busy", "-m", "64m", "busybox", "sh", "-c", "while :; do :; done"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = s.sbx(&["stats", "--no-stream"]);
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("CONTAINER ID") && lines[0].contains("MEM USAGE / LIMIT"), "{r:?}");
    let row: Vec<&str> = lines[1].split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
    assert_eq!(row[1], "busy", "{r:?}");
    let cpu: f64 = row[2].trim_end_matches('%').parse().unwrap();
    assert!(cpu > 50.0, "a busy loop uses most of a CPU: {r:?}");
    assert!(row[3].ends_with("/ 64.00MiB"), "{r:?}");
    assert_eq!(row[5], "1", "{r:?}");
    let r = s.sbx(&["stats", "--no-stream", "nosuch"]);
    assert!(r.code == 1 && r.stderr.contains("no such container"), "{r:?}");
    assert_eq!(s.sbx(&["stop", "-t", "0", "busy"]).code, 0);
    let r = s.sbx(&["stats", "--no-stream", "busy"]);
    assert!(r.code == 1 && r.stderr.contains("is not running"), "{r:?}");
    assert_eq!(s.sbx(&["rm", "busy"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn cpu_weight_cpus_and_swap_reach_the_cgroup() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let args = ["run", "-d", "--name", "tuned", "--cpu-shares", "512", "--cpuset-cpus", "0", "-m", "32m"];
    let r = s.sbx(&[&args[..], &["--memory-swap", "64m", "busybox", "sleep", "100"]].concat());
    assert_eq!(r.code, 0, "{r:?}");
    let id = r.stdout.trim().to_string();
    let r = s.sbx(&["exec", "tuned", "grep", "Cpus_allowed_list", "/proc/self/status"]);
    assert_eq!(r.stdout.split_whitespace().last(), Some("0"), "{r:?}");
    let cg = |c: &str, f: &str| {
        std::fs::read_to_string(format!("/sys/fs/cgroup/{c}/sbx/{id}/{f}")).map(|t| t.trim().to_string())
    };
    if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        let v2 = |f: &str| std::fs::read_to_string(format!("/sys/fs/cgroup/sbx/{id}/{f}")).unwrap().trim().to_string();
        assert_eq!(
            (v2("cpu.weight"), v2("cpuset.cpus"), v2("memory.swap.max")),
            ("20".into(), "0".into(), (32u64 << 20).to_string())
        );
    } else {
        assert_eq!(cg("cpu", "cpu.shares").unwrap(), "512");
        assert_eq!(cg("cpuset", "cpuset.cpus").unwrap(), "0");
        assert_eq!(cg("memory", "memory.memsw.limit_in_bytes").unwrap(), (64u64 << 20).to_string());
    }
    assert_eq!(s.sbx(&["rm", "-f", "tuned"]).code, 0);
    for bad in [
        &["--memory-swap", "64m"][..],
        &["-m", "64m", "--memory-swap", "32m"],
        &["--cpuset-cpus", "3-1"],
        &["--cpu-shares", "1"],
    ] {
        let r = s.sbx(&[&["run", "--rm"], bad, &["busybox", "true"]].concat());
        assert_eq!(r.code, 125, "{bad:?}: {r:?}");
        assert!(r.stderr.contains(bad[bad.len() - 2]) || r.stderr.contains("--memory-swap"), "names the flag: {r:?}");
    }
    s.assert_clean(0);
}

fn allowed_cpus(status: &str) -> Option<String> {
    let line = status.lines().find(|l| l.starts_with("Cpus_allowed_list:"))?;
    line.split_whitespace().last().map(str::to_string)
}

#[test]
fn a_container_may_use_the_cpus_sbx_may() {
    if !is_root() {
        return;
    }
    // sbx starts the container's process on another CPU than its own, then gives it back every
    // CPU it had: what the container may use is what sbx may.
    let s = Sandbox::with_busybox();
    let own = allowed_cpus(&std::fs::read_to_string("/proc/self/status").unwrap()).unwrap();
    let status = ["run", "--rm", "busybox", "cat", "/proc/self/status"];
    for _ in 0..3 {
        let r = s.sbx(&status);
        assert_eq!(r.code, 0, "{r:?}");
        assert_eq!(allowed_cpus(&r.stdout), Some(own.clone()), "{r:?}");
    }
    // Started on one CPU, sbx and its container stay there.
    let out = s.command_under(&["taskset", "-c", "0"], &status).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(allowed_cpus(&String::from_utf8_lossy(&out.stdout)).as_deref(), Some("0"), "{out:?}");
    s.assert_clean(0);
}

fn interfaces(dev: &str) -> Vec<String> {
    dev.lines().skip(2).filter_map(|l| l.split(':').next()).map(|n| n.trim().to_string()).collect()
}

#[test]
fn the_network_is_loopback_only_unless_it_is_the_hosts() {
    // The harness's sbx runs with SBX_NETWORK=none: no bridge here.
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&["run", "--rm", "busybox", "cat", "/proc/net/dev"]);
    assert_eq!(interfaces(&r.stdout), ["lo"], "{r:?}");
    let r = s.sbx(&["run", "--rm", "--network", "none", "busybox", "cat", "/proc/net/dev"]);
    assert_eq!(interfaces(&r.stdout), ["lo"], "{r:?}");
    let r = s.sbx(&["run", "--rm", "--network", "host", "busybox", "cat", "/proc/net/dev"]);
    let mut inside = interfaces(&r.stdout);
    let mut host = interfaces(&std::fs::read_to_string("/proc/net/dev").unwrap());
    inside.sort();
    host.sort();
    assert_eq!(inside, host, "{r:?}");
    // Bridge networks are tests/tests/network.rs's, in network namespaces of their own.
    s.assert_clean(0);
}

#[test]
fn on_cgroup_v2_a_bpf_program_keeps_devices_closed() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let script = "mknod /tmp/k c 1 11; mknod /tmp/l c 10 237; \
                  head -c 0 /tmp/k 2>/dev/null && echo kmsg; head -c 0 /tmp/l 2>/dev/null && echo loop; \
                  echo x > /dev/null && echo null";
    let sbx = sbx_bin().display().to_string();
    let root = s.root.display().to_string();
    // A hybrid machine runs sbx in a mount namespace of its own where /sys/fs/cgroup is the
    // cgroup v2 hierarchy; a pure v2 machine runs it as it is.
    let run = |extra: &str| {
        let cmd = format!("{sbx} --root {root} run --rm {extra} busybox sh -c '{script}'");
        let wrapped = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            cmd
        } else {
            format!("mount -t cgroup2 none /sys/fs/cgroup && {cmd}")
        };
        let out = Command::new("unshare")
            .args(["-m", "--propagation", "private", "sh", "-c", &wrapped])
            .env("SBX_NETWORK", "none")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let v2_cgroups = || -> Vec<String> {
        let dir = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
            "/sys/fs/cgroup/sbx"
        } else {
            "/sys/fs/cgroup/unified/sbx"
        };
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().is_dir())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let before = v2_cgroups();
    let (code, stdout, stderr) = run("");
    assert_eq!((code, stdout.as_str()), (Some(0), "null\n"), "{stderr}");
    let (code, stdout, stderr) = run("--device /dev/loop-control");
    assert_eq!((code, stdout.as_str()), (Some(0), "loop\nnull\n"), "{stderr}");
    assert_eq!(v2_cgroups(), before, "the containers' v2 cgroups went with them");
    s.assert_clean(0);
}

#[test]
fn without_cgroups_a_container_has_none_and_still_reaches_no_device() {
    if !is_root() {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root");
        return;
    }
    let s = Sandbox::new();
    // An image that carries a device node of its own (/dev/kmsg's number), as a hostile one may.
    let layers = vec![busybox().unwrap(), Layer::new().dir("probe", 0o755).char_device("probe/kmsg", 1, 11)];
    s.load(&Image::new("devices:latest", layers));
    let script = "mknod /tmp/k c 1 11 2>/dev/null && echo made; head -c 0 /probe/kmsg 2>/dev/null && echo kmsg; \
                  echo x > /dev/null && echo null; ls /sys/fs/cgroup | wc -l";
    let r = s.sbx(&["run", "--rm", "--cgroups=disabled", "devices", "sh", "-c", script]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "null\n0\n"), "{r:?}");

    // A detached one: no cgroup directory anywhere, exec works, what needs a cgroup says so.
    let r = s.sbx(&["run", "-d", "--name", "free", "--cgroups=disabled", "devices", "sleep", "60"]);
    assert_eq!(r.code, 0, "{r:?}");
    let id = r.stdout.trim().to_string();
    let dirs: Vec<_> = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|h| h.path().join("sbx").join(&id))
        .filter(|d| d.exists())
        .collect();
    assert!(dirs.is_empty(), "{dirs:?}");
    assert_eq!(s.sbx(&["exec", "free", "echo", "in"]).stdout, "in\n");
    assert_eq!(inspect(&s, "free")["HostConfig"]["Cgroups"], "disabled");
    let r = s.sbx(&["pause", "free"]);
    assert!(r.code != 0 && r.stderr.contains("--cgroups=disabled"), "{r:?}");
    let r = s.sbx(&["update", "--memory", "64m", "free"]);
    assert!(r.code == 125 && r.stderr.contains("--cgroups=disabled gives the container no cgroup"), "{r:?}");
    assert_eq!(s.sbx(&["rm", "-f", "free"]).code, 0);

    // What only a cgroup could give is refused, naming the flag.
    for (flags, says) in [
        (&["--pids-limit", "10"][..], "resource limits"),
        (&["--cap-add", "MKNOD"][..], "CAP_MKNOD"),
        (&["--cap-add", "SYS_ADMIN"][..], "CAP_SYS_ADMIN"),
        (&["--pid", "host"][..], "--pid"),
    ] {
        let mut args = vec!["run", "--rm", "--cgroups=disabled"];
        args.extend(flags);
        args.extend(["devices", "true"]);
        let r = s.sbx(&args);
        assert!(r.code == 125 && r.stderr.contains(says), "{flags:?}: {r:?}");
    }
    let r = s.sbx(&["run", "--rm", "--cgroups=split", "devices", "true"]);
    assert!(r.code == 125 && r.stderr.contains("use enabled or disabled"), "{r:?}");
    s.assert_clean(0);
}
