//! `sbx run --policy` end to end with the real plugins compiled from policies/ and plugins/:
//! allow, deny with the plugin's reason and nothing left behind, and hostile plugins stopped.

use sbx_tests::harness::{Sandbox, is_root, plugin, plugin_arg, test_image};

#[test]
fn allowing_policies_run_the_container() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    s.load(&test_image("busybox").unwrap());
    let r = s.sbx(&[
        "run",
        "--rm",
        "--policy",
        &plugin_arg("allow-all"),
        "--policy",
        &plugin_arg("deny-setuid"),
        "--policy",
        &plugin_arg("max-layer-size"),
        "busybox",
        "echo",
        "ok",
    ]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "ok\n"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn deny_setuid_refuses_with_its_reason_and_leaves_nothing() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    s.load(&test_image("setuid").unwrap());
    for rm in [true, false] {
        let mut args = vec!["run"];
        if rm {
            args.push("--rm");
        }
        let (allow, deny) = (plugin_arg("allow-all"), plugin_arg("deny-setuid"));
        args.extend(["--policy", &allow, "--policy", &deny, "setuid", "echo", "must not run"]);
        let r = s.sbx(&args);
        assert_eq!(r.code, 125, "{r:?}");
        assert!(r.stdout.is_empty(), "the container never ran: {r:?}");
        assert!(r.stderr.contains("denied by policy deny-setuid"), "{r:?}");
        assert!(r.stderr.contains("adds 1 setuid/setgid file: /usr/bin/su (setuid, mode 4755)"), "{r:?}");
        s.assert_clean(0);
    }
    let r = s.sbx(&["run", "--rm", "setuid", "stat", "-c", "%a", "/usr/bin/su"]);
    assert_eq!(r.stdout, "4755\n", "without the policy it runs, and the bits were kept: {r:?}");
}

fn hostile(s: &Sandbox, behaviour: &str) -> sbx_tests::harness::Run {
    s.load_labelled(&format!("hostile-{behaviour}"), "sbx.test.hostile", behaviour);
    let started = std::time::Instant::now();
    let r = s.sbx(&[
        "run",
        "--rm",
        "--policy",
        &plugin_arg("test-hostile"),
        &format!("hostile-{behaviour}"),
        "echo",
        "must not run",
    ]);
    assert!(started.elapsed() < std::time::Duration::from_secs(20), "{behaviour}: stopped in time");
    assert_eq!(r.code, 125, "{behaviour}: {r:?}");
    assert!(r.stdout.is_empty(), "{behaviour}: {r:?}");
    assert!(r.stderr.contains("plugin test-hostile failed in check-image"), "{behaviour}: {r:?}");
    r
}

#[test]
fn hostile_plugins_are_stopped_and_deny() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let r = hostile(&s, "loop");
    assert!(r.stderr.contains("exceeded its time limit of 1000 ms"), "{r:?}");
    let r = hostile(&s, "grow");
    assert!(r.stderr.contains("exceeded its memory limit of 256 MiB"), "{r:?}");
    let r = hostile(&s, "trap");
    assert!(r.stderr.contains("trapped"), "{r:?}");
    let r = hostile(&s, "panic");
    assert!(r.stderr.contains("test-hostile panics as asked"), "the panic message is shown: {r:?}");
    let r = hostile(&s, "open");
    assert!(r.stderr.contains("cannot open /etc/passwd"), "no file is granted: {r:?}");
    s.assert_clean(0);
}

#[test]
fn a_policy_without_wasi_says_why_it_failed_and_is_stopped_in_time() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    // test-veto is built for wasm32-unknown-unknown, whose std prints nothing: the SDK sends its
    // panic's message of more than 10,000 bytes to sbx's `host.last-words`, one character a call.
    s.load_labelled("veto-panic", "sbx.test.veto", "panic");
    let r = s.sbx(&["run", "--rm", "--policy", &plugin_arg("test-veto"), "veto-panic", "echo", "must not run"]);
    assert_eq!((r.code, r.stdout.as_str()), (125, ""), "{r:?}");
    assert!(r.stderr.contains("plugin test-veto failed in check-image"), "{r:?}");
    assert!(r.stderr.contains("panicked at plugins/test-veto/src/lib.rs"), "{r:?}");
    assert!(r.stderr.contains("| test-veto panics as asked | xxxxxxxxxx"), "the panic message is shown: {r:?}");
    // Its calls run on sbx's own thread, without a fiber: the epoch deadline still stops a loop.
    s.load_labelled("veto-loop", "sbx.test.veto", "loop");
    let cfg =
        s.write_config(&format!("plugins:\n  - path: {}\n    limits: {{ time-ms: 300 }}\n", plugin_arg("test-veto")));
    let r = s.sbx(&["--config", &cfg, "run", "--rm", "veto-loop", "echo", "must not run"]);
    assert_eq!((r.code, r.stdout.as_str()), (125, ""), "{r:?}");
    assert!(r.stderr.contains("plugin test-veto failed in check-image: exceeded its time limit of 300 ms"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn malformed_plugins_are_refused_clearly() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    s.load(&test_image("busybox").unwrap());
    let random = s.scratch.join("random.wasm");
    std::fs::write(&random, (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect::<Vec<_>>())
        .unwrap();
    let module = s.scratch.join("module.wasm");
    std::fs::write(&module, b"\0asm\x01\0\0\0").unwrap();
    let truncated = s.scratch.join("truncated.wasm");
    let real = std::fs::read(plugin("allow-all")).unwrap();
    std::fs::write(&truncated, &real[..real.len() / 2]).unwrap();
    for (path, needle) in [
        (random.display().to_string(), "does not start with the WebAssembly header"),
        (module.display().to_string(), "is a core WebAssembly module, not a component"),
        (truncated.display().to_string(), "is not a valid WebAssembly component"),
        ("/nonexistent/p.wasm".to_string(), "cannot read plugin /nonexistent/p.wasm"),
        (plugin_arg("test-old-wit"), "was built for sbx:plugin@0.1.0, but this sbx speaks sbx:plugin@0.9.0"),
        (plugin_arg("test-not-a-plugin"), "is not an sbx plugin: it exports wasi:cli/run"),
    ] {
        let r = s.sbx(&["run", "--rm", "--policy", &path, "busybox", "echo", "must not run"]);
        assert_eq!(r.code, 125, "{r:?}");
        assert!(r.stderr.contains(needle), "{needle}: {r:?}");
        assert!(r.stdout.is_empty());
    }
    s.assert_clean(0);
}

#[test]
fn the_compile_cache_is_used_on_the_second_run() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    s.load(&test_image("busybox").unwrap());
    let cache = s.scratch.join("cache");
    let run = |args: &[&str], policy_cache: &str| -> sbx_tests::harness::Run {
        let mut cmd = s.command(args);
        cmd.env("SBX_PLUGIN_CACHE", &cache).env("SBX_POLICY_CACHE", policy_cache);
        cmd.output().unwrap().into()
    };
    let r = run(&["run", "--rm", "--policy", &plugin_arg("deny-setuid"), "busybox", "true"], "on");
    assert_eq!(r.code, 0, "{r:?}");
    let entries: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .collect();
    assert_eq!(entries.len(), 1, "one compiled component: {entries:?}");
    let mtime = entries[0].metadata().unwrap().modified().unwrap();
    // Without the decision cache, so that the plugin is loaded again.
    let r = run(&["run", "--rm", "--policy", &plugin_arg("deny-setuid"), "busybox", "true"], "off");
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(entries[0].metadata().unwrap().modified().unwrap(), mtime, "the cache entry was reused, not rewritten");
}

/// A compiled component in the cache that this sbx's engine refuses to map (here one compiled for
/// metered calls, put where the unmetered one belongs, as a cache shared with another machine
/// could hold one compiled for other CPU features) is compiled again, and the run goes on.
#[test]
fn a_compiled_component_the_engine_refuses_is_compiled_again() {
    if !is_root() {
        assert!(std::env::var_os("CI").is_none(), "the test runs as root under CI");
        return;
    }
    let s = Sandbox::new();
    s.load(&test_image("busybox").unwrap());
    let cache = s.scratch.join("cache");
    let compiled = || -> Vec<std::path::PathBuf> {
        let mut found: Vec<_> = std::fs::read_dir(&cache)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "cwasm"))
            .collect();
        found.sort_by_key(|p| p.metadata().unwrap().modified().unwrap());
        found
    };
    let run = |args: &[&str]| -> sbx_tests::harness::Run {
        let mut cmd = s.command(args);
        cmd.env("SBX_PLUGIN_CACHE", &cache).env("SBX_POLICY_CACHE", "off");
        cmd.output().unwrap().into()
    };
    let metered = s.write_config(&format!(
        "plugins:\n  - path: {}\n    limits: {{ fuel: 100000000 }}\n",
        plugin_arg("deny-setuid")
    ));
    let r = run(&["--config", &metered, "run", "--rm", "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = run(&["run", "--rm", "--policy", &plugin_arg("deny-setuid"), "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    let [fuel, plain] = <[_; 2]>::try_from(compiled()).expect("one component compiled two ways");
    std::fs::copy(&fuel, &plain).unwrap();
    let r = run(&["run", "--rm", "--policy", &plugin_arg("deny-setuid"), "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_ne!(std::fs::read(&plain).unwrap(), std::fs::read(&fuel).unwrap(), "compiled again");
    s.assert_clean(0);
}

/// Compiled components of other versions of sbx (another wasmtime, other settings) go: those unused
/// for a day when this sbx compiles something, the others with `sbx plugin prune`, and with
/// `--all` everything sbx keeps there; what sbx did not name stays, and runs go on working.
#[test]
fn the_compile_cache_is_pruned_of_what_other_versions_compiled() {
    if !is_root() {
        assert!(std::env::var_os("CI").is_none(), "the test runs as root under CI");
        return;
    }
    let s = Sandbox::new();
    s.load(&test_image("busybox").unwrap());
    let cache = s.scratch.join("cache");
    let sbx = |args: &[&str]| -> sbx_tests::harness::Run {
        let mut cmd = s.command(args);
        cmd.env("SBX_PLUGIN_CACHE", &cache).env("SBX_POLICY_CACHE", "off");
        cmd.output().unwrap().into()
    };
    let names = || -> Vec<String> {
        let mut n: Vec<_> =
            std::fs::read_dir(&cache).unwrap().flatten().map(|e| e.file_name().into_string().unwrap()).collect();
        n.sort();
        n
    };
    let r = sbx(&["run", "--rm", "--policy", &plugin_arg("deny-setuid"), "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    let ours = names().into_iter().find(|n| n.ends_with(".cwasm")).expect("a compiled component");
    let sha = &ours[..64];
    let put = |name: &str, age: &str| {
        std::fs::write(cache.join(name), vec![0u8; 1000]).unwrap();
        let touched = std::process::Command::new("touch").args(["-d", age]).arg(cache.join(name)).status().unwrap();
        assert!(touched.success());
    };
    let (old, old_lock, recent) = (
        format!("{sha}-0123456789abcdef.cwasm"),
        format!("{sha}-0123456789abcdef.lock"),
        format!("{sha}-fedcba9876543210.cwasm"),
    );
    put(&old, "3 days ago");
    put(&old_lock, "3 days ago");
    put(&recent, "1 hour ago");
    put("notes.txt", "3 days ago");

    // Compiling another plugin prunes what no one mapped for a day.
    let r = sbx(&["run", "--rm", "--policy", &plugin_arg("allow-all"), "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    let now = names();
    assert!(!now.contains(&old) && !now.contains(&old_lock), "{now:?}");
    assert!(now.contains(&recent) && now.contains(&ours) && now.contains(&"notes.txt".to_string()), "{now:?}");

    let r = sbx(&["plugin", "prune", "--force"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "Deleted compiled plugins: 1\nTotal reclaimed space: 1kB\n"), "{r:?}");
    let now = names();
    assert!(!now.contains(&recent) && now.contains(&ours), "{now:?}");
    let r = sbx(&["run", "--rm", "--policy", &plugin_arg("deny-setuid"), "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(names(), now, "the compiled plugins of this sbx were kept and used");

    let r = sbx(&["plugin", "prune", "--all", "--force"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.starts_with("Deleted compiled plugins: 2\n"), "{r:?}");
    assert_eq!(names(), ["notes.txt"], "only what sbx did not name stays");
    let r = sbx(&["run", "--rm", "--policy", &plugin_arg("deny-setuid"), "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    s.assert_clean(0);
}

/// The suites of the shipped policies (policies/*/tests.yaml) pass, run by a user without
/// privileges (nobody) on a copy of them, the plugins and sbx that only that user can write:
/// writing and testing a policy needs neither root nor a container.
#[test]
fn the_shipped_policies_pass_their_suites_as_an_unprivileged_user() {
    if !is_root() {
        assert!(std::env::var_os("CI").is_none(), "the test runs as root under CI (it becomes nobody)");
        return;
    }
    let s = Sandbox::new();
    let home = s.scratch.join("nobody");
    std::fs::create_dir_all(home.join("target/plugins")).unwrap();
    let sbx = home.join("sbx");
    std::fs::copy(sbx_tests::harness::sbx_bin(), &sbx).unwrap();
    let mut suites = Vec::new();
    for entry in std::fs::read_dir(sbx_tests::harness::workspace().join("policies")).unwrap() {
        let dir = entry.unwrap().path();
        let Some(name) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else { continue };
        if !dir.join("tests.yaml").exists() {
            continue;
        }
        let to = home.join("policies").join(&name);
        std::fs::create_dir_all(&to).unwrap();
        std::fs::copy(dir.join("tests.yaml"), to.join("tests.yaml")).unwrap();
        std::fs::copy(plugin(&name), home.join("target/plugins").join(format!("{name}.wasm"))).unwrap();
        suites.push(to.join("tests.yaml"));
    }
    assert!(suites.len() >= 5, "{suites:?}");
    let chown = std::process::Command::new("chown").args(["-R", "65534:65534"]).arg(&s.scratch).status().unwrap();
    assert!(chown.success());
    // The scratch directory's parents are root's 0755 directories: nobody reaches the copy only.
    let mut cmd = std::process::Command::new("setpriv");
    cmd.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"]).arg(&sbx).args(["policy", "test"]);
    for suite in &suites {
        cmd.arg("--suite").arg(suite);
    }
    let r: sbx_tests::harness::Run = cmd
        .env_clear()
        .env("HOME", &home)
        .env("SBX_ROOT", home.join("store"))
        .env("SBX_PLUGIN_CACHE", home.join("cache"))
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stdout.contains("FAIL") && r.stdout.ends_with(" passed, 0 failed\n"), "{r:?}");
    let passed: usize = r.stdout.lines().last().unwrap().split(' ').next().unwrap().parse().unwrap();
    assert_eq!(passed, r.stdout.lines().filter(|l| l.starts_with("ok ")).count(), "{r:?}");
}

/// A suite whose cases do not hold says which and why (a line each, or JSON) and exits 1; a suite
/// that cannot be read, or whose plugins cannot be loaded, is refused naming the file and the
/// fault, exit 125.
#[test]
fn failing_and_malformed_suites_are_reported_case_by_case() {
    let s = Sandbox::new();
    let suite = s.scratch.join("suite.yaml");
    let plugins = format!("plugins:\n  - path: {}\n", plugin("non-root").display());
    std::fs::write(
        &suite,
        format!(
            "{plugins}cases:\n\
             - name: right\n  image: {{ config: {{ User: '7' }} }}\n  expect: {{ verdict: allow }}\n\
             - name: wrong verdict\n  image: {{}}\n  expect: {{ verdict: allow }}\n\
             - name: wrong reason\n  image: {{}}\n  expect: {{ verdict: deny, reason: not said }}\n\
             - name: bad flags\n  image: {{}}\n  run: [--no-such-flag]\n  expect: {{ verdict: allow }}\n"
        ),
    )
    .unwrap();
    let path = suite.to_string_lossy().into_owned();
    let r = s.sbx(&["policy", "test", "--suite", &path]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains(&format!("ok   {path}: right\n")), "{r:?}");
    assert!(
        r.stdout.contains(&format!(
            "FAIL {path}: wrong verdict\n       expected allow, got denied by non-root: the container would run as root"
        )),
        "{r:?}"
    );
    assert!(r.stdout.contains("expected a reason with 'not said', got denied by non-root"), "{r:?}");
    assert!(r.stdout.contains("error: run: error: unexpected argument '--no-such-flag'"), "{r:?}");
    assert!(r.stdout.ends_with("1 passed, 3 failed\n"), "{r:?}");
    let r = s.sbx(&["policy", "test", "--format", "json", "--suite", &path]);
    assert_eq!(r.code, 1, "{r:?}");
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!((out["passed"].as_u64(), out["failed"].as_u64()), (Some(1), Some(3)), "{out}");
    let cases = &out["suites"][0]["cases"];
    assert_eq!(cases[1]["denied_by"], "non-root", "{out}");
    assert_eq!(cases[0]["passed"], true, "{out}");

    let case = "cases:\n- name: x\n  image: {}\n  expect: { verdict: allow }\n";
    let not_a_plugin = format!("plugins:\n  - path: {}\n{case}", plugin("test-not-a-plugin").display());
    let bad: [(&str, &str); 9] = [
        ("cases: []\n", "the suite has no cases"),
        ("cases:\n- name: x\n  image: {}\n  expect: {}\n", "case 'x' expects neither a verdict nor an error"),
        ("cases:\n- name: x\n  expect: { verdict: allow }\n", "case 'x' needs an image or a spec"),
        ("cases:\n- name: x\n  image: {}\n  expect: { verdict: perhaps }\n", "unknown variant `perhaps`"),
        ("cases:\n- name: x\n  image: {}\n  expct: {}\n", "unknown field `expct`"),
        (
            "plugins:\n  - path: nothere.wasm\n    limits: { time-ms: 0 }\ncases:\n- name: x\n  image: {}\n  expect: { verdict: allow }\n",
            "limits must be greater than 0",
        ),
        // What the cases cannot run without fails the suite once, not each case.
        (case, "no plugin to test: the suite names none (`plugins:`) and no --policy is given"),
        (
            &format!("plugins:\n  - path: nothere.wasm\n{case}"),
            "nothere.wasm: No such file or directory (os error 2) (build it first, or correct its path",
        ),
        (&not_a_plugin, "test-not-a-plugin.wasm is not an sbx plugin: it exports wasi:cli/run"),
    ];
    for (text, message) in bad {
        std::fs::write(&suite, text).unwrap();
        let r = s.sbx(&["policy", "test", "--suite", &path]);
        assert!(r.code == 125 && r.stderr.contains(&path) && r.stderr.contains(message), "{text}: {r:?}");
        assert!(!r.stdout.contains("FAIL"), "{text}: {r:?}");
    }
    std::fs::write(
        &suite,
        format!(
            "{plugins}cases:\n- name: x\n  image: {{}}\n  settings: {{ other: {{}} }}\n  expect: {{ verdict: deny }}\n"
        ),
    )
    .unwrap();
    let r = s.sbx(&["policy", "test", "--suite", &path]);
    assert!(
        r.code == 1 && r.stdout.contains("settings for 'other', which is not a plugin of the suite (non-root)"),
        "{r:?}"
    );
}
