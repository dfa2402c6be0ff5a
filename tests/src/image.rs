//! A test image builder: layers from code (including hostile entries a normal tar writer refuses),
//! written as an OCI layout, an oci-archive or a docker-archive. Busybox from Debian's
//! busybox-static gives a tiny real rootfs.

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::path::Path;

pub fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A layer tarball built entry by entry.
pub struct Layer {
    tar: tar::Builder<Vec<u8>>,
}

impl Default for Layer {
    fn default() -> Self {
        Layer::new()
    }
}

fn header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_mode(mode);
    h.set_size(size);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h
}

impl Layer {
    pub fn new() -> Layer {
        Layer { tar: tar::Builder::new(Vec::new()) }
    }

    /// Appends an entry whose name is written as raw bytes, so `..` and absolute paths can be
    /// made (the tar crate refuses them through its path API).
    pub fn raw(mut self, name: &[u8], mut h: tar::Header, data: &[u8], link: Option<&[u8]>) -> Layer {
        let old = h.as_old_mut();
        old.name = [0; 100];
        old.name[..name.len()].copy_from_slice(name);
        if let Some(link) = link {
            old.linkname = [0; 100];
            old.linkname[..link.len()].copy_from_slice(link);
        }
        h.set_cksum();
        self.tar.append(&h, data).expect("in-memory tar");
        self
    }

    /// A character device node `major`:`minor`, as a hostile image may carry one.
    pub fn char_device(self, path: &str, major: u32, minor: u32) -> Layer {
        let mut h = header(tar::EntryType::Char, 0o666, 0);
        h.set_device_major(major).expect("a gnu header has a device field");
        h.set_device_minor(minor).expect("a gnu header has a device field");
        self.raw(path.as_bytes(), h, &[], None)
    }

    pub fn dir(self, path: &str, mode: u32) -> Layer {
        self.raw(path.as_bytes(), header(tar::EntryType::Directory, mode, 0), &[], None)
    }

    pub fn file(self, path: &str, mode: u32, data: &[u8]) -> Layer {
        self.raw(path.as_bytes(), header(tar::EntryType::Regular, mode, data.len() as u64), data, None)
    }

    pub fn file_owned(self, path: &str, mode: u32, uid: u64, gid: u64, data: &[u8]) -> Layer {
        let mut h = header(tar::EntryType::Regular, mode, data.len() as u64);
        h.set_uid(uid);
        h.set_gid(gid);
        self.raw(path.as_bytes(), h, data, None)
    }

    pub fn symlink(self, path: &str, target: &str) -> Layer {
        self.raw(path.as_bytes(), header(tar::EntryType::Symlink, 0o777, 0), &[], Some(target.as_bytes()))
    }

    pub fn hardlink(self, path: &str, target: &str) -> Layer {
        self.raw(path.as_bytes(), header(tar::EntryType::Link, 0o644, 0), &[], Some(target.as_bytes()))
    }

    /// `.wh.NAME` in the parent of `path`: deletes `path` from the layers below.
    pub fn whiteout(self, path: &str) -> Layer {
        let (dir, name) = path.rsplit_once('/').map_or(("", path), |(d, n)| (d, n));
        let wh = if dir.is_empty() { format!(".wh.{name}") } else { format!("{dir}/.wh.{name}") };
        self.file(&wh, 0o600, b"")
    }

    /// `.wh..wh..opq` in `dir`: hides what the layers below have in it.
    pub fn opaque(self, dir: &str) -> Layer {
        self.file(&format!("{dir}/.wh..wh..opq"), 0o600, b"")
    }

    pub fn into_bytes(self) -> Vec<u8> {
        self.tar.into_inner().expect("in-memory tar")
    }
}

/// The busybox-static binary with a symlink per applet, and a minimal /etc.
pub fn busybox() -> Result<Layer> {
    let path = Path::new("/bin/busybox");
    let bin =
        fs::read(path).context("reading /bin/busybox: install busybox-static (apt-get install busybox-static)")?;
    let out = std::process::Command::new(path).arg("--list").output().context("busybox --list")?;
    if !out.status.success() {
        bail!("busybox --list failed");
    }
    let mut layer = Layer::new()
        .dir("./", 0o755)
        .dir("bin", 0o755)
        .dir("etc", 0o755)
        .dir("tmp", 0o1777)
        .dir("root", 0o700)
        .file("bin/busybox", 0o755, &bin)
        .file(
            "etc/passwd",
            0o644,
            b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )
        .file("etc/group", 0o644, b"root:x:0:\nnogroup:x:65534:\n");
    for applet in String::from_utf8_lossy(&out.stdout).lines() {
        if applet != "busybox" && !applet.is_empty() {
            layer = layer.symlink(&format!("bin/{applet}"), "busybox");
        }
    }
    Ok(layer)
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    fn apply(self, tar: &[u8]) -> Vec<u8> {
        match self {
            Compression::None => tar.to_vec(),
            Compression::Gzip => {
                let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                e.write_all(tar).expect("in memory");
                e.finish().expect("in memory")
            }
            Compression::Zstd => zstd::encode_all(tar, 1).expect("in memory"),
        }
    }

    fn media_type(self) -> &'static str {
        match self {
            Compression::None => "application/vnd.oci.image.layer.v1.tar",
            Compression::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compression::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// An image: layer tarballs (uncompressed, bottom first) and its config.
pub struct Image {
    pub name: String,
    pub layers: Vec<Vec<u8>>,
    pub config: Value,
}

/// A written blob: (digest hex, bytes).
struct Blob(String, Vec<u8>);

impl Blob {
    fn new(bytes: Vec<u8>) -> Blob {
        Blob(sha256(&bytes), bytes)
    }
}

impl Image {
    pub fn new(name: &str, layers: Vec<Layer>) -> Image {
        Image {
            name: name.to_string(),
            layers: layers.into_iter().map(Layer::into_bytes).collect(),
            config: json!({ "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"] }),
        }
    }

    pub fn with_config(mut self, config: Value) -> Image {
        self.config = config;
        self
    }

    fn config_blob(&self) -> Blob {
        let diff_ids: Vec<String> = self.layers.iter().map(|l| format!("sha256:{}", sha256(l))).collect();
        let history: Vec<Value> =
            (0..self.layers.len()).map(|i| json!({ "created_by": format!("sbx-tests layer {i}") })).collect();
        Blob::new(
            serde_json::to_vec(&json!({
                "architecture": "amd64",
                "os": "linux",
                "created": "2026-01-01T00:00:00Z",
                "config": self.config,
                "rootfs": { "type": "layers", "diff_ids": diff_ids },
                "history": history,
            }))
            .expect("json"),
        )
    }

    /// The OCI layout files (path, bytes), with layers compressed as asked.
    fn oci_files(&self, compression: Compression) -> Vec<(String, Vec<u8>)> {
        let config = self.config_blob();
        let layers: Vec<Blob> = self.layers.iter().map(|l| Blob::new(compression.apply(l))).collect();
        let manifest = Blob::new(
            serde_json::to_vec(&json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": { "mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{}", config.0), "size": config.1.len() },
                "layers": layers.iter().map(|b| json!({ "mediaType": compression.media_type(), "digest": format!("sha256:{}", b.0), "size": b.1.len() })).collect::<Vec<_>>(),
            }))
            .expect("json"),
        );
        let index = json!({
            "schemaVersion": 2,
            "manifests": [{
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": format!("sha256:{}", manifest.0),
                "size": manifest.1.len(),
                "annotations": { "org.opencontainers.image.ref.name": self.name },
            }],
        });
        let mut files = vec![
            ("oci-layout".to_string(), br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()),
            ("index.json".to_string(), serde_json::to_vec(&index).expect("json")),
        ];
        for b in std::iter::once(config).chain(layers).chain(std::iter::once(manifest)) {
            files.push((format!("blobs/sha256/{}", b.0), b.1));
        }
        files
    }

    pub fn write_oci_layout(&self, dir: &Path, compression: Compression) -> Result<()> {
        for (name, bytes) in self.oci_files(compression) {
            let path = dir.join(name);
            fs::create_dir_all(path.parent().expect("has parent"))?;
            fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        }
        Ok(())
    }

    pub fn write_oci_archive(&self, path: &Path, compression: Compression) -> Result<()> {
        write_tar(path, self.oci_files(compression))
    }

    /// What `docker save` writes: manifest.json, the config, and uncompressed layer.tar files.
    pub fn write_docker_archive(&self, path: &Path) -> Result<()> {
        let config = self.config_blob();
        let mut files = Vec::new();
        let mut layer_paths = Vec::new();
        for l in &self.layers {
            let p = format!("{}/layer.tar", sha256(l));
            layer_paths.push(p.clone());
            files.push((p, l.clone()));
        }
        let manifest =
            json!([{ "Config": format!("{}.json", config.0), "RepoTags": [self.name], "Layers": layer_paths }]);
        files.push((format!("{}.json", config.0), config.1));
        files.insert(0, ("manifest.json".to_string(), serde_json::to_vec(&manifest).expect("json")));
        write_tar(path, files)
    }
}

fn write_tar(path: &Path, files: Vec<(String, Vec<u8>)>) -> Result<()> {
    let mut b = tar::Builder::new(fs::File::create(path).with_context(|| format!("creating {}", path.display()))?);
    for (name, bytes) in files {
        let mut h = header(tar::EntryType::Regular, 0o644, bytes.len() as u64);
        h.set_path(&name)?;
        h.set_cksum();
        b.append(&h, &bytes[..])?;
    }
    b.finish()?;
    Ok(())
}
