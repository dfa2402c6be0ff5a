//! Policies and hooks written in Python and JavaScript (plugins/sdk-python, plugins/sdk-js), built
//! by plugins/build.sh, side by side with the Rust ones: the same suites with the same verdicts
//! and messages, the same answers in real runs, hooks that see the same events, and their
//! exceptions, wrong answers and refused settings reported with the language's own lines.

use sbx_tests::harness::{Sandbox, is_root, lang_plugin, plugin, plugin_arg, test_image, workspace};
use sbx_tests::image::{Image, busybox};
use std::path::Path;

const LANGS: [&str; 2] = ["python", "js"];
/// The shipped Rust policies that each language mirrors.
const MIRRORED: [&str; 2] = ["require-labels", "deny-setuid"];

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// What the suite of the shipped policy `name` (policies/NAME/tests.yaml) gives with the component
/// `wasm` in its place: every case's answers, as `sbx policy test --format json` reports them.
fn suite_answers(s: &Sandbox, name: &str, wasm: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(workspace().join("policies").join(name).join("tests.yaml")).unwrap();
    let shipped = format!("../../target/plugins/{name}.wasm");
    assert!(text.contains(&shipped), "{name}'s suite names {shipped}");
    let suite =
        s.scratch.join(format!("{name}-{}.yaml", wasm.parent().unwrap().file_name().unwrap().to_string_lossy()));
    std::fs::write(&suite, text.replace(&shipped, &path(wasm))).unwrap();
    let r = s.sbx(&["policy", "test", "--format", "json", "--suite", &path(&suite)]);
    assert_eq!(r.code, 0, "{}: {r:?}", wasm.display());
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(out["failed"], 0, "{r:?}");
    out["suites"][0]["cases"].clone()
}

/// No root and no container: a suite loads the plugins and runs their checks only.
#[test]
fn python_and_js_policies_give_the_rust_policies_answers_on_their_suites() {
    let s = Sandbox::new();
    for name in MIRRORED {
        let rust = suite_answers(&s, name, &plugin(name));
        assert!(rust.as_array().unwrap().len() >= 4, "{rust}");
        // Each policy is asked only the check it implements (the Rust one says so, the Python
        // and JS SDKs find out), so these flags hold for every language.
        let wanted = if name == "require-labels" { "image" } else { "layer" };
        for answer in rust.as_array().unwrap().iter().flat_map(|c| c["answers"].as_array().unwrap()) {
            let check = answer["check"].as_str().unwrap();
            assert_eq!(answer["asked"], check.starts_with(wanted), "{name}: {answer}");
        }
        for lang in LANGS {
            // Every case's verdict, reason, denier, findings and skipped layers, word for word.
            assert_eq!(suite_answers(&s, name, &lang_plugin(lang, name)), rust, "{lang} {name}");
        }
    }
}

#[test]
fn a_python_or_js_policy_denies_a_real_run_as_the_rust_one_does() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    s.load(&test_image("setuid").unwrap());
    let denial = |wasm: String| {
        let r = s.sbx(&["run", "--rm", "--policy", &wasm, "setuid", "echo", "must not run"]);
        assert_eq!(r.code, 125, "{wasm}: {r:?}");
        assert!(r.stdout.is_empty(), "{r:?}");
        s.assert_clean(0);
        // But the note of a first compile, which depends on the tests run before.
        r.stderr.lines().filter(|l| !l.starts_with("sbx: compiling plugin ")).collect::<Vec<_>>().join("\n")
    };
    let rust = denial(plugin_arg("deny-setuid"));
    assert!(rust.contains("adds 1 setuid/setgid file: /usr/bin/su (setuid, mode 4755)"), "{rust}");
    for lang in LANGS {
        assert_eq!(denial(path(&lang_plugin(lang, "deny-setuid"))), rust, "{lang}");
        // Allowed by its settings, the file is kept and the run goes on.
        let cfg = s.write_config(&format!(
            "plugins:\n  - path: {}\n    settings: {{ allow: [usr/bin/su] }}\n",
            path(&lang_plugin(lang, "deny-setuid"))
        ));
        let r = s.sbx(&["--config", &cfg, "run", "--rm", "setuid", "stat", "-c", "%a", "/usr/bin/su"]);
        assert_eq!((r.code, r.stdout.as_str()), (0, "4755\n"), "{lang}: {r:?}");
    }
    s.assert_clean(0);
}

/// Settings are parsed as serde parses the Rust plugins' (unknown fields, wrong types and missing
/// fields refused at load, naming the field), and a plugin's own validation speaks for it.
#[test]
fn python_and_js_plugins_refuse_bad_settings_at_load_naming_the_field() {
    let s = Sandbox::new();
    for lang in LANGS {
        let cases = [
            ("deny-setuid", "{ alow: [] }", "unknown field `alow`"),
            ("deny-setuid", "{ allow: usr/bin/su }", "`allow` must be an array"),
            ("require-labels", "{}", "missing field `labels`"),
            ("require-labels", "{ labels: {} }", "labels lists no label to require"),
        ];
        for (name, settings, message) in cases {
            let suite = s.scratch.join(format!("settings-{lang}.yaml"));
            let wasm = path(&lang_plugin(lang, name));
            std::fs::write(
                &suite,
                format!("plugins:\n  - path: {wasm}\n    settings: {settings}\ncases:\n  - {{ name: any, image: {{}}, expect: {{ verdict: allow }} }}\n"),
            )
            .unwrap();
            let r = s.sbx(&["policy", "test", "--suite", &path(&suite)]);
            assert_eq!(r.code, 1, "{lang} {name} {settings}: {r:?}");
            assert!(r.stdout.contains(&format!("plugin {name} refused its settings: ")), "{lang} {settings}: {r:?}");
            assert!(r.stdout.contains(message), "{lang} {settings}: {r:?}");
        }
    }
}

/// An exception denies (sbx fails closed) with the traceback as Python prints it or the error
/// and its frames as JavaScript gives them; an answer of the wrong shape is named. The cases are
/// the suites plugins/test-errors/{python,js}.yaml; a real run shows the same.
#[test]
fn exceptions_and_wrong_answers_fail_closed_with_the_languages_own_report() {
    let s = Sandbox::new();
    for lang in LANGS {
        let suite = workspace().join("plugins/test-errors").join(format!("{lang}.yaml"));
        let r = s.sbx(&["policy", "test", "--suite", &path(&suite)]);
        assert_eq!(r.code, 0, "{lang}: {r:?}");
        assert!(r.stdout.ends_with("3 passed, 0 failed\n"), "{r:?}");
    }
    if !is_root() {
        return;
    }
    let image = Image::new("raises:latest", vec![busybox().unwrap()])
        .with_config(serde_json::json!({ "Cmd": ["true"], "Labels": { "sbx.test.error": "raise" } }));
    s.load(&image);
    let expected = [
        ("python", "File \"/0/policy.py\", line 8, in owner | KeyError: 'team'"),
        ("js", "Uncaught TypeError: can't access property \"toUpperCase\", team is undefined | owner@"),
    ];
    for (lang, words) in expected {
        let r = s.sbx(&["run", "--rm", "--policy", &path(&lang_plugin(lang, "test-errors")), "raises"]);
        assert_eq!(r.code, 125, "{lang}: {r:?}");
        assert!(r.stderr.contains("plugin test-errors failed in check-image"), "{lang}: {r:?}");
        assert!(r.stderr.contains(words), "{lang}: {r:?}");
        s.assert_clean(0);
    }
}

/// The Python audit-log hook writes the same records as the Rust one, in the directory granted.
#[test]
fn the_python_audit_log_hook_records_every_event_as_the_rust_one() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let mut records = Vec::new();
    for wasm in [plugin("audit-log"), lang_plugin("python", "audit-log")] {
        let audit = s.scratch.join(format!("audit-{}", records.len()));
        std::fs::create_dir_all(&audit).unwrap();
        let cfg = s.write_config(&format!(
            "plugins:\n  - path: {}\n    preopens: [{{ host: {}, guest: /audit, mode: rw }}]\n",
            path(&wasm),
            path(&audit)
        ));
        let r = s.sbx(&["--config", &cfg, "run", "--name", "audited", "busybox", "sh", "-c", "exit 7"]);
        assert_eq!(r.code, 7, "{r:?}");
        let r = s.sbx(&["--config", &cfg, "rm", "audited"]);
        assert_eq!(r.code, 0, "{r:?}");
        records.push(sbx_tests::harness::json_lines(&audit.join("audit.jsonl")));
    }
    let (rust, python) = (&records[0], &records[1]);
    let events = |lines: &[serde_json::Value]| -> Vec<(String, String)> {
        lines.iter().map(|l| (l["event"].as_str().unwrap().into(), l["status"].as_str().unwrap().into())).collect()
    };
    assert_eq!(events(python), events(rust));
    assert_eq!(events(python).len(), 5, "create, prestart, poststart, exit, remove: {python:?}");
    for (p, r) in python.iter().zip(rust) {
        // The same fields with the same values, but the two containers' ids and pids.
        let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(p), keys(r));
        for key in [
            "event",
            "name",
            "image",
            "image_digest",
            "args",
            "user",
            "status",
            "exit_code",
            "signal",
            "oom_killed",
            "privileged",
            "capabilities",
        ] {
            assert_eq!(p[key], r[key], "{key}: {p} against {r}");
        }
        assert_eq!(p["id"].as_str().unwrap().len(), 64);
    }
    assert_eq!(python[3]["exit_code"], 7);
    // At create both asked sbx for the rest of the spec: what the container may do.
    assert_eq!(python[0]["privileged"], false, "{python:?}");
    assert!(python[0]["capabilities"].as_array().is_some_and(|c| c.iter().any(|c| c == "CAP_CHOWN")), "{python:?}");
    assert!(python[1].get("capabilities").is_none(), "only at create: {python:?}");
    s.assert_clean(0);
}

/// The JavaScript log-events hook logs every event through sbx and can stop a container at create.
#[test]
fn the_js_log_events_hook_logs_each_event_and_can_stop_a_root_container() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let hook = path(&lang_plugin("js", "log-events"));
    let r = s.sbx(&["--log-level", "info", "run", "--rm", "--name", "logged", "--hook", &hook, "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    let logged: Vec<&str> = r.stderr.lines().filter(|l| l.contains("plugin log-events: info: ")).collect();
    let events: Vec<&str> =
        logged.iter().map(|l| l.split("info: ").nth(1).unwrap().split(' ').next().unwrap()).collect();
    assert_eq!(events, ["create", "prestart", "poststart", "exit", "remove"], "{r:?}");
    assert!(logged[3].ends_with("logged (busybox: true) uid 0: exited 0"), "{r:?}");
    // At create it asked sbx for the rest of the spec: the container's capabilities.
    assert!(
        logged[0].contains("logged (busybox: true) uid 0, ") && logged[0].ends_with(" capabilities: created"),
        "{r:?}"
    );
    let cfg = s.write_config(&format!(
        "plugins:\n  - path: {hook}\n    settings: {{ deny-root-create: true, level: debug }}\n"
    ));
    let r = s.sbx(&["--config", &cfg, "run", "--rm", "--name", "root", "busybox", "echo", "must not run"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(
        r.stderr.contains(
            "stopped by plugin log-events at create: container root would run as root (uid 0); run it with --user"
        ),
        "{r:?}"
    );
    let r = s.sbx(&["--config", &cfg, "run", "--rm", "--user", "1000", "busybox", "echo", "ran"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "ran\n"), "{r:?}");
    s.assert_clean(0);
}

fn missing_toolchain_message(lang: &str) -> Option<&'static str> {
    match lang {
        "python" => Some("Python plugins need python3 with venv: apt-get install -y python3-venv python3-pip"),
        "js" => Some("JavaScript plugins need Node.js and npm: apt-get install -y nodejs npm"),
        _ => None,
    }
}

/// `sbx plugin new` writes a skeleton in each language that builds with its own build.sh (Rust's
/// without WASI) and passes its own suite (and, without its toolchain, says what to install); bad
/// names, taken directories and a missing Rust SDK are refused.
#[test]
fn plugin_new_skeletons_build_and_pass_their_suites_in_each_language() {
    let s = Sandbox::new();
    for lang in ["python", "js", "rust"] {
        let dir = s.scratch.join(format!("no-latest-{lang}"));
        let r = s.sbx(&["plugin", "new", "--lang", lang, "--dir", &path(&dir), "no-latest"]);
        assert_eq!(r.code, 0, "{lang}: {r:?}");
        assert!(r.stdout.contains("build.sh"), "{r:?}");
        if let Some(install) = missing_toolchain_message(lang) {
            // On a machine without the language's toolchain, the build says what to install.
            let bare = s.scratch.join("bare-bin");
            std::fs::create_dir_all(&bare).unwrap();
            for tool in ["bash", "dirname"] {
                let _ = std::os::unix::fs::symlink(format!("/usr/bin/{tool}"), bare.join(tool));
            }
            let build = std::process::Command::new(dir.join("build.sh"))
                .env("PATH", &bare)
                .env("SBX_TOOLCHAINS", s.scratch.join("no-toolchains"))
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&build.stderr);
            assert!(!build.status.success() && stderr.contains(install), "{lang}: {stderr}");
        }
        let build = std::process::Command::new(dir.join("build.sh"))
            // The toolchains plugins/build.sh installed, rather than a second copy in ~/.cache.
            .env("SBX_TOOLCHAINS", workspace().join("target/toolchains"))
            .output()
            .unwrap();
        assert!(build.status.success(), "{lang}: {}", String::from_utf8_lossy(&build.stderr));
        if lang == "rust" {
            // Built as the shipped policies are: a component that imports nothing of WASI.
            let r = s.sbx(&["plugin", "inspect", &path(&dir.join("no-latest.wasm"))]);
            assert!(r.code == 0 && r.stdout.contains("imports:   sbx:plugin/") && !r.stdout.contains("wasi:"), "{r:?}");
        }
        let suite = path(&dir.join("tests.yaml"));
        let r = s.sbx(&["policy", "test", "--suite", &suite]);
        assert_eq!(r.code, 0, "{lang}: {r:?}");
        assert!(r.stdout.ends_with("5 passed, 0 failed\n"), "{lang}: {r:?}");
        let r = s.sbx(&["plugin", "new", "--lang", lang, "--dir", &path(&dir), "no-latest"]);
        assert_eq!(r.code, 125, "{r:?}");
        assert!(r.stderr.contains("File exists") && r.stderr.contains("choose another with --dir"), "{r:?}");
    }
    let r = s.sbx(&["plugin", "new", "--dir", &path(&s.scratch.join("x")), "No_Good"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("'No_Good' cannot name a plugin"), "{r:?}");
    let r = s.sbx(&["plugin", "new", "--sdk", "/nonexistent", "--dir", &path(&s.scratch.join("y")), "y"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("--sdk /nonexistent: no Cargo.toml there"), "{r:?}");
    assert!(!s.scratch.join("x").exists() && !s.scratch.join("y").exists());
}

/// `sbx plugin compile` fills the compile cache ahead, so that the first run compiles nothing and
/// says nothing of it; a big component's first compile otherwise says it takes seconds.
#[test]
fn plugin_compile_fills_the_cache_ahead_and_first_compiles_are_announced() {
    let s = Sandbox::new();
    let cache = s.scratch.join("cache");
    let sbx = |args: &[&str]| -> sbx_tests::harness::Run {
        s.command(args).env("SBX_PLUGIN_CACHE", &cache).output().unwrap().into()
    };
    let (py, js) = (path(&lang_plugin("python", "require-labels")), path(&lang_plugin("js", "deny-setuid")));
    let suite = s.scratch.join("suite.yaml");
    std::fs::write(
        &suite,
        format!("plugins:\n  - path: {js}\ncases:\n  - {{ name: any, image: {{}}, expect: {{ verdict: allow }} }}\n"),
    )
    .unwrap();
    let r = sbx(&["policy", "test", "--suite", &path(&suite)]);
    assert_eq!(r.code, 0, "{r:?}");
    let note = format!("sbx: compiling plugin {js} (");
    assert!(r.stderr.contains(&note) && r.stderr.contains(" MB) for this machine; it takes seconds, once"), "{r:?}");
    let r = sbx(&["plugin", "compile", &py, &js]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.contains(&format!("{py}: compiled (")) && r.stdout.contains(&format!("{js}: already compiled (")),
        "{r:?}"
    );
    let r = sbx(&["policy", "test", "--suite", &path(&suite)]);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""), "{r:?}");
    let r = sbx(&["plugin", "compile", &path(&s.scratch.join("missing.wasm"))]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("missing.wasm") && r.stderr.contains("No such file"), "{r:?}");
}
