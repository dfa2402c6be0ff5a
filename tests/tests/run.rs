//! `sbx run` end to end, as root: exit codes, the overlay and its writable layer, whiteouts,
//! namespaces, users, many layers, and that nothing is left behind.

use sbx_tests::harness::{Sandbox, is_root, test_image};

fn sandbox_with(kind: &str) -> Sandbox {
    let s = Sandbox::new();
    s.load(&test_image(kind).unwrap());
    s
}

#[test]
fn prints_and_exits_with_the_commands_code() {
    if !is_root() {
        return;
    }
    let s = sandbox_with("busybox");
    let r = s.sbx(&["run", "--rm", "busybox", "sh", "-c", "echo hello; echo oops >&2; exit 3"]);
    assert_eq!(r.code, 3, "{r:?}");
    assert_eq!(r.stdout, "hello\n");
    assert_eq!(r.stderr, "oops\n");
    s.assert_clean(0);
}

/// As with docker, sbx's options end at the image: what follows is the command's, flags that sbx
/// also has included (an image's entrypoint given `--version`, `-d` or `--rm`).
#[test]
fn the_words_after_the_image_are_the_commands_even_when_they_look_like_sbxs_flags() {
    if !is_root() {
        return;
    }
    let s = sandbox_with("busybox");
    let r = s.sbx(&["run", "--rm", "--entrypoint", "echo", "busybox", "--rm", "-d", "--version", "-it"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "--rm -d --version -it\n"), "{r:?}");
    let r = s.sbx(&["run", "--rm", "busybox", "--version"]);
    assert_eq!(r.code, 127, "{r:?}");
    assert!(r.stderr.contains("\"--version\": executable file not found in $PATH"), "{r:?}");
    // A `--` of the user's own still only ends sbx's options.
    let r = s.sbx(&["run", "--rm", "busybox", "--", "echo", "-n", "x"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "x"), "{r:?}");
    let r = s.sbx(&["run", "-d", "--name", "words", "busybox", "sleep", "60"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = s.sbx(&["exec", "words", "--help"]);
    assert!(r.stderr.contains("\"--help\": executable file not found in $PATH"), "{r:?}");
    let r = s.sbx(&["rm", "-f", "words"]);
    assert_eq!(r.code, 0, "{r:?}");
    s.assert_clean(0);
}

#[test]
fn docker_exit_codes_for_missing_and_unrunnable_commands() {
    if !is_root() {
        return;
    }
    let s = sandbox_with("busybox");
    let r = s.sbx(&["run", "--rm", "busybox", "no-such-command"]);
    assert_eq!(r.code, 127, "{r:?}");
    assert!(r.stderr.contains("\"no-such-command\": executable file not found in $PATH"), "{r:?}");
    let r = s.sbx(&["run", "--rm", "busybox", "/etc/passwd"]);
    assert_eq!(r.code, 126, "{r:?}");
    assert!(r.stderr.contains("permission denied"), "{r:?}");
    // (Not pulled: this test reaches no registry.)
    let r = s.sbx(&["run", "--rm", "--pull", "never", "no-such-image", "true"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("no image 'no-such-image'"), "{r:?}");
    let r = s.sbx(&["run", "--rm", "--no-such-flag", "busybox"]);
    assert_eq!(r.code, 125, "{r:?}");
    s.assert_clean(0);
}

#[test]
fn in_its_own_cgroup_and_killed_by_a_signal_is_128_plus_n() {
    if !is_root() {
        return;
    }
    let s = sandbox_with("busybox");
    // PID 1 of a namespace ignores signals from inside it that it has no handler for, so the
    // container's process is killed from the host, as `docker kill` would.
    let child = s.command(&["run", "--rm", "busybox", "sleep", "30"]).spawn().unwrap();
    let sleeper = wait_for_child_named(child.id(), "sleep");
    let cgroups = std::fs::read_to_string(format!("/proc/{sleeper}/cgroup")).unwrap();
    let id = &s.containers()[0];
    for controller in ["pids", "memory", "cpu"] {
        let expected = format!(":{controller}:/sbx/{id}\n");
        let v2 = format!("0::/sbx/{id}\n");
        assert!(cgroups.contains(&expected) || cgroups.contains(&v2), "in its own cgroup: {cgroups}");
    }
    nix_kill(sleeper, libc::SIGKILL);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(137));
    s.assert_clean(0);
}

fn nix_kill(pid: i32, sig: i32) {
    // SAFETY: kill(2) takes two integers.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

/// The pid (in the host's namespace) of the child of `parent` whose command is `name`.
fn wait_for_child_named(parent: u32, name: &str) -> i32 {
    for _ in 0..500 {
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
            let ppid =
                stat.rsplit(')').next().and_then(|r| r.split_whitespace().nth(1)).and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(parent) && comm.trim() == name {
                return pid;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("no child {name} of {parent}");
}

#[test]
fn writes_land_in_the_containers_own_layer_only() {
    if !is_root() {
        return;
    }
    let s = sandbox_with("busybox");
    let r = s.sbx(&[
        "run",
        "--name",
        "writer",
        "busybox",
        "sh",
        "-c",
        "echo data > /tmp/new && echo changed > /etc/passwd",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    let ids = s.containers();
    assert_eq!(ids.len(), 1, "the container without --rm stays");
    let upper = s.root.join("containers").join(&ids[0]).join("upper");
    assert_eq!(std::fs::read_to_string(upper.join("tmp/new")).unwrap(), "data\n");
    assert_eq!(std::fs::read_to_string(upper.join("etc/passwd")).unwrap(), "changed\n");
    let layer = s.root.join("layers").join(&s.layers()[0]).join("diff");
    assert!(
        std::fs::read_to_string(layer.join("etc/passwd")).unwrap().starts_with("root:x:0:0"),
        "the image layer is untouched"
    );
    assert!(!layer.join("tmp/new").exists());

    let r = s.sbx(&["run", "--rm", "busybox", "sh", "-c", "cat /tmp/new; head -c 4 /etc/passwd"]);
    assert!(
        r.stderr.contains("can't open '/tmp/new'"),
        "a second container does not see the first one's writes: {r:?}"
    );
    assert_eq!(r.stdout, "root", "nor the change to a file of the image: {r:?}");
    // A writable layer that goes with its container is not synced to disk (overlayfs's volatile,
    // as podman mounts --rm containers); a kept one is.
    let root_options = "awk '$5 == \"/\" {print $NF}' /proc/self/mountinfo";
    let r = s.sbx(&["run", "--rm", "busybox", "sh", "-c", root_options]);
    assert!(r.stdout.contains("volatile"), "{r:?}");
    let r = s.sbx(&["run", "--name", "kept", "busybox", "sh", "-c", root_options]);
    assert!(r.code == 0 && r.stdout.contains("upperdir=") && !r.stdout.contains("volatile"), "{r:?}");
    assert_eq!(s.sbx(&["rm", "kept"]).code, 0);
    let r = s.sbx(&["run", "--rm", "--name", "writer", "busybox", "true"]);
    assert_eq!(r.code, 125, "names are unique: {r:?}");
    assert!(r.stderr.contains("already in use"), "{r:?}");
    s.assert_clean(1);
}

#[test]
fn whiteouts_and_opaque_directories_hide_what_they_should() {
    if !is_root() {
        return;
    }
    let s = sandbox_with("layered");
    let r = s.sbx(&["run", "--rm", "layered", "sh", "-c", "test -e /etc/motd && echo motd; ls /data; cat /etc/layer3"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "new\nthird\n");
    s.assert_clean(0);
}

#[test]
fn namespaces_devices_and_proc() {
    if !is_root() {
        return;
    }
    let s = sandbox_with("busybox");
    let script = "hostname; echo pid=$$; ls /dev | tr '\\n' ' '; echo; tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '; \
                  touch /sys/x 2>/dev/null && echo sys-writable; ls /proc/1/exe >/dev/null && echo proc";
    let r = s.sbx(&["run", "--rm", "-h", "box", "busybox", "sh", "-c", script]);
    assert_eq!(r.code, 0, "{r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines[0], "box");
    assert_eq!(lines[1], "pid=1", "the command is PID 1 of its own namespace");
    assert_eq!(lines[2].trim(), "fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero");
    assert_eq!(lines[3], "lo", "only the loopback interface");
    assert_eq!(lines[4], "proc", "/sys is read-only and /proc is mounted");
    let r = s.sbx(&["run", "--rm", "busybox", "ping", "-c", "1", "-W", "1", "127.0.0.1"]);
    assert_eq!(r.code, 0, "loopback is up: {r:?}");
    s.assert_clean(0);
}

#[test]
fn image_config_and_flags_set_user_env_and_workdir() {
    if !is_root() {
        return;
    }
    let s = sandbox_with("user");
    let r = s.sbx(&["run", "--rm", "user"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "65534\n"), "{r:?}");
    let r = s.sbx(&[
        "run",
        "--rm",
        "-u",
        "0",
        "-e",
        "GREETING=hi",
        "-w",
        "/srv/app",
        "user",
        "sh",
        "-c",
        "id -u; pwd; echo $GREETING $HOME",
    ]);
    assert_eq!(r.stdout, "0\n/srv/app\nhi /root\n", "{r:?}");
    let r = s.sbx(&["run", "--rm", "user", "pwd"]);
    assert_eq!(r.stdout, "/tmp/work\n", "the image's WorkingDir is created: {r:?}");
    let r = s.sbx(&["run", "--rm", "-u", "nosuchuser", "user", "true"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("unable to find user nosuchuser"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn image_with_128_layers_runs() {
    if !is_root() {
        return;
    }
    let s = sandbox_with("many:128");
    let r = s.sbx(&["run", "--rm", "many128", "sh", "-c", "ls /layers | wc -l; cat /layers/1 /layers/127"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout, "127\n1\n127\n");
    s.assert_clean(0);
}

#[test]
fn image_with_500_layers_runs_and_501_is_refused_clearly() {
    if !is_root() {
        return;
    }
    let s = sandbox_with("many:500");
    let r = s.sbx(&["run", "--rm", "many500", "sh", "-c", "ls /layers | wc -l; cat /layers/499"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "499\n499\n"), "the kernel's overlay limit is 500 lowers: {r:?}");
    s.load(&test_image("many:501").unwrap());
    let r = s.sbx(&["run", "--rm", "many501", "true"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("the image has 501 layers; overlayfs stacks at most 500"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn the_single_mount_call_of_older_kernels_works_too() {
    if !is_root() {
        return;
    }
    let s = sandbox_with("layered");
    let legacy = |image: &str, cmd: &[&str]| {
        let out = s.command(&["run", "--rm", image]).args(cmd).env("SBX_OVERLAY_MOUNT", "legacy").output().unwrap();
        sbx_tests::harness::Run::from(out)
    };
    let r = legacy("layered", &["sh", "-c", "ls /data; cat /etc/layer3"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "new\nthird\n"), "{r:?}");
    s.load(&test_image("many:200").unwrap());
    let r = legacy("many200", &["true"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("the image has 200 layers, too many for one mount(2)"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn a_path_is_loaded_then_run() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let archive = s.scratch.join("bb.tar");
    test_image("busybox").unwrap().write_docker_archive(&archive).unwrap();
    let r = s.sbx(&["run", "--rm", archive.to_str().unwrap(), "echo", "from-archive"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "from-archive\n"), "{r:?}");
    let r = s.sbx(&["images"]);
    assert!(r.stdout.contains("busybox"), "{r:?}");
    let id = s.sbx(&["images", "-q"]).stdout.trim().to_string();
    assert_eq!(id.len(), 12, "short ids: {id}");
    let r = s.sbx(&["run", "--rm", &id[..5], "echo", "by-id"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "by-id\n"), "an id prefix names the image: {r:?}");
    let r = s.sbx(&["run", "--rm", &format!("sha256:{}", &id[..8]), "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    s.assert_clean(0);
}
