//! Images in the store: short names resolved as podman resolves them (`localhost/` first, then the
//! search registries; several different images under one short name refused), `tag`, `rmi` and
//! `image prune` with docker's output, `system df`, `import`, `export`, layers shared between images and containers and freed only
//! when nothing names them.

use sbx_tests::harness::{Sandbox, is_root};
use std::path::Path;

/// How many entries the store's directory `sub` holds.
fn entries(s: &Sandbox, sub: &str) -> usize {
    std::fs::read_dir(s.root.join(sub)).map(|d| d.count()).unwrap_or(0)
}

fn layers(s: &Sandbox) -> usize {
    entries(s, "layers")
}

/// A second image on top of busybox: one more layer, committed from a container.
fn derived(s: &Sandbox, name: &str) {
    derived_with(s, name, "made");
}

fn derived_with(s: &Sandbox, name: &str, content: &str) {
    let r = s.sbx(&["run", "--name", "maker", "busybox", "sh", "-c", &format!("echo {content} > /made")]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = s.sbx(&["commit", "maker", name]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.sbx(&["rm", "maker"]).code, 0);
}

#[test]
fn short_names_find_localhost_images_and_several_different_ones_are_refused() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    assert_eq!(s.sbx(&["tag", "busybox", "localhost/tool"]).code, 0);
    let r = s.sbx(&["run", "--rm", "tool", "true"]);
    assert_eq!(r.code, 0, "a short name finds localhost/tool:latest: {r:?}");
    let r = s.sbx(&["run", "--rm", "docker.io/library/busybox:latest", "true"]);
    assert_eq!(r.code, 0, "docker.io/library/busybox is busybox: {r:?}");

    derived(&s, "localhost/other");
    let r = s.sbx(&["tag", "busybox", "other"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = s.sbx(&["run", "--rm", "other", "true"]);
    assert!(
        r.code == 125
            && r.stderr.contains(
                "the short name 'other' may mean any of localhost/other:latest, docker.io/library/other:latest"
            ),
        "{r:?}"
    );
    let r = s.sbx(&["run", "--rm", "localhost/other", "cat", "/made"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "made\n"), "the full name is not ambiguous: {r:?}");

    let r = s.sbx(&["tag", "busybox", "bad name"]);
    assert!(r.code == 125 && r.stderr.contains("'bad name' is not a valid image name"), "{r:?}");
    let r = s.sbx(&["tag", "nosuch", "x"]);
    assert!(r.code == 125 && r.stderr.contains("no image 'nosuch'"), "{r:?}");
    let cfg = s.write_config("registries: { search: [quay.io] }\n");
    let r = s.sbx(&["--config", &cfg, "run", "--rm", "other", "cat", "/made"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "made\n"), "docker.io is not searched: {r:?}");
    let cfg = s.write_config("registries: { search: [not a host] }\n");
    let r = s.sbx(&["--config", &cfg, "images"]);
    assert!(r.code == 125 && r.stderr.contains("registries.search: 'not a host' is not a registry host"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn rmi_untags_refuses_images_in_use_and_frees_only_layers_nothing_names() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    derived(&s, "derived");
    assert_eq!(layers(&s), 2);
    assert_eq!(s.sbx(&["tag", "derived", "second:v2"]).code, 0);
    let r = s.sbx(&["rmi", "second:v2"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "Untagged: second:v2\n"), "{r:?}");

    let r = s.sbx(&["create", "--name", "user", "derived", "cat", "/made"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = s.sbx(&["system", "df"]);
    let rows: Vec<Vec<&str>> = r.stdout.lines().map(|l| l.split_whitespace().collect()).collect();
    assert_eq!(
        (rows[1][..3].to_vec(), rows[2][..3].to_vec()),
        (vec!["Images", "2", "1"], vec!["Containers", "1", "0"])
    );
    assert_eq!(rows[1][4], "0B", "busybox's layer is derived's too, which a container uses: {r:?}");
    let r = s.sbx(&["rmi", "derived"]);
    assert!(r.code == 1 && r.stderr.contains("container user uses it"), "{r:?}");
    let r = s.sbx(&["image", "rm", "-f", "derived"]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(r.code, 0, "{r:?}");
    assert!(lines[0] == "Untagged: derived:latest" && lines[1].starts_with("Deleted: sha256:"), "{r:?}");
    assert_eq!(lines.len(), 2, "no layer goes: busybox and the container hold them: {r:?}");
    assert_eq!(layers(&s), 2);
    let r = s.sbx(&["start", "-a", "user"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "made\n"), "the container still runs: {r:?}");
    assert_eq!(s.sbx(&["rm", "user"]).code, 0);
    assert_eq!(layers(&s), 1, "its layer went with the last container that named it");

    let r = s.sbx(&["rmi", "nosuch"]);
    assert!(r.code == 1 && r.stderr.contains("no image 'nosuch'"), "{r:?}");
    let r = s.sbx(&["run", "-d", "--name", "runner", "busybox", "sleep", "100"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = s.sbx(&["rmi", "-f", "busybox"]);
    assert!(r.code == 1 && r.stderr.contains("container runner runs on it; stop it first"), "{r:?}");
    assert_eq!(s.sbx(&["rm", "-f", "runner"]).code, 0);
    let r = s.sbx(&["rmi", "busybox"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(r.stdout.lines().filter(|l| l.starts_with("Deleted: ")).count(), 2, "image and layer: {r:?}");
    assert_eq!(layers(&s), 0);
    assert_eq!(entries(&s, "blobs/sha256"), 0, "the config and manifest went too");
    s.assert_clean(0);
}

#[test]
fn prune_removes_unnamed_images_or_with_all_the_unused_ones_and_finishes_a_cut_removal() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    derived(&s, "derived");
    // Retagging the name away leaves the old image without one, as docker's dangling images.
    derived_with(&s, "derived", "again");
    let r = s.sbx(&["image", "prune", "-f"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout.starts_with("Deleted Images:\ndeleted: sha256:") && r.stdout.contains("Total reclaimed space: "),
        "{r:?}"
    );
    assert_eq!(layers(&s), 2, "the unnamed image's own layer went");
    let r = s.sbx(&["image", "prune", "-f"]);
    assert_eq!(r.stdout, "Total reclaimed space: 0B\n", "{r:?}");

    // A removal cut short after it removed the image's record: the next one frees its layers.
    let images = s.root.join("images");
    let derived_record = std::fs::read_dir(&images)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| std::fs::read_to_string(p).unwrap().contains("derived"))
        .unwrap();
    let record: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&derived_record).unwrap()).unwrap();
    let top = record["layers"][1]["diff_id"].as_str().unwrap().to_string();
    std::fs::write(s.root.join("tmp/removing-cut.json"), serde_json::json!([top]).to_string()).unwrap();
    std::fs::remove_file(&derived_record).unwrap();
    assert_eq!(layers(&s), 2);
    let r = s.sbx(&["image", "prune", "-a", "-f"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(layers(&s), 0, "the cut removal's layer and busybox's: {r:?}");
    assert!(!Path::new(&s.root.join("tmp/removing-cut.json")).exists());
    s.assert_clean(0);
}

#[test]
fn import_makes_an_image_of_a_root_filesystem_tarball_and_refuses_what_is_not_one() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let layer = std::fs::read_dir(s.root.join("layers")).unwrap().flatten().next().unwrap().path().join("diff");
    let tarball = s.scratch.join("rootfs.tar.gz");
    let tar = std::process::Command::new("tar").arg("-C").arg(&layer).arg("-czf").arg(&tarball).arg(".").status();
    assert!(tar.unwrap().success());
    let r = s.sbx(&["import", &tarball.to_string_lossy(), "imported:1"]);
    assert!(r.code == 0 && r.stdout.starts_with("sha256:"), "prints the id: {r:?}");
    let r = s.sbx(&["run", "--rm", "imported:1", "/bin/busybox", "echo", "hi"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "hi\n"), "{r:?}");
    let r = s.sbx(&["run", "--rm", "imported:1"]);
    assert!(r.code == 125 && r.stderr.contains("no command"), "an imported image has no command: {r:?}");

    let before = entries(&s, "images");
    let not_tar = s.scratch.join("notes.txt");
    std::fs::write(&not_tar, "x".repeat(2000)).unwrap();
    let r = s.sbx(&["import", &not_tar.to_string_lossy()]);
    assert!(r.code == 125 && r.stderr.contains("notes.txt"), "{r:?}");
    let r = s.sbx(&["import", &s.scratch.to_string_lossy()]);
    assert!(r.code == 125 && r.stderr.contains("is not a regular file"), "{r:?}");
    let r = s.sbx(&["import", &tarball.to_string_lossy(), "bad name"]);
    assert!(r.code == 125 && r.stderr.contains("'bad name' is not a valid image name"), "{r:?}");
    assert_eq!(entries(&s, "images"), before, "nothing was stored");
    s.assert_clean(0);
}

#[test]
fn export_writes_the_containers_merged_filesystem_and_leaves_nothing_mounted() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    let script = "echo hello > /etc/motd; rm /bin/ls; mkdir /data; echo d > /data/x";
    assert_eq!(s.sbx(&["run", "--name", "ex", "busybox", "sh", "-c", script]).code, 0);
    let out = s.scratch.join("ex.tar");
    let r = s.sbx(&["export", "-o", &out.to_string_lossy(), "ex"]);
    assert_eq!(r.code, 0, "{r:?}");
    let list = std::process::Command::new("tar").arg("-tf").arg(&out).output().unwrap();
    let names = String::from_utf8_lossy(&list.stdout).into_owned();
    let has = |n: &str| names.lines().any(|l| l == n);
    assert!(has("etc/motd") && has("data/x") && has("bin/sh"), "the layers and the writable layer: {names}");
    assert!(!has("bin/ls"), "what the container removed is not there");
    assert!(has("proc/") && has("dev/") && has("sys/"), "the mount points, as docker's export has them: {names}");
    let motd = std::process::Command::new("tar").arg("-xOf").arg(&out).arg("etc/motd").output().unwrap();
    assert_eq!(motd.stdout, b"hello\n");
    // The export of the imported tarball runs as the container's files.
    let r = s.sbx(&["import", &out.to_string_lossy(), "exported"]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = s.sbx(&["run", "--rm", "exported", "/bin/cat", "/data/x"]);
    assert_eq!((r.code, r.stdout.as_str()), (0, "d\n"), "{r:?}");

    let missing = s.scratch.join("none.tar");
    let r = s.sbx(&["export", "-o", &missing.to_string_lossy(), "nosuch"]);
    assert!(r.code == 1 && r.stderr.contains("nosuch") && !missing.exists(), "{r:?}");
    assert_eq!(s.sbx(&["rm", "ex"]).code, 0);
    s.assert_clean(0);
}
