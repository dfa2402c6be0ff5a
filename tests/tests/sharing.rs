//! `--sysctl`, `--ipc` and `--pid`: kernel parameters set in the container's own namespaces only,
//! and the IPC or PID namespace of the host or of another running container, as docker shares
//! them (with /dev/shm for IPC, and the rest of a shared-PID container killed when it ends).

use sbx_tests::harness::{Sandbox, is_root, plugin_arg, wait_for};

fn ns(link: &str) -> String {
    std::fs::read_link(link).unwrap().to_string_lossy().into_owned()
}

/// Processes of the host whose command line is `cmd`.
fn processes(cmd: &str) -> usize {
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0 };
    entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<u32>().is_ok())
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| String::from_utf8_lossy(c).replace('\0', " ").trim() == cmd)
        .count()
}

#[test]
fn sysctls_change_the_containers_namespaces_and_never_the_hosts() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let host_shmmax = std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap();
    let host_somaxconn = std::fs::read_to_string("/proc/sys/net/core/somaxconn").unwrap();
    let r = s.sbx(&[
        "run",
        "--rm",
        "--sysctl",
        "kernel.shmmax=12345678",
        "--sysctl",
        "net.core.somaxconn=77",
        "busybox",
        "cat",
        "/proc/sys/kernel/shmmax",
        "/proc/sys/net/core/somaxconn",
    ]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "12345678\n77\n"), "{r:?}");
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap(), host_shmmax);
    assert_eq!(std::fs::read_to_string("/proc/sys/net/core/somaxconn").unwrap(), host_somaxconn);

    // Kept for the next start of a container, and shown by inspect.
    assert_eq!(
        s.sbx(&[
            "create",
            "--name",
            "kp",
            "--sysctl",
            "net.ipv4.ip_forward=1",
            "busybox",
            "cat",
            "/proc/sys/net/ipv4/ip_forward"
        ])
        .code,
        0
    );
    let r = s.sbx(&["start", "-a", "kp"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "1\n"), "{r:?}");
    let r = s.sbx(&["inspect", "-f", "{{json .HostConfig.Sysctls}}", "kp"]);
    assert_eq!(r.stdout.trim(), r#"{"net.ipv4.ip_forward":"1"}"#, "{r:?}");
    assert_eq!(s.sbx(&["rm", "kp"]).code, 0);

    for (args, says) in [
        (&["--sysctl", "kernel.panic=1"][..], "kernel.panic is not in a namespace of the container"),
        (&["--sysctl", "vm.swappiness=1"], "vm.swappiness is not in a namespace of the container"),
        (&["--network", "host", "--sysctl", "net.core.somaxconn=1"], "would change the host's network"),
        (&["--ipc", "host", "--sysctl", "kernel.shmmax=1"], "not the container's own (--ipc host)"),
        (&["--sysctl", "net/../../kernel/panic=1"], "is not a kernel parameter's name"),
        (&["--sysctl", "net.nosuch.param=1"], "net.nosuch.param"),
        (&["--sysctl", "novalue"], "expected KEY=VALUE"),
    ] {
        let r = s.sbx(&[&["run", "--rm"], args, &["busybox", "true"]].concat());
        assert!(r.code == 125 && r.stderr.contains(says), "{args:?}: {r:?}");
    }
    assert_eq!(std::fs::read_to_string("/proc/sys/kernel/shmmax").unwrap(), host_shmmax);
    s.assert_clean(0);
}

#[test]
fn ipc_and_pid_share_the_hosts_or_a_running_containers_namespaces() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r =
        s.sbx(&["run", "-d", "--name", "donor", "busybox", "sh", "-c", "echo shared > /dev/shm/note; exec sleep 1000"]);
    assert_eq!(r.code, 0, "{r:?}");
    let donor_ipc = s.sbx(&["exec", "donor", "readlink", "/proc/self/ns/ipc"]).stdout;

    // Another container's IPC namespace, with its /dev/shm.
    let r = s.sbx(&[
        "run",
        "--rm",
        "--ipc",
        "container:donor",
        "busybox",
        "sh",
        "-c",
        "readlink /proc/self/ns/ipc; cat /dev/shm/note",
    ]);
    assert_eq!((r.code, r.stdout.clone()), (0, format!("{donor_ipc}shared\n")), "{r:?}");
    // The host's.
    let r = s.sbx(&["run", "--rm", "--ipc", "host", "busybox", "readlink", "/proc/self/ns/ipc"]);
    assert_eq!((r.code, r.stdout.trim()), (0, ns("/proc/self/ns/ipc").as_str()), "{r:?}");
    let r = s.sbx(&["run", "--rm", "--ipc", "shareable", "busybox", "readlink", "/proc/self/ns/ipc"]);
    assert!(r.code == 0 && r.stdout != donor_ipc && r.stdout.trim() != ns("/proc/self/ns/ipc"), "its own: {r:?}");

    // Another container's PID namespace: its processes are seen.
    let r = s.sbx(&["run", "--rm", "--pid", "container:donor", "busybox", "ps", "-o", "comm"]);
    assert!(r.code == 0 && r.stdout.contains("sleep"), "{r:?}");
    // The host's: what the container started is killed when its first process ends.
    let r = s.sbx(&["run", "--rm", "--pid", "host", "busybox", "sh", "-c", "sleep 4242 & readlink /proc/self/ns/pid"]);
    assert_eq!((r.code, r.stdout.trim()), (0, ns("/proc/self/ns/pid").as_str()), "{r:?}");
    assert_eq!(processes("sleep 4242"), 0, "left running after the container ended");
    // So it is with a detached one that is stopped.
    let r =
        s.sbx(&["run", "-d", "--name", "ph", "--pid", "host", "busybox", "sh", "-c", "sleep 4243 & exec sleep 1000"]);
    assert_eq!(r.code, 0, "{r:?}");
    wait_for("its background process", || processes("sleep 4243") == 1);
    let r = s.sbx(&["top", "ph"]);
    assert!(r.stdout.contains("sleep 4243") && !r.stdout.contains("kthreadd"), "its cgroup's processes only: {r:?}");
    let r = s.sbx(&["inspect", "-f", "{{.HostConfig.PidMode}} {{.HostConfig.IpcMode}}", "ph"]);
    assert_eq!(r.stdout.trim(), "host private", "{r:?}");
    assert_eq!(s.sbx(&["stop", "-t", "1", "ph"]).code, 0);
    assert_eq!(processes("sleep 4243"), 0);
    assert_eq!(s.sbx(&["rm", "ph"]).code, 0);

    assert_eq!(s.sbx(&["create", "--name", "late", "--ipc", "container:donor", "busybox", "true"]).code, 0);
    let r = s.sbx(&["inspect", "-f", "{{.HostConfig.IpcMode}}", "late"]);
    assert!(r.stdout.starts_with("container:") && r.stdout.trim().len() == 74, "kept by id: {r:?}");
    assert_eq!(s.sbx(&["stop", "-t", "0", "donor"]).code, 0);
    let r = s.sbx(&["start", "late"]);
    assert!(r.code != 0 && r.stderr.contains("container donor is not running"), "{r:?}");
    assert_eq!(s.sbx(&["rm", "late", "donor"]).code, 0);

    // Policies see a namespace of the host's as one the container lacks.
    let policy = plugin_arg("no-escalation");
    for (flag, says) in [("--pid", "the host's PID namespace (--pid host) is not allowed"), ("--ipc", "--ipc host")] {
        let r = s.sbx(&["run", "--rm", "--policy", &policy, flag, "host", "busybox", "true"]);
        assert!(r.code == 125 && r.stderr.contains(says), "{r:?}");
    }

    for (args, code, says) in [
        (&["--ipc", "container:nosuch"][..], 125, "--ipc container:nosuch: no such container"),
        (&["--pid", "container:nosuch"], 125, "--pid container:nosuch: no such container"),
        (&["--ipc", "none"], 125, "--ipc none is not supported"),
        (&["--pid", "shareable"], 125, "bad --pid 'shareable'"),
        (&["--userns", "auto", "--pid", "host"], 125, "cannot be combined with --userns=auto"),
    ] {
        let r = s.sbx(&[&["run", "--rm"], args, &["busybox", "true"]].concat());
        assert!(r.code == code && r.stderr.contains(says), "{args:?}: {r:?}");
    }
    s.assert_clean(0);
}
