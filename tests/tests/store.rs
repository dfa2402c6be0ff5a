//! A store that survives kill -9: sbx is killed with SIGKILL at random points of load, run,
//! commit, rm and concurrent runs, hundreds of times within a time bound, and after each kill
//! `sbx system check` must find nothing damaged (every image's layers whole, no half layer, no
//! container without its record or the reverse); what a kill leaves over, `--repair` removes.
//! Also: a closed stdout stops no verb half-way.

use sbx_tests::harness::{Run, Sandbox, is_root, test_image};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A small deterministic generator (the seed is printed, so that a failure can be replayed).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below.max(1)
    }
}

fn check(s: &Sandbox, repair: bool) -> serde_json::Value {
    let mut args = vec!["system", "check", "--format", "json"];
    if repair {
        args.push("--repair");
    }
    let r = s.sbx(&args);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("system check: {e}: {r:?}"))
}

fn damage(report: &serde_json::Value) -> Vec<String> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["kind"] == "damage")
        .map(|p| p["what"].as_str().unwrap().to_string())
        .collect()
}

fn kill_after(mut children: Vec<Child>, delay: Duration) {
    std::thread::sleep(delay);
    for c in &mut children {
        let _ = c.kill();
    }
    for mut c in children {
        let _ = c.wait();
    }
}

#[test]
fn killing_sbx_anywhere_leaves_a_whole_store() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let archive = s.scratch.join("many.tar");
    test_image("many:40").unwrap().write_docker_archive(&archive).unwrap();
    let archive = archive.display().to_string();
    let seed = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
    eprintln!("seed {seed}");
    let mut rng = Lcg(seed);
    let started = Instant::now();
    let mut kills = 0;
    while kills < 300 && started.elapsed() < Duration::from_secs(150) {
        let listed = s.sbx(&["ps", "-a", "--format", "json"]).stdout;
        let names: Vec<String> = listed
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["Names"].as_str().map(String::from))
            .collect();
        let some = |rng: &mut Lcg| names.get(rng.next(names.len() as u64) as usize).cloned();
        let op = rng.next(6);
        let n = kills.to_string();
        let args: Vec<Vec<String>> = match op {
            0 => vec![vec!["load".into(), "-q".into(), "-i".into(), archive.clone()]],
            1 => vec![vec![
                "run".into(),
                "--name".into(),
                format!("c{n}"),
                "busybox".into(),
                "sh".into(),
                "-c".into(),
                "echo x > /f".into(),
            ]],
            2 => match some(&mut rng) {
                Some(c) => vec![vec!["commit".into(), c, format!("snap:{n}")]],
                None => continue,
            },
            3 => match some(&mut rng) {
                Some(c) => vec![vec!["rm".into(), "-f".into(), c]],
                None => continue,
            },
            4 => (0..4)
                .map(|i| {
                    vec![
                        "run".into(),
                        "--rm".into(),
                        "--name".into(),
                        format!("r{n}-{i}"),
                        "busybox".into(),
                        "true".into(),
                    ]
                })
                .collect(),
            _ => vec![vec![
                "run".into(),
                "-d".into(),
                "--name".into(),
                format!("d{n}"),
                "busybox".into(),
                "sleep".into(),
                "100".into(),
            ]],
        };
        let children: Vec<Child> = args
            .iter()
            .map(|a| {
                let a: Vec<&str> = a.iter().map(String::as_str).collect();
                s.command(&a).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap()
            })
            .collect();
        let delay = Duration::from_micros(rng.next(if op == 0 { 150_000 } else { 25_000 }));
        kill_after(children, delay);
        kills += 1;
        let report = check(&s, false);
        assert!(damage(&report).is_empty(), "seed {seed}, kill {kills} ({args:?} after {delay:?}): {report}");
        if kills % 25 == 0 {
            assert_eq!(check(&s, true)["remaining"], 0, "seed {seed}: repair");
        }
    }
    assert!(kills >= 100, "at least a hundred kills in the time given: {kills}");
    // Stop what runs, repair what is left over: the store is whole and holds no leftover.
    let ids: Vec<String> = s.containers();
    let mut rm = vec!["rm", "-f"];
    rm.extend(ids.iter().map(String::as_str));
    if !ids.is_empty() {
        s.sbx(&rm);
    }
    let repaired = check(&s, true);
    assert_eq!(repaired["remaining"], 0, "{repaired}");
    let clean = check(&s, false);
    assert_eq!(clean["problems"].as_array().unwrap().len(), 0, "{clean}");
    // And it works: every image still runs.
    let r = s.sbx(&["run", "--rm", "busybox", "true"]);
    assert_eq!(r.code, 0, "{r:?}");
    s.assert_clean(0);
}

#[test]
fn a_closed_stdout_stops_no_verb_half_way() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    for name in ["a1", "b1", "c1"] {
        assert_eq!(s.sbx(&["create", "--name", name, "busybox", "true"]).code, 0);
    }
    let mut rm = s.command(&["rm", "a1", "b1", "c1"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(rm.stdout.take()); // the reader goes away before sbx writes a word
    let r: Run = rm.wait_with_output().unwrap().into();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(!r.stderr.contains("panicked"), "{r:?}");
    assert!(s.containers().is_empty(), "every container was removed: {:?}", s.containers());
    s.assert_clean(0);
}

#[test]
fn system_check_names_what_is_damaged_and_repair_removes_it() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    assert_eq!(s.sbx(&["run", "--name", "keep", "busybox", "true"]).code, 0);
    let r = s.sbx(&["system", "check"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "the store is whole\n"), "{r:?}");
    // What a kill could leave, made by hand: staging, a container half removed, a half layer.
    std::fs::create_dir(s.root.join("tmp/deadbeef")).unwrap();
    std::fs::create_dir(s.root.join("containers/.rm-0123")).unwrap();
    let half = s.root.join("layers").join("ab".repeat(32));
    std::fs::create_dir_all(half.join("diff")).unwrap();
    let orphan = s.root.join("containers").join("cd".repeat(32));
    std::fs::create_dir(&orphan).unwrap();
    let r = s.sbx(&["system", "check"]);
    assert_eq!(r.code, 1, "{r:?}");
    for said in [
        "left over: staging deadbeef",
        "left over: container directory .rm-0123",
        &format!("damaged: layer {} is not whole: its metadata cannot be read", "ab".repeat(32)),
        &format!("damaged: container directory {} has no record", "cd".repeat(32)),
        "4 problems found",
    ] {
        assert!(r.stdout.contains(said), "{said}: {r:?}");
    }
    let r = s.sbx(&["system", "check", "--repair"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("4 problems found, all repaired"), "{r:?}");
    assert!(!half.exists() && !orphan.exists());
    let r = s.sbx(&["system", "check"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "the store is whole\n"), "{r:?}");
    let r = s.sbx(&["start", "-a", "keep"]);
    assert_eq!(r.code, 0, "what was whole is untouched: {r:?}");
    assert_eq!(s.sbx(&["rm", "keep"]).code, 0);
    s.assert_clean(0);
}
