//! `sbx load` end to end: every format and compression, layers shared between images, and hostile
//! archives refused with the offending entry named and nothing written outside the store.

use sbx_tests::harness::{Sandbox, is_root, test_image, wait_for};
use sbx_tests::image::{Compression, Image, Layer, busybox};
use std::path::Path;

#[test]
fn loads_every_format_and_compression() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let image = test_image("layered").unwrap();
    type Write<'a> = Box<dyn Fn(&Path) + 'a>;
    let cases: Vec<(&str, Write)> = vec![
        ("layout-gzip", Box::new(|p| image.write_oci_layout(p, Compression::Gzip).unwrap())),
        ("layout-zstd", Box::new(|p| image.write_oci_layout(p, Compression::Zstd).unwrap())),
        ("layout-plain", Box::new(|p| image.write_oci_layout(p, Compression::None).unwrap())),
        ("oci.tar", Box::new(|p| image.write_oci_archive(p, Compression::Gzip).unwrap())),
        ("docker.tar", Box::new(|p| image.write_docker_archive(p).unwrap())),
    ];
    for (name, write) in &cases {
        let path = s.scratch.join(name);
        write(&path);
        let r = s.sbx(&["load", "-i", path.to_str().unwrap()]);
        assert_eq!(r.code, 0, "{name}: {r:?}");
        assert_eq!(r.stdout, "Loaded image: layered:latest\n", "{name}");
        let r = s.sbx(&["run", "--rm", "layered", "cat", "/data/new"]);
        assert_eq!((r.code, r.stdout.as_str()), (0, "new\n"), "{name}: {r:?}");
    }
    assert_eq!(s.layers().len(), 3, "each layer is unpacked once, whatever the archive");
    let r = s.sbx(&["image", "load", s.scratch.join("docker.tar").to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    let r = s.sbx(&["images"]);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(lines.len(), 2, "one image, whatever the loads: {r:?}");
    assert!(lines[0].starts_with("REPOSITORY") && lines[0].contains("LAYERS"));
    assert!(lines[1].starts_with("layered ") && lines[1].trim_end().ends_with(" 3"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn images_share_layers() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    s.load(&test_image("busybox").unwrap());
    s.load(&test_image("setuid").unwrap());
    assert_eq!(s.layers().len(), 2, "setuid's busybox layer is busybox's");
}

/// A canary directory outside the store that hostile archives aim at.
struct Canary(std::path::PathBuf);

impl Canary {
    fn new(s: &Sandbox) -> Canary {
        let dir = s.scratch.join("canary");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("victim"), "untouched").unwrap();
        Canary(dir)
    }

    fn assert_untouched(&self) {
        let names: Vec<_> = std::fs::read_dir(&self.0).unwrap().flatten().map(|e| e.file_name()).collect();
        assert_eq!(names, ["victim"], "something was written into the canary dir");
        assert_eq!(std::fs::read_to_string(self.0.join("victim")).unwrap(), "untouched");
    }
}

/// Loads a busybox image with `hostile` on top; expects a refusal naming `needle`.
fn refused(s: &Sandbox, hostile: Layer, needle: &str) {
    let image = Image::new("hostile:latest", vec![busybox().unwrap(), hostile]);
    let path = s.oci(&image, &format!("hostile-{}", needle.len()));
    let r = s.sbx(&["load", "-i", &path]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains(needle), "the error names {needle}: {r:?}");
    assert!(s.sbx(&["images", "-q"]).stdout.is_empty(), "no image is recorded");
    assert_eq!(s.layers().len(), 1, "only the good base layer is kept, the hostile one is gone");
    s.assert_clean(0);
}

#[test]
fn path_traversal_is_refused() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let canary = Canary::new(&s);
    let depth = "../".repeat(12);
    let target = format!("{depth}{}/evil", canary.0.display().to_string().trim_start_matches('/'));
    refused(&s, Layer::new().file(&target, 0o644, b"pwned"), "has a '..' component");
    canary.assert_untouched();
}

#[test]
fn absolute_paths_are_refused() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let canary = Canary::new(&s);
    let target = format!("{}/evil", canary.0.display());
    refused(&s, Layer::new().file(&target, 0o644, b"pwned"), "has an absolute path");
    canary.assert_untouched();
}

#[test]
fn writing_through_a_symlink_is_refused() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let canary = Canary::new(&s);
    let hostile = Layer::new().symlink("escape", &canary.0.display().to_string()).file("escape/evil", 0o644, b"pwned");
    refused(&s, hostile, "'escape/evil' goes through 'escape', which is a symlink");
    let hostile = Layer::new().symlink("up", "../../../../../../../..").file("up/tmp/evil", 0o644, b"pwned");
    refused(&s, hostile, "goes through 'up', which is a symlink");
    canary.assert_untouched();
}

#[test]
fn hardlinks_out_of_the_layer_are_refused() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let canary = Canary::new(&s);
    let victim = canary.0.join("victim").display().to_string();
    refused(&s, Layer::new().hardlink("stolen", &victim), "is a hardlink to");
    refused(&s, Layer::new().hardlink("stolen", "../../../../etc/shadow"), "is a hardlink to '../../../../etc/shadow'");
    refused(&s, Layer::new().hardlink("stolen", "bin/busybox"), "which this layer does not contain");
    canary.assert_untouched();
}

#[test]
fn digest_and_size_mismatches_and_truncation_are_refused() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let image = Image::new("t:latest", vec![busybox().unwrap()]);
    let dir = s.scratch.join("tampered");
    image.write_oci_layout(&dir, Compression::None).unwrap();
    // The biggest blob is the layer: flip a byte inside busybox's binary.
    let layer = biggest_blob(&dir);
    let mut bytes = std::fs::read(&layer).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&layer, &bytes).unwrap();
    let r = s.sbx(&["load", "-i", dir.to_str().unwrap()]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(
        r.stderr.contains("digest mismatch")
            && r.stderr.contains(&layer.file_name().unwrap().to_string_lossy().to_string()),
        "{r:?}"
    );

    let dir = s.scratch.join("truncated");
    image.write_oci_layout(&dir, Compression::Gzip).unwrap();
    let layer = biggest_blob(&dir);
    let bytes = std::fs::read(&layer).unwrap();
    std::fs::write(&layer, &bytes[..bytes.len() / 2]).unwrap();
    let r = s.sbx(&["load", "-i", dir.to_str().unwrap()]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(
        r.stderr.contains(&layer.file_name().unwrap().to_string_lossy().to_string()),
        "the error names the blob: {r:?}"
    );

    let archive = s.scratch.join("truncated.tar");
    image.write_docker_archive(&archive).unwrap();
    let bytes = std::fs::read(&archive).unwrap();
    std::fs::write(&archive, &bytes[..bytes.len() * 2 / 3]).unwrap();
    let r = s.sbx(&["load", "-i", archive.to_str().unwrap()]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(
        r.stderr.contains("truncated")
            || r.stderr.contains("failed to fill whole buffer")
            || r.stderr.contains("unexpected"),
        "{r:?}"
    );

    assert!(s.layers().is_empty(), "no layer of a refused image is kept: {:?}", s.layers());
    s.assert_clean(0);
}

fn biggest_blob(layout: &Path) -> std::path::PathBuf {
    std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .flatten()
        .max_by_key(|e| e.metadata().unwrap().len())
        .unwrap()
        .path()
}

#[test]
fn not_an_image_says_so() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let junk = s.scratch.join("junk.tar");
    std::fs::write(&junk, vec![0u8; 4096]).unwrap();
    let r = s.sbx(&["load", "-i", junk.to_str().unwrap()]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("is not an image"), "{r:?}");
    let r = s.sbx(&["load", "-i", "/nonexistent/image.tar"]);
    assert_eq!(r.code, 125, "{r:?}");
    assert!(r.stderr.contains("/nonexistent/image.tar"), "{r:?}");
    s.assert_clean(0);
}

#[test]
fn a_killed_load_leaves_no_half_layer_and_the_next_load_sweeps_up() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let archive = s.scratch.join("many.tar");
    test_image("many:300").unwrap().write_docker_archive(&archive).unwrap();
    let mut load = s.command(&["load", "-q", "-i", archive.to_str().unwrap()]).spawn().unwrap();
    // Kill it once it is well into unpacking.
    wait_for("the load to be well into unpacking", || s.layers().len() >= 20);
    load.kill().unwrap();
    load.wait().unwrap();
    let kept = s.layers();
    assert!(!kept.is_empty() && kept.len() < 300, "killed mid-load: {} layers", kept.len());
    for layer in &kept {
        assert!(s.root.join("layers").join(layer).join("layer.json").exists(), "layer {layer} is whole");
    }
    let r = s.sbx(&["load", "-q", "-i", archive.to_str().unwrap()]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.layers().len(), 300);
    s.assert_clean(0);
}
