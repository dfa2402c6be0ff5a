//! The runtime-spec's process and container requirements, observed side by side with runc (the
//! reference: Debian's runc): each case's bundle runs under `runc run` and under `sbx runtime run`,
//! and what its process sees (ids, working directory, hostname, capabilities, no_new_privs,
//! rlimits, environment, OOM score, id maps, /dev, mounts, kernel parameters, masked and read-only paths,
//! exit status) must be the same.

use sbx_tests::bundle::{Bundle, output};
use sbx_tests::harness::{Run, has_tool, is_root};
use serde_json::{Value, json};
use std::process::Command;

/// What the process reports of itself, one fact per line.
const PROBE: &str = "id; pwd; hostname; echo maps $(cat /proc/self/uid_map /proc/self/gid_map); \
    grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/self/status; \
    echo nofile $(ulimit -Sn) $(ulimit -Hn); echo env \"$HOME|$PATH|$TERM|$CUSTOM\"; \
    echo oom $(cat /proc/self/oom_score_adj); echo dev $(ls /dev); \
    echo mounts $(cut -d' ' -f2,3 /proc/self/mounts | sort | tr ' ' ':'); \
    echo cgroup-fs $(grep ' /sys/fs/cgroup' /proc/self/mounts | grep -o '[, ]r[ow],' | tr -d ' ,'); \
    echo shmmax $(cat /proc/sys/kernel/shmmax); \
    echo sysctl-write $( (echo 1 > /proc/sys/kernel/shmmni) 2>&1 | sed 's/.*: //'); \
    echo kcore $(head -c 10 /proc/kcore 2>/dev/null | wc -c); \
    echo root-write $( (touch /probe-file && echo ok) 2>&1 | sed 's/.*: //'); \
    exit 3";

fn runc(b: &Bundle, id: &str) -> Run {
    let root = b.s.scratch.join("runc");
    output(Command::new("runc").arg("--root").arg(&root).args(["run", "--bundle"]).arg(&b.dir).arg(id))
}

/// Runs `edit`'s bundle under both runtimes and compares what the process saw.
fn same_as_runc(name: &str, edit: impl Fn(&mut Value)) {
    if !has_tool("runc") {
        return;
    }
    let b = Bundle::new(&["sh", "-c", PROBE]);
    b.config(|c| edit(c));
    if let Some(host_root) = b.config_value()["linux"]["uidMappings"][0]["hostID"].as_u64() {
        b.chown_rootfs(host_root as u32);
    }
    let theirs = runc(&b, &b.id(&format!("runc-{name}")));
    let _ = std::fs::remove_file(b.dir.join("rootfs/probe-file"));
    let ours = b.rt(&["run", "--bundle", &b.dir.to_string_lossy(), &b.id(name)]);
    assert_eq!(theirs.code, 3, "{name}: runc: {theirs:?}");
    let (t, o): (Vec<&str>, Vec<&str>) = (theirs.stdout.lines().collect(), ours.stdout.lines().collect());
    let differ: Vec<String> =
        t.iter().zip(&o).filter(|(a, b)| a != b).map(|(a, b)| format!("  runc: {a}\n  sbx:  {b}")).collect();
    assert!(
        differ.is_empty() && t.len() == o.len() && ours.code == theirs.code,
        "{name}: sbx differs from runc (exit {} vs {}):\n{}\nsbx stderr: {}",
        ours.code,
        theirs.code,
        differ.join("\n"),
        ours.stderr
    );
    b.assert_clean();
}

#[test]
fn a_default_bundle_looks_the_same_from_inside() {
    if !is_root() {
        return;
    }
    same_as_runc("defaults", |_| {});
}

#[test]
fn user_groups_cwd_and_env_are_the_bundles() {
    if !is_root() {
        return;
    }
    same_as_runc("user", |c| {
        c["process"]["user"] = json!({ "uid": 1000, "gid": 1000, "additionalGids": [10, 20] });
        c["process"]["cwd"] = json!("/tmp");
        c["process"]["env"].as_array_mut().unwrap().push(json!("CUSTOM=yes"));
    });
}

#[test]
fn capabilities_rlimits_and_no_new_privileges_are_the_bundles() {
    if !is_root() {
        return;
    }
    same_as_runc("caps", |c| {
        let caps = json!(["CAP_CHOWN", "CAP_KILL", "CAP_SETUID"]);
        c["process"]["capabilities"] = json!({ "bounding": caps, "effective": caps, "permitted": caps });
        c["process"]["rlimits"] = json!([{ "type": "RLIMIT_NOFILE", "soft": 100, "hard": 200 }]);
        c["process"]["noNewPrivileges"] = json!(true);
    });
}

#[test]
fn hostname_sysctls_oom_score_and_a_read_only_root_are_the_bundles() {
    if !is_root() {
        return;
    }
    same_as_runc("kernel", |c| {
        c["hostname"] = json!("conform");
        c["linux"]["sysctl"] = json!({ "kernel.shmmax": "123456789" });
        c["process"]["oomScoreAdj"] = json!(300);
        c["root"]["readonly"] = json!(true);
    });
}

#[test]
fn a_user_namespace_maps_the_bundles_ids() {
    if !is_root() {
        return;
    }
    // As engines do for a user namespace, the root filesystem belongs to the container's root.
    same_as_runc("userns", |c| {
        c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({ "type": "user" }));
        let map = json!([{ "containerID": 0, "hostID": 300000, "size": 65536 }]);
        c["linux"]["uidMappings"] = map.clone();
        c["linux"]["gidMappings"] = map;
        c["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
    });
}
