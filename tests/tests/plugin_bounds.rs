//! Plugins bounded in everything, not only inside wasm code: a deadline that ends a sleep or a
//! blocking read in a host call, no symlinks planted in a granted directory, output bounded in size
//! and count and escaped, linear work for any number of changes, plugin files that must be regular
//! and not too big, export types checked at load, compilation bounded in time and done once per
//! machine, code that aborted wasmtime 48.0.8 trapping. Each case is a hostile plugin's behaviour
//! (plugins/test-hostile), file or edited component (`wasm_edit`).

use sbx_tests::harness::{Run, Sandbox, is_root, plugin, plugin_arg};
use sbx_tests::wasm_edit;
use std::time::{Duration, Instant};

fn hostile_image(s: &Sandbox, behaviour: &str) -> String {
    let name = format!("hostile-{behaviour}");
    s.load_labelled(&name, "sbx.test.hostile", behaviour);
    name
}

/// Runs the image of `behaviour` with test-hostile under `config` (a YAML file) or `--policy`;
/// returns what sbx said and how long it took.
fn run_hostile(s: &Sandbox, behaviour: &str, config: Option<&str>) -> (Run, Duration) {
    let image = hostile_image(s, behaviour);
    let policy = plugin_arg("test-hostile");
    // Its logs and findings are info: shown at that level.
    let mut args = vec!["--log-level", "info"];
    match config {
        Some(c) => args.extend(["--config", c, "run", "--rm"]),
        None => args.extend(["run", "--rm", "--policy", &policy]),
    }
    args.push(&image);
    let started = Instant::now();
    let r = s.sbx_within(Duration::from_secs(60), &args);
    (r, started.elapsed())
}

/// test-hostile with a read-write grant of `dir` at /grant.
fn granted(s: &Sandbox, dir: &std::path::Path) -> String {
    s.write_config(&format!(
        "plugins:\n  - path: {}\n    preopens: [{{ host: {}, guest: /grant, mode: rw }}]\n",
        plugin_arg("test-hostile"),
        dir.display()
    ))
}

#[test]
fn blocking_host_calls_end_at_the_deadline() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let (r, took) = run_hostile(&s, "sleep", None);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("exceeded its time limit of 1000 ms waiting in a host call"), "{r:?}");
    assert!(took < Duration::from_secs(4), "a 5 s sleep under a 1 s limit took {took:?}");

    let grant = s.scratch.join("grant");
    std::fs::create_dir(&grant).unwrap();
    let fifo = grant.join("fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    // The open blocks on sbx's thread until the deadline's signal interrupts it; the plugin's code
    // then traps at its next check.
    let (r, took) = run_hostile(&s, "fifo", Some(&granted(&s, &grant)));
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("test-hostile failed in check-image: exceeded its time limit of 1000 ms"), "{r:?}");
    assert!(took < Duration::from_secs(4), "reading a FIFO that never ends took {took:?}");
    s.assert_clean(0);
}

#[test]
fn a_plugin_cannot_plant_symlinks_in_its_granted_directory() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let grant = s.scratch.join("grant");
    std::fs::create_dir(&grant).unwrap();
    let (r, _) = run_hostile(&s, "symlink", Some(&granted(&s, &grant)));
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("could not make the symlink") && r.stderr.contains("not-permitted"), "{r:?}");
    assert!(std::fs::symlink_metadata(grant.join("link")).is_err(), "no link was made");
    s.assert_clean(0);
}

#[test]
fn what_a_plugin_says_is_bounded_and_escaped() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let (r, _) = run_hostile(&s, "long-reason", None);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.len() < 8192 && r.stderr.contains("more bytes)"), "a 100 MB reason: {} bytes", r.stderr.len());

    let (r, _) = run_hostile(&s, "forge", None);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(!r.stderr.lines().any(|l| l.starts_with("sbx: policy deny-setuid")), "a forged line: {r:?}");
    assert!(!r.stderr.contains('\u{1b}') && !r.stderr.contains('\u{202e}'), "{r:?}");
    assert!(r.stderr.contains("no\\nsbx: policy deny-setuid: allowed\\u{1b}[2J\\u{202e}"), "{r:?}");

    let (r, _) = run_hostile(&s, "logs", None);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.lines().count() < 100, "a million log lines: {} shown", r.stderr.lines().count());
    assert!(r.stderr.contains("more than 64 log lines in one call; the rest are dropped"), "{r:?}");

    let (r, _) = run_hostile(&s, "findings", None);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stderr.lines().count() < 100, "a million findings: {} lines", r.stderr.lines().count());
    assert!(r.stderr.contains("... and 999936 more findings"), "{r:?}");

    let (r, took) = run_hostile(&s, "many-adjustments", None);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("asked for 30000 changes; a policy may ask for at most 1024"), "{r:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    s.assert_clean(0);
}

#[test]
fn plugin_files_are_regular_bounded_and_typed_as_the_wit_says() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let fifo = s.scratch.join("plugin.wasm");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let fifo = fifo.display().to_string();
    let wrong = plugin_arg("test-wrong-types");
    for (path, said) in [
        ("/dev/zero", "plugin /dev/zero is a character device, not a regular file"),
        (fifo.as_str(), "is a FIFO, not a regular file"),
        (wrong.as_str(), "whose functions are missing or have other types than sbx:plugin@0.9.0"),
    ] {
        let r = s.sbx_within(Duration::from_secs(20), &["run", "--rm", "--policy", path, "busybox", "true"]);
        assert_eq!(r.code, 125, "{path}: {r:?}");
        assert!(r.stderr.contains(said), "{path}: {r:?}");
    }
    let r = s.sbx(&["run", "--rm", "--policy", &wrong, "busybox", "true"]);
    assert!(r.stderr.contains("validate-spec"), "the function is named: {r:?}");
    s.assert_clean(0);
}

#[test]
fn compiling_is_bounded_in_time_and_done_once_per_machine() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let cache = s.scratch.join("cache");
    let slow = s
        .write_config(&format!("plugins:\n  - path: {}\n    limits: {{ compile-ms: 1 }}\n", plugin_arg("deny-setuid")));
    let r: Run = s
        .command(&["--config", &slow, "run", "--rm", "busybox", "true"])
        .env("SBX_PLUGIN_CACHE", &cache)
        .output()
        .unwrap()
        .into();
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("compiling plugin") && r.stderr.contains("took longer than 0.001 s"), "{r:?}");

    // Twenty processes that load a plugin new to the machine at once: one compiles it.
    let plugin = plugin_arg("max-layer-size");
    let children: Vec<_> = (0..20)
        .map(|_| {
            s.command(&["plugin", "inspect", &plugin])
                .env("SBX_PLUGIN_CACHE", &cache)
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let outputs: Vec<Run> = children.into_iter().map(|c| c.wait_with_output().unwrap().into()).collect();
    assert!(outputs.iter().all(|r| r.code == 0), "{outputs:?}");
    let compiled = outputs.iter().filter(|r| r.stdout.contains("compiled now")).count();
    assert_eq!(compiled, 1, "{outputs:?}");
    s.assert_clean(0);
}

#[test]
fn a_plugin_whose_indirect_call_needs_a_subtype_check_traps_and_sbx_lives() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let hostile = s.scratch.join("subtype-check.wasm");
    let allow_all = std::fs::read(plugin("allow-all")).unwrap();
    std::fs::write(&hostile, wasm_edit::with_subtype_check_at_start(&allow_all).unwrap()).unwrap();
    let path = hostile.display().to_string();
    let r = s.sbx_within(Duration::from_secs(60), &["run", "--rm", "--policy", &path, "busybox", "true"]);
    // wasmtime 48.0.8 aborted sbx here (a panic in its subtype check, exit by SIGABRT).
    assert_eq!(r.code, 125, "sbx's own failure, not an abort: {r:?}");
    let said = "plugin subtype-check failed in validate-settings: trapped: wasm trap: indirect call type mismatch";
    assert!(r.stderr.contains(said), "{r:?}");
    s.assert_clean(0);
}
