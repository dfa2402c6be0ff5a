//! The plugin configuration (YAML) end to end: settings, order, monitor mode, on-error, limits,
//! `sbx config check`, and errors that name the file, line and column.

use sbx_tests::harness::{Sandbox, is_root, plugin, plugin_arg, test_image};

#[test]
fn settings_reach_the_plugin() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    s.load(&test_image("setuid").unwrap());
    let strict = s.write_config(&format!("plugins:\n  - path: {}\n", plugin_arg("deny-setuid")));
    let r = s.sbx(&["--config", &strict, "run", "--rm", "setuid", "true"]);
    assert_eq!(r.code, 125, "{r:?}");
    let allowing = s.write_config(&format!(
        "plugins:\n  - path: {}\n    settings:\n      allow: [usr/bin/su]\n",
        plugin_arg("deny-setuid")
    ));
    let r = s.sbx(&["--config", &allowing, "run", "--rm", "setuid", "echo", "allowed"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "allowed\n"), "{r:?}");
    s.assert_clean(0);
}

/// The `settled-*` entries of a plugin cache: the settings plugins accepted, remembered.
fn settled(cache: &std::path::Path) -> Vec<String> {
    let names = std::fs::read_dir(cache).map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()));
    let mut settled: Vec<String> = names.into_iter().flatten().filter(|n| n.starts_with("settled-")).collect();
    settled.sort();
    settled
}

#[test]
fn accepted_settings_are_remembered_and_only_they() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    s.load(&test_image("setuid").unwrap());
    let cache = s.scratch.join("plugin-cache");
    let run = |cfg: &str| {
        let out = s
            .command(&["--config", cfg, "run", "--rm", "setuid", "echo", "ran"])
            .env("SBX_PLUGIN_CACHE", &cache)
            .env("SBX_POLICY_CACHE", "off")
            .output();
        sbx_tests::harness::Run::from(out.expect("running sbx"))
    };
    let refused =
        s.write_config(&format!("plugins:\n  - path: {}\n    settings: {{ alow: [] }}\n", plugin_arg("deny-setuid")));
    let r = run(&refused);
    assert!(r.code == 125 && r.stderr.contains("refused its settings"), "{r:?}");
    assert_eq!(settled(&cache), Vec::<String>::new(), "a refusal is asked again, not remembered");

    let allowing = s.write_config(&format!(
        "plugins:\n  - path: {}\n    settings:\n      allow: [usr/bin/su]\n",
        plugin_arg("deny-setuid")
    ));
    let r = run(&allowing);
    assert_eq!((r.code, r.stdout.as_str()), (0, "ran\n"), "{r:?}");
    let remembered = settled(&cache);
    assert_eq!(remembered.len(), 1, "{remembered:?}");
    // Asked again with the same settings, the plugin is not asked to check them: its checks are.
    let r = run(&allowing);
    assert_eq!((r.code, r.stdout.as_str(), settled(&cache)), (0, "ran\n", remembered.clone()), "{r:?}");
    let strict = s.write_config(&format!("plugins:\n  - path: {}\n", plugin_arg("deny-setuid")));
    for _ in 0..2 {
        let r = run(&strict);
        assert!(r.code == 125 && r.stderr.contains("/usr/bin/su"), "the checks are asked every time: {r:?}");
    }
    assert_eq!(settled(&cache).len(), 2, "other settings, another answer");

    // A plugin granted a directory may read it in its settings check: never remembered.
    std::fs::create_dir_all(s.scratch.join("granted")).unwrap();
    let granted = s.write_config(&format!(
        "plugins:\n  - path: {}\n    settings:\n      allow: [usr/bin/su]\n    preopens: [{{ host: {}, guest: /g }}]\n",
        plugin_arg("deny-setuid"),
        s.scratch.join("granted").display()
    ));
    let r = run(&granted);
    assert_eq!((r.code, settled(&cache).len()), (0, 2), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn monitor_mode_reports_and_runs() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    s.load(&test_image("setuid").unwrap());
    let cfg = s.write_config(&format!("plugins:\n  - path: {}\n    mode: monitor\n", plugin_arg("deny-setuid")));
    let r = s.sbx(&["--config", &cfg, "run", "--rm", "setuid", "echo", "ran"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "ran\n"), "{r:?}");
    assert!(
        r.stderr.contains("sbx: policy deny-setuid: layer 1: would deny: ") && r.stderr.contains("/usr/bin/su"),
        "{r:?}"
    );
    s.assert_clean(0);
}

fn hostile_image(s: &Sandbox, behaviour: &str) -> String {
    let name = format!("hostile-{behaviour}");
    s.load_labelled(&name, "sbx.test.hostile", behaviour);
    name
}

#[test]
fn on_error_allow_and_limits_from_the_config() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let trap = hostile_image(&s, "trap");
    let cfg = s.write_config(&format!("plugins:\n  - path: {}\n    on-error: allow\n", plugin_arg("test-hostile")));
    let r = s.sbx(&["--config", &cfg, "run", "--rm", &trap, "echo", "ran"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "ran\n"), "fail open when asked: {r:?}");
    assert!(r.stderr.contains("sbx: policy test-hostile: ignored failure: ") && r.stderr.contains("trapped"), "{r:?}");
    // The trapped instance is not entered again: the later checks run in a fresh one and pass.
    assert_eq!(r.stderr.matches("ignored failure").count(), 1, "{r:?}");

    let looping = hostile_image(&s, "loop");
    let cfg = s
        .write_config(&format!("plugins:\n  - path: {}\n    limits: {{ time-ms: 100 }}\n", plugin_arg("test-hostile")));
    let started = std::time::Instant::now();
    let r = s.sbx(&["--config", &cfg, "run", "--rm", &looping, "true"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("exceeded its time limit of 100 ms"), "{r:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));

    let cfg = s.write_config(&format!(
        "plugins:\n  - path: {}\n    limits: {{ fuel: 1000000 }}\n",
        plugin_arg("test-hostile")
    ));
    let r = s.sbx(&["--config", &cfg, "run", "--rm", &looping, "true"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("ran out of its fuel of 1000000 instructions"), "{r:?}");

    let growing = hostile_image(&s, "grow");
    let cfg = s.write_config(&format!(
        "plugins:\n  - path: {}\n    limits: {{ memory-mib: 16 }}\n",
        plugin_arg("test-hostile")
    ));
    let r = s.sbx(&["--config", &cfg, "run", "--rm", &growing, "true"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("exceeded its memory limit of 16 MiB"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn config_check_loads_every_plugin() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let good = s.write_config(&format!(
        "plugins:\n  - path: {}\n  - path: {}\n    settings: {{ max_bytes: 1000 }}\n",
        plugin_arg("deny-setuid"),
        plugin_arg("max-layer-size")
    ));
    let r = s.sbx(&["config", "check", &good]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains("deny-setuid") && r.stdout.contains("max-layer-size") && r.stdout.contains("2 plugins ok"),
        "{r:?}"
    );

    let bad = s.write_config(&format!(
        "plugins:\n  - path: {}\n    settings: {{ alow: [] }}\n  - path: {}\n    settings: {{ max_bytes: 0 }}\n",
        plugin_arg("deny-setuid"),
        plugin_arg("max-layer-size")
    ));
    let r = s.sbx(&["config", "check", &bad]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(
        r.stdout.contains("plugin deny-setuid refused its settings: invalid settings: unknown field `alow`"),
        "{r:?}"
    );
    assert!(r.stdout.contains("plugin max-layer-size refused its settings: max_bytes must be greater than 0"), "{r:?}");
    assert!(r.stderr.contains("2 of 2 plugins failed to load"), "{r:?}");
}

#[test]
fn yaml_errors_name_file_line_and_column() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    s.load(&test_image("busybox").unwrap());
    let cfg = s.write_config("plugins:\n  - path: x.wasm\n    mode: strict\n");
    let r = s.sbx(&["--config", &cfg, "run", "--rm", "busybox", "true"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains(&format!("{cfg}:3:11: ")) && r.stderr.contains("unknown variant `strict`"), "{r:?}");
    let r = s.sbx(&["--config", "/nonexistent/sbx.yaml", "run", "--rm", "busybox", "true"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("cannot read config /nonexistent/sbx.yaml"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn policy_test_shows_every_answer_without_running() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    s.load(&test_image("setuid").unwrap());
    let r = s.sbx(&[
        "policy",
        "test",
        "--policy",
        &plugin_arg("allow-all"),
        "--policy",
        &plugin_arg("deny-setuid"),
        "setuid",
    ]);
    assert_eq!(r.code, 1, "denied: {r:?}");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("PLUGIN") && lines[0].contains("VERDICT"), "{r:?}");
    assert!(
        lines.iter().any(|l| l.starts_with("deny-setuid")
            && l.contains("layer 1")
            && l.contains("deny")
            && l.contains("/usr/bin/su")),
        "{r:?}"
    );
    assert!(lines.last().unwrap().starts_with("denied by deny-setuid: "), "{r:?}");
    assert!(s.containers().is_empty(), "nothing ran");

    let r = s.sbx(&["policy", "test", "--format", "json", "--policy", &plugin_arg("allow-all"), "setuid"]);
    assert_eq!(r.code, 0, "{r:?}");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["allowed"], true);
    let answers = v["answers"].as_array().unwrap();
    assert_eq!(answers.len(), 5, "image + 2 layers + mutate + validate: {v}");
    assert_eq!((answers[3]["check"].as_str(), answers[4]["check"].as_str()), (Some("mutate"), Some("validate")));
    assert_eq!(answers[1]["check"], "layer 0");
    assert_eq!(answers[1]["verdict"], "mount");
    s.assert_clean(0);
}

/// `sbx plugin bench` loads a plugin as the configuration names it (its directories, settings and
/// limits), and says when the hook it timed denied: audit-log given no directory times its denial.
#[test]
fn plugin_bench_loads_the_plugin_as_configured_and_names_a_denial() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let bench = |config: Option<&str>, plugin: &str| -> sbx_tests::harness::Run {
        let mut args = config.map_or(Vec::new(), |c| vec!["--config", c]);
        let plugin = plugin_arg(plugin);
        args.extend(["plugin", "bench", "--calls", "3", "--entries", "10", &plugin]);
        s.sbx(&args)
    };
    let r = bench(None, "deny-setuid");
    assert_eq!(r.code, 0, "{r:?}");
    for line in ["compile:", "cached load:", "call:", "fresh call:", "layer check:", "(10 entries)", "spec check:"] {
        assert!(r.stdout.contains(line), "{line}: {r:?}");
    }
    // The checks are timed whole; what a run asks of deny-setuid is said below them.
    assert!(r.stdout.contains("a run asks:    check-layer (the entries with mode bits 06000)\n"), "{r:?}");
    assert!(!r.stdout.contains("hook:"), "a policy has no hook: {r:?}");

    let r = bench(None, "audit-log");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("hook:"), "{r:?}");
    assert!(!r.stdout.contains("a run asks:"), "a hook plugin has no policy to ask: {r:?}");
    assert!(
        r.stdout.contains("the hook denied, so this is the time of its denial: cannot append to /audit/audit.jsonl"),
        "{r:?}"
    );

    let audit = s.scratch.join("audit");
    std::fs::create_dir_all(&audit).unwrap();
    // The configuration names the same file another way.
    let named = plugin("audit-log").parent().unwrap().join("../plugins/audit-log.wasm");
    let cfg = s.write_config(&format!(
        "plugins:\n  - path: {}\n    preopens: [{{ host: {}, guest: /audit, mode: rw }}]\n",
        named.display(),
        audit.display()
    ));
    let r = bench(Some(&cfg), "audit-log");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("hook:") && !r.stdout.contains("denied"), "{r:?}");
    let lines = sbx_tests::harness::json_lines(&audit.join("audit.jsonl"));
    assert_eq!(lines.len(), 3, "one record a timed call: {lines:?}");
    assert!(lines.iter().all(|l| l["event"] == "poststart"), "{lines:?}");
    s.assert_clean(0);
}

#[test]
fn plugin_inspect_tells_version_interfaces_and_cache() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    // A compile cache of this test's own, so that what it finds there is what it put there.
    let cache = s.scratch.join("cache");
    let inspect = |plugin: &str| -> sbx_tests::harness::Run {
        s.command(&["plugin", "inspect", &plugin_arg(plugin)]).env("SBX_PLUGIN_CACHE", &cache).output().unwrap().into()
    };
    let r = inspect("deny-setuid");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("wit:       sbx:plugin@0.9.0"), "{r:?}");
    assert!(r.stdout.contains("exports:   sbx:plugin/config@0.9.0, sbx:plugin/policy@0.9.0"), "{r:?}");
    assert!(r.stdout.contains("kind:      policy\n"), "{r:?}");
    // Built for wasm32-unknown-unknown: nothing of WASI; a panic's message goes to host.last-words.
    assert!(r.stdout.contains("imports:   sbx:plugin/types@0.9.0, sbx:plugin/host@0.9.0\n"), "{r:?}");
    // What a run would ask it, given no settings: its own `wants`.
    assert!(r.stdout.contains("wants:     check-layer (the entries with mode bits 06000)\n"), "{r:?}");
    let r = inspect("allow-all");
    assert!(
        r.stdout.contains("wants:     check-image, check-layer (every entry), mutate-spec, validate-spec\n"),
        "{r:?}"
    );
    let r = inspect("require-labels");
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("wants:     not known (given no settings, plugin require-labels refused its settings: invalid settings: missing field `labels`"), "{r:?}");
    let r = inspect("audit-log");
    assert!(r.stdout.contains("kind:      hooks\n") && !r.stdout.contains("wants:"), "{r:?}");
    let r = inspect("test-veto");
    assert!(r.stdout.contains("kind:      policy and hooks\n"), "{r:?}");
    assert!(r.stdout.contains("compiled now"), "{r:?}");
    let r = inspect("deny-setuid");
    assert!(r.stdout.contains("from the compile cache"), "{r:?}");
    let r = s.sbx(&["plugin", "inspect", "/nonexistent.wasm"]);
    assert_eq!(r.code, 125, "{r:?}");
}
