//! Images bounded in everything: sparse files, huge long names and PAX headers, decompression
//! bombs, layers over the configured size or entry count, blobs that are FIFOs, devices or links
//! out of their layout, and inputs that made sbx's work quadratic (100,000 env entries, 3000
//! images in one archive, 5000 levels of nesting) or left staging behind (a refused layer nested
//! deeper than the descriptor limit). Each is a clear refusal naming the entry or blob, or a load
//! within bounded time, with nothing left in the store.

use sbx_tests::harness::{Run, Sandbox, is_root, test_image};
use sbx_tests::image::{Compression, Image, Layer, busybox};
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(120);

fn header(kind: tar::EntryType, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h
}

/// A layer tarball from a builder's closure (tar's own API: long names become GNU extensions).
fn layer(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    build(&mut b);
    b.into_inner().unwrap()
}

/// A tarball that is one raw header (and no data after it), then the end blocks.
fn one_header(name: &str, kind: tar::EntryType, size: u64) -> Vec<u8> {
    let mut h = header(kind, size);
    h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend([0u8; 1024]);
    out
}

fn image_of(name: &str, layer_bytes: Vec<u8>) -> Image {
    let mut image = Image::new(&format!("{name}:latest"), vec![]);
    image.layers = vec![layer_bytes];
    image
}

fn load_layout(s: &Sandbox, image: &Image, compression: Compression, config: Option<&str>) -> Run {
    let dir = s.scratch.join(format!("layout-{}", image.name.replace(':', "-")));
    image.write_oci_layout(&dir, compression).unwrap();
    load_path(s, &dir.display().to_string(), config)
}

fn load_path(s: &Sandbox, path: &str, config: Option<&str>) -> Run {
    let mut args = vec![];
    if let Some(c) = config {
        args.extend(["--config", c]);
    }
    args.extend(["load", "-q", "-i", path]);
    s.sbx_within(LIMIT, &args)
}

fn refused(r: &Run, said: &[&str]) {
    assert_eq!(r.code, 125, "{r:?}");
    for s in said {
        assert!(r.stderr.contains(s), "{s}: {r:?}");
    }
}

#[test]
fn hostile_layers_are_refused_naming_the_entry_within_bounds() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    // A GNU sparse file claiming 1 TB.
    let mut sparse = header(tar::EntryType::GNUSparse, 0);
    sparse.as_gnu_mut().unwrap().set_real_size(1 << 40);
    let sparse = layer(|b| b.append_data(&mut sparse, "huge", &[][..]).unwrap());
    refused(&load_layout(&s, &image_of("sparse", sparse), Compression::Gzip, None), &["'huge' is a GNU sparse file"]);
    // A 1 GiB GNU long name and a 1 GiB PAX header, declared and never sent whole.
    let long = one_header("././@LongLink", tar::EntryType::GNULongName, 1 << 30);
    refused(
        &load_layout(&s, &image_of("long", long), Compression::None, None),
        &["tar extension header", "1073741824 bytes"],
    );
    let pax = one_header("pax", tar::EntryType::XHeader, 1 << 30);
    refused(&load_layout(&s, &image_of("pax", pax), Compression::None, None), &["'pax' has a tar extension header"]);
    // A gzip bomb: 300 MiB of zeros in about 300 KB.
    let bomb = layer(|b| {
        let zeros = std::io::repeat(0).take(300 << 20);
        b.append_data(&mut header(tar::EntryType::Regular, 300 << 20), "zeros", zeros).unwrap();
    });
    let r = load_layout(&s, &image_of("bomb", bomb), Compression::Gzip, None);
    refused(&r, &["'zeros' takes the layer past 100 times its compressed size", "decompression bomb"]);
    // Configured limits: bytes and entries.
    let config = s.write_config("layers: { max-bytes: 1048576, max-entries: 100 }\n");
    let big = layer(|b| {
        b.append_data(&mut header(tar::EntryType::Regular, 2 << 20), "big", &vec![7u8; 2 << 20][..]).unwrap()
    });
    refused(
        &load_layout(&s, &image_of("big", big), Compression::Gzip, Some(&config)),
        &["past 1048576 bytes unpacked"],
    );
    let many = layer(|b| {
        for i in 0..200 {
            b.append_data(&mut header(tar::EntryType::Regular, 0), format!("f{i}"), &[][..]).unwrap();
        }
    });
    refused(
        &load_layout(&s, &image_of("many", many), Compression::Gzip, Some(&config)),
        &["'f100' is one entry more than the 100"],
    );
    assert!(s.layers().is_empty(), "no layer was kept: {:?}", s.layers());
    s.assert_clean(0);
}

use std::io::Read as _;

#[test]
fn blobs_and_archives_must_be_regular_files() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let image = test_image("busybox").unwrap();
    let layout = s.scratch.join("layout");
    image.write_oci_layout(&layout, Compression::Gzip).unwrap();
    let biggest = std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .flatten()
        .max_by_key(|e| e.metadata().unwrap().len())
        .unwrap()
        .path();
    let mkfifo = |p: &std::path::Path| assert!(std::process::Command::new("mkfifo").arg(p).status().unwrap().success());
    std::fs::remove_file(&biggest).unwrap();
    mkfifo(&biggest);
    refused(&load_path(&s, &layout.display().to_string(), None), &["is a FIFO, not a regular file"]);
    std::fs::remove_file(&biggest).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &biggest).unwrap();
    refused(&load_path(&s, &layout.display().to_string(), None), &["leads out of the layout"]);
    refused(&load_path(&s, "/dev/zero", None), &["/dev/zero is a character device, not a regular file"]);
    let fifo = s.scratch.join("archive.tar");
    mkfifo(&fifo);
    refused(&load_path(&s, &fifo.display().to_string(), None), &["is a FIFO, not a regular file"]);
    s.assert_clean(0);
}

#[test]
fn inputs_that_made_work_quadratic_load_in_bounded_time() {
    if !is_root() {
        return;
    }
    let s = Sandbox::with_busybox();
    // 100,000 environment entries in the image's config.
    let env: Vec<String> = (0..100_000).map(|i| format!("V{i}={i}")).collect();
    let wide = Image::new("wide:latest", vec![busybox().unwrap()])
        .with_config(serde_json::json!({ "Env": env, "Cmd": ["true"] }));
    s.load(&wide);
    let r = s.sbx_within(LIMIT, &["create", "--name", "wide", "wide"]);
    assert_eq!(r.code, 0, "{r:?}");
    assert_eq!(s.sbx(&["rm", "wide"]).code, 0);

    // 3000 images in one docker-archive, sharing one layer.
    let archive = s.scratch.join("many-images.tar");
    write_many_images(&archive, 3000);
    let r = s.sbx_within(LIMIT, &["load", "-q", "-i", &archive.display().to_string()]);
    assert_eq!(r.code, 0, "{r:?}");
    let listed = s.sbx(&["images"]).stdout.lines().filter(|l| l.starts_with("img")).count();
    assert_eq!(listed, 3000);

    // 5000 levels of directories, each an entry.
    let deep = layer(|b| {
        let mut path = String::new();
        for _ in 0..5000 {
            path.push_str("d/");
            b.append_data(&mut header(tar::EntryType::Directory, 0), &path, &[][..]).unwrap();
        }
        b.append_data(&mut header(tar::EntryType::Regular, 5), format!("{path}leaf"), &b"deep\n"[..]).unwrap();
    });
    let r = load_layout(&s, &image_of("deep", deep), Compression::Gzip, None);
    assert_eq!(r.code, 0, "{r:?}");
    s.assert_clean(0);
}

/// A docker-archive of `n` images, each with its own config and name, sharing one small layer.
fn write_many_images(path: &std::path::Path, n: usize) {
    let layer = Layer::new().file("hello", 0o644, b"hi\n").into_bytes();
    let diff_id = format!("sha256:{}", sbx_tests::image::sha256(&layer));
    let mut b = tar::Builder::new(std::fs::File::create(path).unwrap());
    let add = |b: &mut tar::Builder<std::fs::File>, name: &str, bytes: &[u8]| {
        b.append_data(&mut header(tar::EntryType::Regular, bytes.len() as u64), name, bytes).unwrap();
    };
    add(&mut b, "layer.tar", &layer);
    let mut manifest = Vec::new();
    for i in 0..n {
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64", "os": "linux", "config": { "Cmd": ["true"], "Labels": { "n": i.to_string() } },
            "rootfs": { "type": "layers", "diff_ids": [diff_id] },
        }))
        .unwrap();
        let name = format!("{}.json", sbx_tests::image::sha256(&config));
        add(&mut b, &name, &config);
        manifest.push(
            serde_json::json!({ "Config": name, "RepoTags": [format!("img{i}:latest")], "Layers": ["layer.tar"] }),
        );
    }
    add(&mut b, "manifest.json", &serde_json::to_vec(&manifest).unwrap());
    b.finish().unwrap();
}

#[test]
fn a_refused_layer_deeper_than_the_descriptor_limit_leaves_nothing() {
    if !is_root() {
        return;
    }
    let s = Sandbox::new();
    let deep = layer(|b| {
        let mut path = String::new();
        for _ in 0..1500 {
            path.push_str("d/");
            b.append_data(&mut header(tar::EntryType::Directory, 0), &path, &[][..]).unwrap();
        }
    });
    // The last entry climbs out of the layer: the whole layer is refused.
    let mut bytes = deep;
    bytes.truncate(bytes.len() - 1024);
    let mut bad = header(tar::EntryType::Regular, 0);
    bad.as_old_mut().name[..11].copy_from_slice(b"../escaped!");
    bad.set_cksum();
    bytes.extend(bad.as_bytes());
    bytes.extend([0u8; 1024]);
    let dir = s.scratch.join("layout");
    image_of("deep", bytes).write_oci_layout(&dir, Compression::Gzip).unwrap();
    let out = std::process::Command::new("prlimit")
        .args(["--nofile=1024:1024", "--"])
        .arg(sbx_tests::harness::sbx_bin())
        .args(["load", "-q", "-i"])
        .arg(&dir)
        .env("SBX_ROOT", &s.root)
        .output()
        .unwrap();
    let r: Run = out.into();
    refused(&r, &["../escaped!"]);
    s.assert_clean(0);
}
