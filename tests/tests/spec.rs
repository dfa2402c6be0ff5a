//! Spec policies and lifecycle hooks end to end, with the shipped plugins compiled to wasm: what
//! runs is what the adjusted spec says (read-only root, capabilities, env, user, masks, binds),
//! contradictions and denials stop the run and leave nothing, hooks hear every event and may veto
//! at create and prestart, and `sbx policy test --spec` replays a recorded spec.

use sbx_tests::harness::{Sandbox, is_root, plugin_arg, test_image};
use sbx_tests::image::{Image, Layer, busybox};

/// docker's default capabilities as /proc/self/status shows them.
const DOCKER_DEFAULT_CAPS: &str = "00000000a80425fb";

fn plugin_yaml(name: &str, extra: &str) -> String {
    format!("  - path: {}\n    name: {name}\n{extra}", plugin_arg(name))
}

#[test]
fn defaults_are_dockers_capabilities_and_hidden_kernel_paths() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "grep CapEff /proc/self/status; wc -c < /proc/keys; echo 1 > /proc/sys/kernel/hostname || echo ro",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains(&format!("CapEff:\t{DOCKER_DEFAULT_CAPS}")), "{r:?}");
    assert!(r.stdout.contains("\n0\n"), "/proc/keys is masked: {r:?}");
    assert!(r.stdout.ends_with("ro\n"), "/proc/sys is read-only: {r:?}");
    let r = s.sbx(&[
        "run",
        "--rm",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "kill",
        "busybox",
        "grep",
        "CapBnd",
        "/proc/self/status",
    ]);
    assert_eq!(r.stdout, "CapBnd:\t0000000000000020\n", "{r:?}");
    let r = s.sbx(&["run", "--rm", "-u", "1000", "busybox", "grep", "CapEff", "/proc/self/status"]);
    assert_eq!(r.stdout, "CapEff:\t0000000000000000\n", "{r:?}");
    let r = s.sbx(&["run", "--rm", "--cap-add", "CAP_FLY", "busybox", "true"]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("unknown capability 'CAP_FLY'"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn binds_tmpfs_and_read_only_root_from_flags() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let host = s.scratch.join("shared");
    std::fs::create_dir_all(&host).unwrap();
    std::fs::write(host.join("in"), "from host\n").unwrap();
    let rw = format!("{}:/data", host.display());
    let r = s.sbx(&[
        "run",
        "--rm",
        "--read-only",
        "-v",
        &rw,
        "--tmpfs",
        "/run/x",
        "busybox",
        "sh",
        "-c",
        "cat /data/in; echo out > /data/out; touch /run/x/f && echo tmpfs; touch /f || echo rootfs-ro",
    ]);
    assert_eq!(r.stdout, "from host\ntmpfs\nrootfs-ro\n", "{r:?}");
    assert_eq!(std::fs::read_to_string(host.join("out")).unwrap(), "out\n", "the write reached the host");
    let ro = format!("{}:/data:ro", host.display());
    let r = s.sbx(&["run", "--rm", "-v", &ro, "busybox", "sh", "-c", "touch /data/x || echo ro"]);
    assert_eq!(r.stdout, "ro\n", "{r:?}");
    let missing = format!("{}:/data", s.scratch.join("nope").display());
    let r = s.sbx(&["run", "--rm", "-v", &missing, "busybox", "true"]);
    assert_eq!(r.code, 125);
    assert!(r.stderr.contains("bind mount source") && r.stderr.contains("does not exist"), "{r:?}");
    // A source without a slash is a volume's name to docker: a volume of the store, not a path.
    let r = s.sbx(&["run", "--rm", "-v", "relative:/data", "busybox", "touch", "/data/x"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(s.root.join("volumes/relative/_data/x").is_file() && !s.scratch.join("relative").exists());
    assert_eq!(s.sbx(&["volume", "rm", "relative"]).code, 0);
    let r = s.sbx(&["run", "--rm", "-v", "rel/dir:/data", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("bad volume 'rel/dir:/data'"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn spec_policies_adjust_what_runs() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let cfg = s.write_config(&format!(
        "plugins:\n{}{}{}{}",
        plugin_yaml("read-only-rootfs", ""),
        plugin_yaml("drop-capabilities", "    settings: { drop: [NET_RAW, MKNOD] }\n"),
        plugin_yaml("env-inject", "    settings: { env: { INJECTED: yes } }\n"),
        plugin_yaml("mask-paths", "    settings: { paths: [/etc/group] }\n"),
    ));
    let script = "touch /f || echo ro; touch /tmp/f && echo tmp; grep CapEff /proc/self/status; echo $INJECTED; wc -c < /etc/group";
    let r = s.sbx(&["--config", &cfg, "run", "--rm", "busybox", "sh", "-c", script]);
    assert_eq!(r.code, 0, "{r:?}");
    // NET_RAW (13) and MKNOD (27) gone from a80425fb.
    assert_eq!(r.stdout, "ro\ntmp\nCapEff:\t00000000a00405fb\nyes\n0\n", "{r:?}");
    s.assert_clean(0);
}

#[test]
fn non_root_denies_root_or_forces_a_user() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&["run", "--rm", "--policy", &plugin_arg("non-root"), "busybox", "echo", "must not run"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("denied by policy non-root: the container would run as root"), "{r:?}");
    let r = s.sbx(&["run", "--rm", "-u", "1000", "--policy", &plugin_arg("non-root"), "busybox", "id", "-u"]);
    assert_eq!(r.stdout, "1000\n", "{r:?}");
    let forced =
        s.write_config(&format!("plugins:\n{}", plugin_yaml("non-root", "    settings: { force_uid: 4242 }\n")));
    let r = s.sbx(&["--config", &forced, "run", "--rm", "busybox", "id", "-u"]);
    assert_eq!(r.stdout, "4242\n", "{r:?}");
    let monitor = s.write_config(&format!("plugins:\n{}", plugin_yaml("non-root", "    mode: monitor\n")));
    let r = s.sbx(&["--config", &monitor, "run", "--rm", "busybox", "id", "-u"]);
    assert_eq!(r.stdout, "0\n", "monitor mode changes nothing: {r:?}");
    assert!(r.stderr.contains("sbx: policy non-root: would deny: the container would run as root"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn contradictory_adjustments_stop_the_run_naming_both_plugins() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let env = |name: &str, value: &str| {
        format!(
            "  - path: {}\n    name: {name}\n    settings: {{ env: {{ MODE: {value} }}, override: true }}\n",
            plugin_arg("env-inject")
        )
    };
    let cfg = s.write_config(&format!("plugins:\n{}{}", env("first", "fast"), env("second", "safe")));
    let r = s.sbx(&["--config", &cfg, "run", "--rm", "busybox", "echo", "must not run"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("policies first and second contradict each other: first asks to set env MODE=fast, second asks to set env MODE=safe"),
        "{r:?}"
    );
    let agree = s.write_config(&format!("plugins:\n{}{}", env("first", "safe"), env("second", "safe")));
    let r = s.sbx(&["--config", &agree, "run", "--rm", "busybox", "sh", "-c", "echo $MODE"]);
    assert_eq!(r.stdout, "safe\n", "{r:?}");
    s.assert_clean(0);
}

#[test]
fn deny_host_mounts_refuses_binds_outside_its_allowlist() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let allowed = s.scratch.join("allowed");
    std::fs::create_dir_all(&allowed).unwrap();
    let cfg = s.write_config(&format!(
        "plugins:\n{}",
        plugin_yaml("deny-host-mounts", &format!("    settings: {{ allow: [{}] }}\n", allowed.display()))
    ));
    let r = s.sbx(&["--config", &cfg, "run", "--rm", "-v", "/etc:/host-etc:ro", "busybox", "true"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("bind mount of host path /etc at /host-etc is not allowed"), "{r:?}");
    let ok = format!("{}:/data", allowed.display());
    let r = s.sbx(&["--config", &cfg, "run", "--rm", "-v", &ok, "busybox", "echo", "ran"]);
    assert_eq!(r.stdout, "ran\n", "{r:?}");
    s.assert_clean(0);
}

#[test]
fn hooks_hear_every_event_in_a_granted_directory() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let audit = s.scratch.join("audit");
    std::fs::create_dir_all(&audit).unwrap();
    let cfg = s.write_config(&format!(
        "plugins:\n{}",
        plugin_yaml(
            "audit-log",
            &format!("    preopens: [{{ host: {}, guest: /audit, mode: rw }}]\n", audit.display())
        )
    ));
    let r = s.sbx(&["--config", &cfg, "run", "--rm", "busybox", "sh", "-c", "exit 7"]);
    assert_eq!(r.code, 7, "{r:?}");
    let r = s.sbx(&["--config", &cfg, "run", "--name", "kept", "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = s.sbx(&["--config", &cfg, "rm", "kept"]);
    assert_eq!(r.code, 0, "{r:?}");
    let lines = sbx_tests::harness::json_lines(&audit.join("audit.jsonl"));
    let events: Vec<(&str, &str)> =
        lines.iter().map(|l| (l["event"].as_str().unwrap(), l["status"].as_str().unwrap())).collect();
    let one_run = [("create", "created"), ("prestart", "created"), ("poststart", "running"), ("exit", "exited")];
    assert_eq!(events[..4], one_run);
    assert_eq!(events[4], ("remove", "exited"));
    assert_eq!(events[5..9], one_run);
    assert_eq!(events[9], ("remove", "exited"), "sbx rm fires remove");
    assert_eq!(lines[3]["exit_code"], 7);
    assert!(lines[1]["pid"].as_i64().unwrap() > 0, "prestart knows the pid");
    assert_eq!(lines[5]["name"], "kept");
    s.assert_clean(0);
}

#[test]
fn hooks_veto_at_create_and_prestart_and_leave_nothing() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    // Not granted any directory, audit-log cannot write, and an audit that cannot be written
    // stops what can still be stopped.
    let r = s.sbx(&["run", "--rm", "--hook", &plugin_arg("audit-log"), "busybox", "echo", "must not run"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("stopped by plugin audit-log at create: cannot append to /audit/audit.jsonl"), "{r:?}");
    s.load_labelled("veto", "sbx.test.veto", "prestart");
    for rm in [true, false] {
        let mut args = vec!["run"];
        if rm {
            args.push("--rm");
        }
        let veto = plugin_arg("test-veto");
        args.extend(["--hook", &veto, "veto", "echo", "must not run"]);
        let r = s.sbx(&args);
        assert_eq!(r.code, 125, "{r:?}");
        assert!(r.stdout.is_empty(), "{r:?}");
        assert!(r.stderr.contains("stopped by plugin test-veto at prestart: test-veto vetoes prestart"), "{r:?}");
    }
    // Without --rm the container was created before its start was stopped, and stays, as docker's.
    s.assert_clean(1);
}

#[test]
fn policy_test_replays_a_recorded_spec() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&["run", "--name", "recorded", "-u", "0", "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    let id = s.containers().pop().unwrap();
    let spec = s.root.join("containers").join(id).join("spec.json");
    let spec = spec.to_str().unwrap();
    let r = s.sbx(&["policy", "test", "--policy", &plugin_arg("non-root"), "--spec", spec]);
    assert_eq!(r.code, 1, "{r:?}");
    assert!(r.stdout.contains("non-root") && r.stdout.contains("validate") && r.stdout.contains("deny"), "{r:?}");
    let r = s.sbx(&["policy", "test", "--format", "json", "--policy", &plugin_arg("read-only-rootfs"), "--spec", spec]);
    assert_eq!(r.code, 0, "{r:?}");
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(out["answers"][0]["check"], "mutate");
    assert_eq!(out["answers"][0]["adjustments"][0], "make the root filesystem read-only");
    assert_eq!(
        (out["answers"][1]["check"].as_str(), out["answers"][1]["verdict"].as_str()),
        (Some("validate"), Some("allow"))
    );
    assert_eq!(out["spec"]["read-only-rootfs"], true);
    let r = s.sbx(&["policy", "test", "--policy", &plugin_arg("non-root"), "busybox"]);
    assert_eq!(r.code, 1, "image checks, then the spec check: {r:?}");
    assert!(
        r.stdout.contains("image") && r.stdout.contains("layer 0") && r.stdout.contains("denied by non-root"),
        "{r:?}"
    );
    let bad = s.scratch.join("bad.json");
    std::fs::write(&bad, "{\"image\": 1}").unwrap();
    let r = s.sbx(&["policy", "test", "--policy", &plugin_arg("non-root"), "--spec", bad.to_str().unwrap()]);
    assert!(r.code == 125 && r.stderr.contains("is not valid"), "{r:?}");
}

#[test]
fn the_shipped_profiles_load_and_restricted_holds() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let policies = sbx_tests::harness::workspace().join("policies");
    let (baseline, restricted) = (policies.join("baseline.yaml"), policies.join("restricted.yaml"));
    let (baseline, restricted) = (baseline.to_str().unwrap(), restricted.to_str().unwrap());
    for profile in [baseline, restricted] {
        let r = s.sbx(&["config", "check", profile]);
        assert_eq!(r.code, 0, "{profile}: {r:?}");
    }
    let r = s.sbx(&["--config", baseline, "run", "--rm", "-v", "/etc:/e", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("denied by policy deny-host-mounts"), "{r:?}");
    let r = s.sbx(&["--config", baseline, "run", "--rm", "--privileged", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("denied by policy no-escalation: --privileged"), "{r:?}");
    let r = s.sbx(&["--config", restricted, "run", "--rm", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("denied by policy non-root"), "{r:?}");
    // A distribution's own setuid and setgid programs (Debian's and Ubuntu's shadow, util-linux and
    // PAM tools) pass; any other is refused, every one named at once.
    let distro = Layer::new()
        .dir("usr", 0o755)
        .dir("usr/bin", 0o755)
        .dir("usr/sbin", 0o755)
        .file("usr/bin/chage", 0o2755, b"x")
        .file("usr/bin/passwd", 0o4755, b"x")
        .file("usr/bin/su", 0o4755, b"x")
        .file("usr/bin/mount", 0o4755, b"x")
        .file("usr/sbin/unix_chkpwd", 0o2755, b"x");
    s.load(&Image::new("debianish:latest", vec![busybox().unwrap(), distro]));
    for profile in [baseline, restricted] {
        let r = s.sbx(&["--config", profile, "run", "--rm", "-u", "1000", "debianish", "true"]);
        assert_eq!(r.code, 0, "{profile}: {r:?}");
    }
    let planted = Layer::new().dir("opt", 0o755).file("opt/a", 0o4755, b"x").file("opt/b", 0o2755, b"x");
    s.load(&Image::new("planted:latest", vec![busybox().unwrap(), planted]));
    let r = s.sbx(&["--config", baseline, "run", "--rm", "planted", "true"]);
    assert!(
        r.code == 125
            && r.stderr.contains("adds 2 setuid/setgid files: /opt/a (setuid, mode 4755), /opt/b (setgid, mode 2755)"),
        "{r:?}"
    );
    let script = "touch /f || echo ro; touch /tmp/f && echo tmp; grep CapBnd /proc/self/status; id -u; \
                  awk '{print $1, ($2 > 0)}' /proc/self/uid_map";
    let r = s.sbx(&["--config", restricted, "run", "--rm", "-u", "1000", "busybox", "sh", "-c", script]);
    assert_eq!(r.stdout, "ro\ntmp\nCapBnd:\t0000000000000400\n1000\n0 1\n", "in a user namespace too: {r:?}");
    s.assert_clean(0);
}

#[test]
fn policies_see_and_adjust_the_isolation_options() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let policy = plugin_arg("no-escalation");
    let denied = [
        (&["--security-opt", "seccomp=unconfined"][..], "seccomp=unconfined"),
        (&["--network", "host"], "--network host"),
        (&["--device", "/dev/kmsg"], "host device /dev/kmsg"),
        (&["--privileged"], "--privileged"),
    ];
    for (flags, reason) in denied {
        let r = s.sbx(&[&["run", "--rm", "--policy", &policy], flags, &["busybox", "true"]].concat());
        assert!(r.code == 125 && r.stderr.contains(reason), "{flags:?}: {r:?}");
    }
    // no_new_privs turned off by the user is turned back on by the policy.
    let nnp = ["--security-opt", "no-new-privileges=false"];
    let r = s.sbx(
        &[&["run", "--rm", "--policy", &policy], &nnp[..], &["busybox", "grep", "NoNewPrivs", "/proc/self/status"]]
            .concat(),
    );
    assert_eq!((r.code, r.stdout.as_str()), (0, "NoNewPrivs:\t1\n"), "{r:?}");
    // The same, replayed on the recorded spec of a container made without the policy.
    let r = s.sbx(&[&["create", "--name", "open"], &nnp[..], &["busybox", "true"]].concat());
    assert_eq!(r.code, 0, "{r:?}");
    let recorded = s.root.join("containers").join(r.stdout.trim()).join("spec.json");
    let recorded = recorded.to_str().unwrap();
    let r = s.sbx(&["policy", "test", "--policy", &policy, "--format", "json", "--spec", recorded]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {r:?}"));
    assert_eq!(v["spec"]["no-new-privileges"], true, "{v}");
    assert_eq!(s.sbx(&["rm", "open"]).code, 0);
    // A configured allowance lets the host network through.
    let config =
        s.write_config(&format!("plugins:\n  - path: {policy}\n    settings: {{ allow_host_network: true }}\n"));
    let r = s.sbx(&["--config", &config, "run", "--rm", "--network", "host", "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    s.assert_clean(0);
}

#[test]
fn a_repeated_run_uses_the_cached_decision_until_something_changes() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    s.load_labelled("logs", "sbx.test.hostile", "log");
    let copy = s.scratch.join("hostile-copy.wasm");
    std::fs::copy(plugin_arg("test-hostile"), &copy).unwrap();
    let plugin = copy.to_str().unwrap();
    let run = |extra_env: Option<(&str, &str)>| {
        let mut cmd = s.command(&["--log-level", "info", "run", "--rm", "--policy", plugin, "logs", "echo", "ran"]);
        if let Some((k, v)) = extra_env {
            cmd.env(k, v);
        }
        let r: sbx_tests::harness::Run = cmd.output().unwrap().into();
        assert_eq!((r.code, r.stdout.as_str()), (0, "ran\n"), "{r:?}");
        r.stderr.contains("test-hostile checked the image")
    };
    assert!(run(None), "the first run asks the plugin");
    assert!(!run(None), "the second run reads the decision");
    assert!(run(Some(("SBX_POLICY_CACHE", "off"))), "the cache can be turned off");
    let r = s.sbx(&["--log-level", "info", "run", "--rm", "--policy", plugin, "logs", "echo", "other"]);
    assert!(r.stderr.contains("checked the image"), "another command is another decision: {r:?}");
    // Any write to the plugin file changes its identity: the plugin is asked again.
    std::fs::write(&copy, std::fs::read(&copy).unwrap()).unwrap();
    assert!(run(None), "a changed plugin is asked again");
    assert!(!run(None));
    // Monitor notes are part of the decision and shown every time.
    let monitor = s.write_config(&format!("plugins:\n{}", plugin_yaml("non-root", "    mode: monitor\n")));
    for _ in 0..2 {
        let r = s.sbx(&["--config", &monitor, "run", "--rm", "busybox", "true"]);
        assert!(r.stderr.contains("would deny: the container would run as root"), "{r:?}");
    }
    s.assert_clean(0);
}

#[test]
fn image_policies_pin_sources_require_labels_and_cap_layer_sizes() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let labelled = Image::new("labelled:1", vec![busybox().unwrap()])
        .with_config(serde_json::json!({ "Cmd": ["true"], "Labels": { "team": "infra" } }));
    s.load(&labelled);
    let config = |name: &str, settings: &str| {
        s.write_config(&format!("plugins:\n{}", plugin_yaml(name, &format!("    settings: {settings}\n"))))
    };
    let sources = config("allowed-sources", "{ names: [labelled] }");
    let r = s.sbx(&["--config", &sources, "run", "--rm", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("image busybox:latest, busybox is not from an allowed source"), "{r:?}");
    let r = s.sbx(&["--config", &sources, "run", "--rm", "labelled:1", "echo", "ok"]);
    assert_eq!(r.stdout, "ok\n", "{r:?}");
    let labels = config("require-labels", "{ labels: { team: infra } }");
    let r = s.sbx(&["--config", &labels, "run", "--rm", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("has no label team"), "{r:?}");
    let r = s.sbx(&["--config", &labels, "run", "--rm", "labelled:1", "echo", "ok"]);
    assert_eq!(r.stdout, "ok\n", "{r:?}");
    let small = config("max-layer-size", "{ max_bytes: 1000 }");
    let r = s.sbx(&["--config", &small, "run", "--rm", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("over the limit of 1000 bytes"), "{r:?}");
    let bad = config("max-layer-size", "{ max_bytes: 0 }");
    let r = s.sbx(&["--config", &bad, "run", "--rm", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("refused its settings: max_bytes must be greater than 0"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn findings_and_plugin_logs_are_shown() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    s.load(&test_image("setuid").unwrap());
    let cfg =
        s.write_config(&format!("plugins:\n{}", plugin_yaml("deny-setuid", "    settings: { allow: [usr/bin/su] }\n")));
    let r = s.sbx(&["--config", &cfg, "run", "--rm", "setuid", "echo", "ran"]);
    assert_eq!((r.stdout.as_str(), r.stderr.as_str()), ("ran\n", ""), "findings are info: not shown by default");
    let r = s.sbx(&["--config", &cfg, "--log-level", "info", "run", "--rm", "setuid", "echo", "ran"]);
    assert_eq!(r.stdout, "ran\n", "{r:?}");
    assert!(
        r.stderr.contains(
            "sbx: policy deny-setuid: layer 1: keeps setuid/setgid file /usr/bin/su (allowed by the settings)"
        ),
        "{r:?}"
    );
    s.load_labelled("logs", "sbx.test.hostile", "log");
    let args = ["run", "--rm", "--policy", &plugin_arg("test-hostile"), "logs"];
    let loud: Vec<&str> = ["--log-level", "info"].into_iter().chain(args).collect();
    let r = s.sbx(&loud);
    assert!(r.stderr.contains("sbx: plugin test-hostile: info: test-hostile checked the image"), "{r:?}");
    let r: sbx_tests::harness::Run = s.command(&args).env("SBX_POLICY_CACHE", "off").output().unwrap().into();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stderr.contains("checked the image"), "the default (warn) hides info: {r:?}");
    s.assert_clean(0);
}

#[test]
fn a_malformed_adjustment_is_refused_naming_the_plugin() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    s.load_labelled("bad", "sbx.test.hostile", "bad-adjustment");
    let r = s.sbx(&["run", "--rm", "--policy", &plugin_arg("test-hostile"), "bad", "echo", "must not run"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(
        r.stderr.contains(
            "policy test-hostile asked for an invalid change (add capability CAP_TIME_TRAVEL): unknown capability"
        ),
        "{r:?}"
    );
    s.assert_clean(0);
}

#[test]
fn timing_logs_each_phase_of_a_run() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let dir = s.scratch.join("timing");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = s.write_config(&format!(
        "plugins:\n{}",
        plugin_yaml("timing", &format!("    preopens: [{{ host: {}, guest: /timing, mode: rw }}]\n", dir.display()))
    ));
    let r = s.sbx(&["--config", &cfg, "--log-level", "info", "run", "--rm", "--name", "timed", "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    let line = r
        .stderr
        .lines()
        .find(|l| l.starts_with("sbx: plugin timing: info: timed: "))
        .unwrap_or_else(|| panic!("{r:?}"));
    for phase in ["create→prestart", "prestart→poststart", "poststart→exit"] {
        assert!(line.contains(phase) && line.contains(" ms"), "{line}");
    }
    assert!(std::fs::read_dir(&dir).unwrap().next().is_none(), "its file goes with the container");
    s.assert_clean(0);
}
