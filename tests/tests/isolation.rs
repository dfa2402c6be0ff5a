//! The sandbox holds against a hostile root process inside it: the escape suite (tests/probe/
//! escape.rs, a static binary trying each way out with raw syscalls and paths) run in containers with the
//! default settings, by `sbx run` and by `sbx exec`, must find every way blocked; with
//! `--privileged` the same probe gets through (so it does detect an escape). Also: no_new_privs
//! against setuid programs, the seccomp mode and capabilities against docker's defaults, and the
//! security options' bad inputs.

use sbx_tests::harness::{Sandbox, escape_probe, is_root};
use sbx_tests::image::{Image, Layer, busybox};

/// Every attempt of the probe.
const ATTEMPTS: [&str; 31] = [
    "keyctl",
    "x32-keyctl",
    "add_key",
    "bpf",
    "ptrace",
    "kill",
    "unshare-user",
    "unshare-mount",
    "clone-user",
    "mount",
    "umount",
    "module",
    "kexec",
    "open_by_handle_at",
    "clock",
    "hostname",
    "userfaultfd",
    "io_uring",
    "syslog",
    "sysrq",
    "kcore",
    "proc-keys",
    "sysfs",
    "cgroup",
    "core-pattern",
    "device",
    "host-pids",
    "host-file",
    "host-file-links",
    "root-stack",
    "fds",
];

fn probe_sandbox() -> Sandbox {
    let s = Sandbox::new();
    let probe = escape_probe();
    let layer = Layer::new().file("probe", 0o755, &probe).file("probe-suid", 0o4755, &probe);
    s.load(&Image::new("escape:latest", vec![busybox().unwrap(), layer]));
    s
}

fn host_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap()
}

/// The probe's arguments: this test's pid (a host process), a file on the host, the attempts.
fn probe_args<'a>(s: &Sandbox, marker: &'a str, attempts: &[&'a str]) -> Vec<String> {
    std::fs::write(marker, "host secret").unwrap();
    let _ = s;
    let mut args = vec![std::process::id().to_string(), marker.to_string()];
    args.extend(attempts.iter().map(|a| a.to_string()));
    args
}

fn assert_all_blocked(out: &str, attempts: &[&str]) {
    for a in attempts {
        assert!(out.lines().any(|l| l.starts_with(&format!("blocked {a}:"))), "{a} not blocked:\n{out}");
    }
    assert!(!out.contains("ESCAPED"), "{out}");
}

/// Runs every attempt of the probe in a container made with `flags`, by `sbx run` and by
/// `sbx exec` into a running one (left running as `target`), and checks that each is blocked.
fn probe_run_and_exec(s: &Sandbox, flags: &[&str], args: &[String]) {
    let mut run: Vec<&str> = [&["run", "--rm", "-u", "0"], flags, &["escape", "/probe"]].concat();
    run.extend(args.iter().map(String::as_str));
    let r = s.sbx(&run);
    assert_eq!(r.code, 0, "{flags:?}: {r:?}");
    assert_all_blocked(&r.stdout, &ATTEMPTS);
    let r = s.sbx(&[&["run", "-d", "--name", "target"], flags, &["escape", "sleep", "100"]].concat());
    assert_eq!(r.code, 0, "{flags:?}: {r:?}");
    let mut exec: Vec<&str> = vec!["exec", "target", "/probe"];
    exec.extend(args.iter().map(String::as_str));
    let r = s.sbx(&exec);
    assert_eq!(r.code, 0, "{flags:?}: {r:?}");
    assert_all_blocked(&r.stdout, &ATTEMPTS);
}

#[test]
fn every_escape_attempt_fails_with_the_default_settings() {
    if !is_root() {
        return;
    }
    let s = probe_sandbox();
    let marker = s.scratch.join("host-secret").display().to_string();
    let hostname = host_hostname();
    let args = probe_args(&s, &marker, &ATTEMPTS);
    probe_run_and_exec(&s, &[], &args);
    // setuid as a user that is not root.
    let r = s.sbx(&["exec", "-u", "1000", "target", "/probe-suid", "1", &marker, "setuid", "fds", "keyctl"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_all_blocked(&r.stdout, &["setuid", "fds", "keyctl"]);
    assert_eq!(host_hostname(), hostname, "the host's hostname did not change");
    assert_eq!(s.sbx(&["rm", "-f", "target"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn every_escape_attempt_fails_in_a_user_namespace() {
    if !is_root() {
        return;
    }
    let s = probe_sandbox();
    let marker = s.scratch.join("host-secret").display().to_string();
    let args = probe_args(&s, &marker, &ATTEMPTS);
    probe_run_and_exec(&s, &["--userns=auto"], &args);
    assert_eq!(s.sbx(&["rm", "-f", "target"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn the_probe_does_see_an_escape_when_the_sandbox_is_opened() {
    if !is_root() {
        return;
    }
    let s = probe_sandbox();
    let marker = s.scratch.join("host-secret").display().to_string();
    // Harmless inside the container's own namespaces, but each of these is refused by default.
    let opened = ["mount", "unshare-mount", "device"];
    let args = probe_args(&s, &marker, &opened);
    let mut run: Vec<&str> = vec!["run", "--rm", "--privileged", "escape", "/probe"];
    run.extend(args.iter().map(String::as_str));
    let r = s.sbx(&run);
    assert_eq!(r.code, 1, "{r:?}");
    for a in opened {
        assert!(r.stdout.contains(&format!("ESCAPED {a}:")), "{a} with --privileged:\n{}", r.stdout);
    }
    // no_new_privs is what keeps a setuid-root program from running as root.
    let r = s.sbx(&["run", "--rm", "-u", "1000", "escape", "/probe-suid", "1", "x", "setuid"]);
    assert_eq!((r.code, r.stdout.trim()), (0, "blocked setuid: euid stays 1000"), "{r:?}");
    let nnp_off = "no-new-privileges=false";
    let r =
        s.sbx(&["run", "--rm", "-u", "1000", "--security-opt", nnp_off, "escape", "/probe-suid", "1", "x", "setuid"]);
    assert_eq!(r.code, 1, "without no_new_privs the setuid bit works: {r:?}");
    s.assert_clean(0);
}

fn status_field(out: &str, field: &str) -> String {
    out.lines().find_map(|l| l.strip_prefix(field)).map(|v| v.trim().to_string()).unwrap_or_default()
}

#[test]
fn defaults_match_docker_and_options_change_them() {
    if !is_root() {
        return;
    }
    let s = probe_sandbox();
    let status = |extra: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend(extra);
        args.extend(["escape", "cat", "/proc/self/status"]);
        let r = s.sbx(&args);
        assert_eq!(r.code, 0, "{r:?}");
        r.stdout
    };
    let default = status(&[]);
    // docker's 14 default capabilities, filter mode, no_new_privs.
    for field in ["CapPrm:", "CapEff:", "CapBnd:"] {
        assert_eq!(status_field(&default, field), "00000000a80425fb", "{field}");
    }
    assert_eq!(status_field(&default, "CapInh:"), "0000000000000000");
    assert_eq!(status_field(&default, "Seccomp:"), "2");
    assert_eq!(status_field(&default, "NoNewPrivs:"), "1");
    let open = status(&["--security-opt", "seccomp=unconfined", "--security-opt", "no-new-privileges=false"]);
    assert_eq!((status_field(&open, "Seccomp:"), status_field(&open, "NoNewPrivs:")), ("0".into(), "0".into()));
    let privileged = status(&["--privileged"]);
    let own = std::fs::read_to_string("/proc/self/status").unwrap();
    assert_eq!(status_field(&privileged, "CapEff:"), status_field(&own, "CapBnd:"), "every capability sbx has");
    assert_eq!(status_field(&privileged, "Seccomp:"), "0");

    // A profile of the user's, in docker's format: everything allowed but mkdir.
    let profile = s.scratch.join("no-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let r = s.sbx(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "escape",
        "sh",
        "-c",
        "mkdir /x; echo $?; touch /y && echo touched",
    ]);
    assert!(r.stdout.contains("1\ntouched") && r.stderr.contains("Permission denied"), "{r:?}");

    // --ulimit and --device.
    let r = s.sbx(&["run", "--rm", "--ulimit", "nofile=256:512", "escape", "sh", "-c", "ulimit -n; ulimit -Hn"]);
    assert_eq!(r.stdout, "256\n512\n", "{r:?}");
    let kmsg = ["--cap-add", "SYSLOG", "--device", "/dev/kmsg:/dev/k:r"];
    let r = s.sbx(&[&["run", "--rm"], &kmsg[..], &["escape", "sh", "-c", "head -c 0 /dev/k && echo opened"]].concat());
    assert_eq!((r.code, r.stdout.as_str()), (0, "opened\n"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn bad_security_options_are_refused_and_leave_nothing() {
    if !is_root() {
        return;
    }
    let s = probe_sandbox();
    let bad = s.scratch.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_DANCE"}]}"#,
    )
    .unwrap();
    let bad_action = format!("seccomp={}", bad.display());
    let cases: [(&[&str], &str); 9] = [
        (&["--security-opt", "seccomp=/no/such.json"], "--security-opt seccomp=/no/such.json: cannot read it"),
        (&["--security-opt", &bad_action], "unknown action 'SCMP_ACT_DANCE'"),
        (&["--security-opt", "apparmor=unconfined"], "no AppArmor or SELinux support"),
        (&["--security-opt", "no-new-privileges=maybe"], "unknown --security-opt"),
        (&["--ulimit", "nofile=1024:999999"], "above sbx's own"),
        (&["--ulimit", "files=1"], "expected NAME=SOFT[:HARD]"),
        (&["--device", "/etc/passwd:/dev/passwd"], "not a character or block device"),
        (&["--device", "/dev/nope"], "cannot read /dev/nope"),
        (&["--device", "/dev/kmsg:/etc/kmsg"], "expected HOST[:CONTAINER][:PERMISSIONS]"),
    ];
    for (flags, message) in cases {
        let mut args = vec!["run", "--rm"];
        args.extend(flags);
        args.extend(["escape", "true"]);
        let r = s.sbx(&args);
        assert_eq!(r.code, 125, "{flags:?}: {r:?}");
        assert!(r.stderr.contains(message), "{flags:?}: {r:?}");
    }
    s.assert_clean(0);
}
