//! Admission that holds: users are the numbers sbx applies (no -1, no `00` or `+0` around a
//! policy), and a spec is admitted in two phases, so that no plugin later in the order can undo
//! what a policy checked: weakening changes need the configuration's grant and are shown, and the
//! final spec is validated by every policy and by the checks of the command line.

use sbx_tests::harness::{Sandbox, is_root, plugin_arg, workspace};
use sbx_tests::image::{Image, busybox};

fn image_with(s: &Sandbox, name: &str, config: serde_json::Value) -> String {
    s.load_busybox_as(name, config);
    name.to_string()
}

#[test]
fn ids_that_are_not_valid_are_refused_wherever_a_user_is_taken() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let said = "has an invalid id";
    for user in ["4294967295", "0:4294967295", "+0", "-1", "99999999999"] {
        let flag = format!("--user={user}");
        let r = s.sbx(&["run", "--rm", &flag, "busybox", "id"]);
        assert_eq!(r.code, 125, "-u {user}: {r:?}");
        assert!(r.stderr.contains(said), "-u {user}: {r:?}");
    }
    let image = image_with(&s, "minus-one", serde_json::json!({ "User": "4294967295", "Cmd": ["id"] }));
    let r = s.sbx(&["run", "--rm", &image]);
    assert!(r.code == 125 && r.stderr.contains(said), "an image's USER: {r:?}");
    assert_eq!(s.sbx(&["run", "-d", "--name", "t1", "busybox", "sleep", "100"]).code, 0);
    let r = s.sbx(&["exec", "-u", "4294967295", "t1", "id"]);
    assert!(r.code == 125 && r.stderr.contains(said), "exec -u: {r:?}");
    assert_eq!(s.sbx(&["rm", "-f", "t1"]).code, 0);
    let force = s.write_config(&format!(
        "plugins:\n  - path: {}\n    settings: {{ force_uid: 4294967295 }}\n",
        plugin_arg("non-root")
    ));
    let r = s.sbx(&["--config", &force, "run", "--rm", "busybox", "id"]);
    assert!(r.code == 125 && r.stderr.contains("denied by policy non-root") && r.stderr.contains(said), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn non_root_decides_on_the_uid_sbx_applies() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let passwd = "root:x:0:0::/root:/bin/sh\ntoor:x:0:0::/:/bin/sh\napp:x:1000:1000::/:/bin/sh\n";
    let layer = busybox().unwrap().file("etc/passwd", 0o644, passwd.as_bytes());
    s.load(&Image::new("busybox:latest", vec![layer]));
    let policy = plugin_arg("non-root");
    for user in ["00", "0", "root", "toor", "0:1000", "000:0"] {
        let r = s.sbx(&["run", "--rm", "-u", user, "--policy", &policy, "busybox", "id", "-u"]);
        assert_eq!(r.code, 125, "-u {user}: {r:?}");
        assert!(r.stderr.contains("denied by policy non-root: the container would run as root (uid 0"), "{r:?}");
    }
    for user in ["1000", "app", "01000"] {
        let r = s.sbx(&["run", "--rm", "-u", user, "--policy", &policy, "busybox", "id", "-u"]);
        assert_eq!((r.code, r.stdout.as_str()), (0, "1000\n"), "-u {user}: {r:?}");
    }
    s.assert_clean(0);
}

/// A shipped profile with absolute plugin paths, plus test-hostile last, granted `grants` (a YAML
/// list).
fn profile_plus_hostile(s: &Sandbox, profile: &str, grants: &str) -> String {
    let text = std::fs::read_to_string(workspace().join("policies").join(format!("{profile}.yaml"))).unwrap();
    let plugins = workspace().join("target/plugins").display().to_string();
    let text = text.replace("../target/plugins", &plugins);
    s.write_config(&format!(
        "{text}  - path: {}\n    order: 100\n    may-weaken: {grants}\n",
        plugin_arg("test-hostile")
    ))
}

const ALL: &str = "[capabilities, seccomp, no-new-privileges, network, userns, mounts, rootfs, user]";

#[test]
fn a_later_plugin_cannot_undo_what_a_policy_checked() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let labels = serde_json::json!({ "Cmd": ["id", "-u"], "Labels": { "sbx.test.hostile": "loosen" } });
    let image = image_with(&s, "loosen", labels);
    // Without a grant, the weakening itself is refused, naming the plugin and what it asked.
    let config = profile_plus_hostile(&s, "restricted", "[]");
    let r = s.sbx(&["--config", &config, "run", "--rm", "-u", "1000", &image]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stdout.is_empty(), "the container never ran: {r:?}");
    assert!(r.stderr.contains("denied by policy test-hostile: it may not weaken the container's isolation"), "{r:?}");
    assert!(r.stderr.contains("CAP_SYS_ADMIN") && r.stderr.contains("may-weaken: [capabilities]"), "{r:?}");
    // Granted, it still cannot reverse what an earlier policy set (the user namespace, the
    // read-only root): that is a contradiction naming both.
    let config = profile_plus_hostile(&s, "restricted", ALL);
    let r = s.sbx(&["--config", &config, "run", "--rm", "-u", "1000", &image]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(
        r.stderr.contains("denied by policy test-hostile: policies no-escalation and test-hostile contradict"),
        "{r:?}"
    );
    // Granted and contradicting nobody, its changes are shown, and the policies validate the spec
    // they make: the run is refused.
    let config = profile_plus_hostile(&s, "baseline", ALL);
    let r = s.sbx(&["--config", &config, "run", "--rm", "-u", "1000", &image]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stdout.is_empty(), "the container never ran: {r:?}");
    assert!(r.stderr.contains("denied by policy deny-host-mounts: bind mount of host path / at /host"), "{r:?}");
    for shown in
        ["add capability CAP_SYS_ADMIN", "run without a seccomp filter", "turn no_new_privs off", "run as user 0"]
    {
        let line = format!("sbx: policy test-hostile: weakens the container's isolation: {shown}");
        assert!(r.stderr.contains(&line), "{shown}: {r:?}");
    }
    let r = s.sbx(&["--config", &config, "policy", "test", "--format", "json", &image]);
    assert_eq!(r.code, 1, "{r:?}");
    let out: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let refused: Vec<&str> = out["answers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["check"] == "validate" && a["verdict"] == "deny")
        .map(|a| a["plugin"].as_str().unwrap())
        .collect();
    assert_eq!(refused, ["deny-host-mounts", "no-escalation"], "{out}");
    s.assert_clean(0);
}

#[test]
fn the_final_spec_passes_the_checks_of_the_command_line() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let image =
        image_with(&s, "zero", serde_json::json!({ "Cmd": ["true"], "Labels": { "sbx.test.hostile": "zero-memory" } }));
    let r = s.sbx(&["run", "--rm", "--policy", &plugin_arg("test-hostile"), &image]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("denied by policy test-hostile") && r.stderr.contains("at least 1m"), "{r:?}");
    let r = s.sbx(&["run", "--rm", "-m", "0", "busybox", "true"]);
    assert!(r.code == 125 && r.stderr.contains("at least 1m"), "the same words as -m 0: {r:?}");
    s.assert_clean(0);
}
