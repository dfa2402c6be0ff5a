//! Health checks: `--health-cmd` and the image's HEALTHCHECK run in the running container every
//! interval; `ps` shows (health: starting), (healthy) or (unhealthy) and filters on it, `inspect`
//! shows docker's State.Health with the probes' exit codes and output, and each change of status is
//! an event. Bad flags are refused before anything is made.

use sbx_tests::harness::{Sandbox, is_root, plugin_arg, wait_for};
use sbx_tests::image::{Image, busybox};
use serde_json::{Value, json};

fn health(s: &Sandbox, name: &str) -> Value {
    let r = s.sbx(&["inspect", "-f", "{{json .State.Health}}", name]);
    assert_eq!(r.code, 0, "{r:?}");
    serde_json::from_str(&r.stdout).unwrap_or(Value::Null)
}

fn status(s: &Sandbox, name: &str) -> String {
    health(s, name)["Status"].as_str().unwrap_or("").to_string()
}

#[test]
fn a_health_check_follows_the_container_from_starting_to_healthy_to_unhealthy() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let r = s.sbx(&[
        "run",
        "-d",
        "--name",
        "web",
        "--health-cmd",
        "echo probed; test -f /tmp/ok",
        "--health-interval",
        "100ms",
        "--health-retries",
        "2",
        "--health-start-period",
        "1h",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    // Failures within the start period do not count.
    wait_for("a few probes", || health(&s, "web")["Log"].as_array().is_some_and(|l| l.len() >= 3));
    assert_eq!(status(&s, "web"), "starting");
    let r = s.sbx(&["ps", "--format", "{{.Status}}"]);
    assert!(r.stdout.trim().ends_with("(health: starting)"), "{r:?}");
    let probe = &health(&s, "web")["Log"][0];
    assert_eq!((probe["ExitCode"].as_i64(), probe["Output"].as_str()), (Some(1), Some("probed\n")), "{probe}");

    assert_eq!(s.sbx(&["exec", "web", "touch", "/tmp/ok"]).code, 0);
    wait_for("healthy", || status(&s, "web") == "healthy");
    let r = s.sbx(&["ps", "--filter", "health=healthy", "--format", "{{.Names}} {{.Status}}"]);
    assert!(r.stdout.starts_with("web Up") && r.stdout.trim().ends_with("(healthy)"), "{r:?}");
    assert_eq!(s.sbx(&["ps", "-q", "--filter", "health=unhealthy"]).stdout, "");

    // Once started, failures count: two in a row make it unhealthy.
    assert_eq!(s.sbx(&["exec", "web", "rm", "/tmp/ok"]).code, 0);
    wait_for("unhealthy", || status(&s, "web") == "unhealthy");
    assert!(health(&s, "web")["FailingStreak"].as_u64() >= Some(2));
    let r =
        s.sbx(&["events", "--since", "1h", "--until", "0s", "--filter", "container=web", "--format", "{{.Action}}"]);
    let actions: Vec<&str> = r.stdout.lines().filter(|l| l.starts_with("health_status")).collect();
    assert_eq!(actions, ["health_status: healthy", "health_status: unhealthy"], "{r:?}");
    let r = s.sbx(&["inspect", "-f", "{{json .Config.Healthcheck.Test}}", "web"]);
    assert_eq!(r.stdout.trim(), r#"["CMD-SHELL","echo probed; test -f /tmp/ok"]"#);

    // A probe that outlives its timeout fails, saying so.
    let r = s.sbx(&[
        "run",
        "-d",
        "--name",
        "slow",
        "--health-cmd",
        "sleep 5",
        "--health-interval",
        "100ms",
        "--health-timeout",
        "200ms",
        "--health-retries",
        "1",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(r.code, 0, "{r:?}");
    wait_for("the timeout", || status(&s, "slow") == "unhealthy");
    let output = health(&s, "slow")["Log"][0]["Output"].as_str().unwrap_or("").to_string();
    assert!(output.contains("Health check exceeded timeout"), "{output}");
    assert_eq!(s.sbx(&["rm", "-f", "web", "slow"]).code, 0);
    s.assert_clean(0);
}

#[test]
fn the_images_healthcheck_runs_unless_turned_off_and_bad_flags_are_refused() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let image = Image::new("checked:latest", vec![busybox().unwrap()]).with_config(json!({
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["sleep", "1000"],
        "Healthcheck": { "Test": ["CMD", "echo", "from the image"], "Interval": 100_000_000, "Retries": 1 },
    }));
    s.load(&image);
    let r = s.sbx(&["run", "-d", "--name", "img", "checked"]);
    assert_eq!(r.code, 0, "{r:?}");
    wait_for("healthy", || status(&s, "img") == "healthy");
    assert_eq!(health(&s, "img")["Log"][0]["Output"], "from the image\n");
    assert_eq!(s.sbx(&["run", "-d", "--name", "off", "--no-healthcheck", "checked"]).code, 0);
    let r = s.sbx(&["inspect", "-f", "{{json .State.Health}} {{json .Config.Healthcheck}}", "off"]);
    assert_eq!(r.stdout.trim(), "null null", "{r:?}");
    assert_eq!(s.sbx(&["rm", "-f", "img", "off"]).code, 0);

    for (args, says) in [
        (&["--health-cmd", "true", "--no-healthcheck"][..], "--no-healthcheck conflicts"),
        (&["--health-interval", "30"], "'30' is not a duration"),
        (&["--health-cmd", "true", "--health-timeout", "1ns"], "at least 1ms"),
        (&["--health-retries", "0"], "--health-retries"),
        (&["--health-cmd", " "], "--health-cmd is empty"),
    ] {
        let r = s.sbx(&[&["run", "--rm"], args, &["busybox", "true"]].concat());
        assert!(r.code == 125 && r.stderr.contains(says), "{args:?}: {r:?}");
    }
    s.assert_clean(0);
}

#[test]
fn probes_are_execs_that_the_configuration_the_container_was_run_with_checks() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let config = s.write_config("plugins: []\n");
    let args = ["--config", &config, "run", "-d", "--name", "guarded", "--health-cmd", "true"];
    let r = s.sbx(&[&args[..], &["--health-interval", "100ms", "busybox", "sleep", "1000"]].concat());
    assert_eq!(r.code, 0, "{r:?}");
    wait_for("healthy", || status(&s, "guarded") == "healthy");
    // The policy now in the configuration refuses root execs, the probes among them.
    std::fs::write(&config, format!("plugins:\n  - path: {}\n", plugin_arg("non-root"))).unwrap();
    wait_for("unhealthy", || status(&s, "guarded") == "unhealthy");
    let log = health(&s, "guarded")["Log"].as_array().cloned().unwrap_or_default();
    let last = log.last().and_then(|p| p["Output"].as_str()).unwrap_or("").to_string();
    assert!(last.contains("denied by policy non-root"), "{log:?}");
    assert_eq!(s.sbx(&["rm", "-f", "guarded"]).code, 0);
    s.assert_clean(0);
}
