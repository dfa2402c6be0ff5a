//! The container's process as docker users expect it: `-t` (a terminal in the container's
//! /dev/pts, raw mode and window size when sbx runs in a terminal), `--init`, `--sig-proxy`, and
//! `create --rm`.

use sbx_tests::harness::{Sandbox, is_root, wait_for};
use sbx_tests::terminal::Terminal;
use std::time::{Duration, Instant};

#[test]
fn run_and_exec_with_t_get_a_terminal_of_the_containers_own() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&["run", "--rm", "-t", "busybox", "tty"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "/dev/pts/0\r\n"), "{r:?}");
    let r = s.sbx(&["run", "--rm", "-t", "-u", "1000", "busybox", "sh", "-c", "stat -c %u:%g:%a $(tty); exit 3"]);
    assert_eq!((r.code, r.stdout.as_str()), (3, "1000:5:620\r\n"), "the user owns it, group tty: {r:?}");
    let r = s.sbx(&["run", "--rm", "-t", "busybox", "sh", "-c", "seq 1 50000"]);
    assert!(
        r.stdout.ends_with("49999\r\n50000\r\n"),
        "no output lost at the end: {:?}",
        &r.stdout[r.stdout.len() - 40..]
    );

    let r = s.sbx(&["run", "--rm", "-i", "-t", "busybox", "cat"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("the input device is not a TTY"), "{r:?}");

    let r = s.sbx(&["run", "-d", "--name", "box", "busybox", "sleep", "100"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = s.sbx(&["exec", "-t", "box", "sh", "-c", "tty; ls -1 /dev/pts"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "/dev/pts/0\r\n0\r\nptmx\r\n"), "{r:?}");
    let started = Instant::now();
    let r = s.sbx(&["exec", "-t", "box", "sh", "-c", "sleep 100 & echo left a child; exit 4"]);
    assert_eq!((r.code, r.stdout.as_str()), (4, "left a child\r\n"), "{r:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "a child holding the terminal does not keep exec waiting");
    let r = s.sbx(&["exec", "-i", "-t", "box", "true"]);
    assert!(r.code == 125 && r.stderr.contains("not a TTY"), "{r:?}");

    let r = s.sbx(&["run", "-d", "-t", "--name", "logged", "busybox", "sh", "-c", "tty; echo out"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.sbx(&["wait", "logged"]).stdout, "0\n");
    let r = s.sbx(&["logs", "logged"]);
    assert_eq!(r.stdout, "/dev/pts/0\r\nout\r\n", "the monitor logs the terminal: {r:?}");
    assert_eq!(s.sbx(&["rm", "-f", "box", "logged"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn it_in_a_terminal_is_raw_sized_and_restored() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let term = Terminal::open(40, 100);
    let before = term.settings();
    let mut sbx = term.spawn(s.command(&["run", "--rm", "-it", "busybox", "sh"]));
    term.read_until("/ # ", Duration::from_secs(10)).expect("a prompt");
    assert_ne!(term.settings(), before, "sbx's terminal is in raw mode while attached");
    term.type_text("stty size; tty; echo $((6*7))\r");
    let seen = term.read_until("42\r\n", Duration::from_secs(10)).expect("the answer");
    assert!(seen.contains("40 100\r\n/dev/pts/0\r\n"), "{seen:?}");
    term.resize(50, 120);
    // sbx passes the new size on when its SIGWINCH arrives: ask until the container sees it.
    let started = Instant::now();
    loop {
        term.type_text("stty size\r");
        if term.read_until("50 120\r\n", Duration::from_millis(500)).is_ok() {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the new size never reached the container");
    }
    term.type_text("exit 5\r");
    let status = sbx.wait().unwrap();
    assert_eq!(status.code(), Some(5));
    assert_eq!(term.settings(), before, "sbx restored its terminal");

    // exec -it into a running container, in the same terminal.
    assert_eq!(s.sbx(&["run", "-d", "--name", "box", "busybox", "sleep", "100"]).code, 0);
    let mut exec = term.spawn(s.command(&["exec", "-it", "box", "sh"]));
    term.read_until("/ # ", Duration::from_secs(10)).expect("a prompt");
    term.type_text("hostname; exit 6\r");
    let seen = term.read_until("exit 6\r\n", Duration::from_secs(10)).expect("the echo");
    assert!(!seen.contains("/dev/pts"), "{seen:?}");
    assert_eq!(exec.wait().unwrap().code(), Some(6));
    assert_eq!(term.settings(), before);
    assert_eq!(s.sbx(&["rm", "-f", "box"]).code, 0);
    s.assert_clean(0);
}

/// The processes of container `name` that are zombies, read through `sbx exec`.
fn zombies(s: &Sandbox, name: &str) -> usize {
    let r = s.sbx(&["exec", name, "ps", "-o", "stat"]);
    assert_eq!(r.code, 0, "{r:?}");
    r.stdout.lines().filter(|l| l.trim_start().starts_with('Z')).count()
}

#[test]
fn init_reaps_zombies_and_forwards_signals() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    // The orphaned `sleep 0.1` is handed to PID 1. A `sleep` as PID 1 never reaps it; the init does.
    let orphan = "(sleep 0.1 &); exec sleep 100";
    assert_eq!(s.sbx(&["run", "-d", "--name", "plain", "busybox", "sh", "-c", orphan]).code, 0);
    assert_eq!(s.sbx(&["run", "-d", "--init", "--name", "init", "busybox", "sh", "-c", orphan]).code, 0);
    wait_for("the orphan of the plain container to end", || zombies(&s, "plain") == 1);
    // Both orphans end at about the same time; under the init it is reaped as it ends.
    wait_for("the init to reap its orphan", || zombies(&s, "init") == 0);
    assert_eq!(zombies(&s, "plain"), 1, "without --init the orphan stays a zombie");
    let r = s.sbx(&["exec", "init", "sh", "-c", "cat /proc/1/comm; head -c 4 /proc/1/exe"]);
    assert_eq!(r.stdout, "sbx-init\n", "{r:?}");
    assert!(r.stderr.contains("Permission denied"), "sbx's binary is not reachable through the init: {r:?}");

    // sleep as PID 1 ignores SIGTERM (stop waits its grace period, then kills: 137); under the
    // init it gets the signal and dies of it (143).
    let started = Instant::now();
    assert_eq!(s.sbx(&["stop", "-t", "10", "init"]).code, 0);
    assert!(started.elapsed() < Duration::from_secs(5), "the init forwarded SIGTERM");
    assert_eq!(s.sbx(&["wait", "init"]).stdout, "143\n");
    assert_eq!(s.sbx(&["stop", "-t", "1", "plain"]).code, 0);
    assert_eq!(s.sbx(&["wait", "plain"]).stdout, "137\n");

    let r = s.sbx(&["run", "--rm", "--init", "busybox", "sh", "-c", "echo $$; exit 9"]);
    assert_eq!((r.code, r.stdout.as_str()), (9, "2\n"), "the command is PID 2, its code the container's: {r:?}");
    let r = s.sbx(&["run", "--rm", "--init", "busybox", "no-such-program"]);
    assert_eq!(r.code, 127, "{r:?}");
    assert!(r.stderr.contains("executable file not found"), "{r:?}");
    assert_eq!(s.sbx(&["rm", "plain", "init"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn sig_proxy_forwards_sbxs_signals_unless_told_not_to() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let trap = "trap 'echo got TERM; exit 42' TERM; echo ready; while true; do sleep 0.1; done";
    for (proxy, expect) in [("true", Some(42)), ("false", None)] {
        let name = format!("proxy-{proxy}");
        let flag = format!("--sig-proxy={proxy}");
        let mut cmd = s.command(&["run", "--name", &name, &flag, "busybox", "sh", "-c", trap]);
        let mut child = cmd.stdout(std::process::Stdio::piped()).spawn().unwrap();
        // Its trap is set once it says so.
        let mut out = std::io::BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        std::io::BufRead::read_line(&mut out, &mut line).unwrap();
        assert_eq!(line, "ready\n");
        // SAFETY: kill(2) takes two integers.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
        let status = child.wait().unwrap();
        let stdout = rest;
        assert_eq!(status.code(), expect, "--sig-proxy={proxy}: {status:?} {stdout}");
        assert_eq!(stdout.contains("got TERM"), expect.is_some(), "{stdout}");
        assert_eq!(s.sbx(&["rm", "-f", &name]).code, 0);
    }
    s.assert_clean(0);
}

#[test]
fn a_container_created_with_rm_goes_when_it_exits() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&["create", "--rm", "--name", "once", "busybox", "sh", "-c", "echo hi; exit 3"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.containers().len(), 1);
    let r = s.sbx(&["inspect", "once"]);
    assert!(r.stdout.contains("\"AutoRemove\": true"), "{r:?}");
    let r = s.sbx(&["start", "-a", "once"]);
    assert_eq!((r.code, r.stdout.as_str()), (3, "hi\n"), "{r:?}");
    s.assert_clean(0);
    let r = s.sbx(&["create", "--rm", "--name", "bg", "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.sbx(&["start", "bg"]).code, 0);
    wait_for("the detached container to be removed", || s.containers().is_empty());
    s.assert_clean(0);
}

#[test]
fn the_container_gets_no_signal_ignored_or_blocked_from_whoever_started_sbx() {
    if !is_root() {
        return;
    }
    use std::os::unix::process::CommandExt;
    let s = Sandbox::with_busybox();
    // As a shell's background job starts sbx: SIGINT and SIGQUIT ignored; SIGUSR1 blocked too.
    let mut cmd = s.command(&["run", "--rm", "busybox", "grep", "-E", "^Sig(Blk|Ign)", "/proc/self/status"]);
    // SAFETY: between fork and exec the closure only calls signal(2) and sigprocmask(2), which are
    // async-signal-safe, on a set on its own stack.
    unsafe {
        cmd.pre_exec(|| {
            libc::signal(libc::SIGINT, libc::SIG_IGN);
            libc::signal(libc::SIGQUIT, libc::SIG_IGN);
            let mut set: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut set);
            libc::sigaddset(&mut set, libc::SIGUSR1);
            libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
            Ok(())
        });
    }
    let out = cmd.output().expect("sbx runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    let mask = |field: &str| {
        let line = stdout.lines().find_map(|l| l.strip_prefix(field)).unwrap_or_else(|| panic!("{field} in {stdout}"));
        u64::from_str_radix(line.trim(), 16).unwrap()
    };
    let bit = |sig: i32| 1u64 << (sig - 1);
    // SIGPIPE: sbx ignores it itself. (Signal 32, glibc's own, which glibc's posix_spawn leaves
    // ignored in what it starts, as cargo starts this test, is left as it comes: glibc's signal()
    // refuses to change it, in crun as in sbx.)
    let ignored = bit(libc::SIGINT) | bit(libc::SIGQUIT) | bit(libc::SIGPIPE);
    assert_eq!(mask("SigIgn:") & ignored, 0, "{stdout}");
    assert_eq!(mask("SigBlk:"), 0, "{stdout}");
    s.assert_clean(0);
}
