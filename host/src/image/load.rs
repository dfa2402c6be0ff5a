//! Loading images into the store from docker-archive tarballs, oci-archive tarballs and OCI layout
//! directories. Every blob's digest and size are checked while it streams; each layer is unpacked
//! into a staging directory and renamed into the store only when whole and verified.

use super::digest::{Digest, Hashing};
use super::source::{Source, SourceError};
use super::store::{ImageRecord, LayerMeta, LayerRef, Staging, Store, StoreError};
use crate::image::reference;
use crate::layer::{self, UnpackError, UnpackReport};
use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest, MediaType};
use serde::Deserialize;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0} is not an image: it has neither manifest.json (docker-archive) nor index.json and oci-layout (OCI)")]
    UnknownFormat(PathBuf),
    #[error("{path}: '{member}' is not valid: {message}")]
    BadJson { path: PathBuf, member: String, message: String },
    #[error(
        "{path}: {what} {member}: digest mismatch: expected {expected}, got {actual}; the file is corrupt or was tampered with"
    )]
    DigestMismatch { path: PathBuf, what: &'static str, member: String, expected: Digest, actual: Digest },
    #[error("{path}: {what} {member}: size mismatch: expected {expected} bytes, got {actual}")]
    SizeMismatch { path: PathBuf, what: &'static str, member: String, expected: u64, actual: u64 },
    #[error("{path}: layer {member}: {source}")]
    Layer { path: PathBuf, member: String, source: UnpackError },
    #[error("{path}: layer {member}: {source}")]
    LayerRead { path: PathBuf, member: String, source: io::Error },
    #[error("{path}: the config lists {diff_ids} layers but the manifest has {layers}")]
    LayerCount { path: PathBuf, diff_ids: usize, layers: usize },
    #[error("{path}: no image for {os}/{arch} in the index")]
    NoPlatform { path: PathBuf, os: String, arch: String },
}

/// One image to load, whatever the format it came in.
struct Plan {
    names: Vec<String>,
    manifest: Option<Vec<u8>>,
    config: Vec<u8>,
    layers: Vec<LayerPlan>,
}

struct LayerPlan {
    member: String,
    /// Digest and size from the manifest (OCI); docker-archive layers are checked by diff id only.
    expected: Option<(Digest, u64)>,
    media_type: Option<String>,
}

/// Loads every image in the archive or layout at `path`.
pub fn load(store: &Store, path: &Path) -> Result<Vec<ImageRecord>, LoadError> {
    store.sweep_staging();
    let source = Source::open(path)?;
    let plans = if source.has("manifest.json") {
        docker_plans(&source)?
    } else if source.has("index.json") && source.has("oci-layout") {
        oci_plans(&source)?
    } else {
        return Err(LoadError::UnknownFormat(path.to_path_buf()));
    };
    let records = plans.into_iter().map(|plan| load_one(store, &source, plan)).collect::<Result<Vec<_>, _>>()?;
    Ok(store.save_images(records)?)
}

fn bad_json(source: &Source, member: &str, e: impl std::fmt::Display) -> LoadError {
    LoadError::BadJson { path: source.path().to_path_buf(), member: member.to_string(), message: e.to_string() }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

fn docker_plans(source: &Source) -> Result<Vec<Plan>, LoadError> {
    let bytes = source.read_small("manifest.json")?;
    let entries: Vec<DockerManifestEntry> =
        serde_json::from_slice(&bytes).map_err(|e| bad_json(source, "manifest.json", e))?;
    entries
        .into_iter()
        .map(|e| {
            Ok(Plan {
                names: e.repo_tags.unwrap_or_default(),
                manifest: None,
                config: source.read_small(&e.config)?,
                layers: e
                    .layers
                    .into_iter()
                    .map(|member| LayerPlan { member, expected: None, media_type: None })
                    .collect(),
            })
        })
        .collect()
}

fn blob_member(digest: &Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}

fn parse_digest(source: &Source, member: &str, d: &impl ToString) -> Result<Digest, LoadError> {
    d.to_string().parse().map_err(|e| bad_json(source, member, e))
}

/// Checks a blob's digest and size against what its descriptor said.
pub(crate) fn check_blob(
    path: &Path,
    what: &'static str,
    member: &str,
    expected: (&Digest, u64),
    actual: (Digest, u64),
) -> Result<(), LoadError> {
    let (path, member) = (path.to_path_buf(), member.to_string());
    if &actual.0 != expected.0 {
        return Err(LoadError::DigestMismatch { path, what, member, expected: expected.0.clone(), actual: actual.0 });
    }
    if actual.1 != expected.1 {
        return Err(LoadError::SizeMismatch { path, what, member, expected: expected.1, actual: actual.1 });
    }
    Ok(())
}

/// Reads a small blob named by a descriptor and checks its digest and size.
fn verified_blob(source: &Source, what: &'static str, digest: &Digest, size: u64) -> Result<Vec<u8>, LoadError> {
    let member = blob_member(digest);
    let bytes = source.read_small(&member)?;
    check_blob(source.path(), what, &member, (digest, size), (Digest::of(&bytes), bytes.len() as u64))?;
    Ok(bytes)
}

pub fn host_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}

fn oci_plans(source: &Source) -> Result<Vec<Plan>, LoadError> {
    let bytes = source.read_small("index.json")?;
    let index = ImageIndex::from_reader(&bytes[..]).map_err(|e| bad_json(source, "index.json", e))?;
    let mut plans = Vec::new();
    for desc in index.manifests() {
        let annotations = desc.annotations().clone().unwrap_or_default();
        let mut digest = parse_digest(source, "index.json", desc.digest())?;
        let mut size = desc.size();
        if *desc.media_type() == MediaType::ImageIndex {
            // A multi-platform image: take the manifest for this machine.
            let nested_bytes = verified_blob(source, "index", &digest, size)?;
            let nested =
                ImageIndex::from_reader(&nested_bytes[..]).map_err(|e| bad_json(source, &blob_member(&digest), e))?;
            let pick = nested.manifests().iter().find(|m| {
                m.platform()
                    .as_ref()
                    .is_none_or(|p| p.os().to_string() == "linux" && p.architecture().to_string() == host_arch())
            });
            let Some(pick) = pick else {
                return Err(LoadError::NoPlatform {
                    path: source.path().into(),
                    os: "linux".into(),
                    arch: host_arch().into(),
                });
            };
            digest = parse_digest(source, "index.json", pick.digest())?;
            size = pick.size();
        }
        let manifest_bytes = verified_blob(source, "manifest", &digest, size)?;
        let manifest_member = blob_member(&digest);
        let manifest =
            ImageManifest::from_reader(&manifest_bytes[..]).map_err(|e| bad_json(source, &manifest_member, e))?;
        let config_digest = parse_digest(source, &manifest_member, manifest.config().digest())?;
        let config = verified_blob(source, "config", &config_digest, manifest.config().size())?;
        let layers = manifest
            .layers()
            .iter()
            .map(|l| {
                let d = parse_digest(source, &manifest_member, l.digest())?;
                Ok(LayerPlan {
                    member: blob_member(&d),
                    expected: Some((d, l.size())),
                    media_type: Some(l.media_type().to_string()),
                })
            })
            .collect::<Result<_, LoadError>>()?;
        let name = annotations
            .get("io.containerd.image.name")
            .or_else(|| annotations.get("org.opencontainers.image.ref.name"));
        let names = name.map(|n| full_name(n, source.path())).into_iter().collect();
        plans.push(Plan { names, manifest: Some(manifest_bytes), config, layers });
    }
    Ok(plans)
}

/// `org.opencontainers.image.ref.name` is often only a tag (skopeo writes `latest`); then the
/// archive's file name stands in for the repository, as podman does.
fn full_name(annotation: &str, path: &Path) -> String {
    if annotation.contains(':') || annotation.contains('/') {
        return annotation.to_string();
    }
    let stem = path.file_stem().map(|s| s.to_string_lossy().to_lowercase()).unwrap_or_else(|| "image".into());
    format!("{stem}:{annotation}")
}

fn load_one(store: &Store, source: &Source, plan: Plan) -> Result<ImageRecord, LoadError> {
    let config = ImageConfiguration::from_reader(&plan.config[..]).map_err(|e| bad_json(source, "config", e))?;
    let diff_ids: Vec<Digest> =
        config.rootfs().diff_ids().iter().map(|d| parse_digest(source, "config", d)).collect::<Result<_, _>>()?;
    if diff_ids.len() != plan.layers.len() {
        return Err(LoadError::LayerCount {
            path: source.path().into(),
            diff_ids: diff_ids.len(),
            layers: plan.layers.len(),
        });
    }
    let mut layers = Vec::with_capacity(diff_ids.len());
    let mut size = 0;
    for (lp, diff_id) in plan.layers.into_iter().zip(diff_ids) {
        // A layer the store has, with its blob as this archive ships it (docker-archive layers
        // are plain tarballs: their digest is their diff id), is not read again.
        let digest = lp.expected.as_ref().map_or(&diff_id, |(d, _)| d);
        let kept = std::fs::metadata(store.blob_path(digest)).ok().filter(|m| m.is_file());
        let layer = if let Some(kept) = kept.filter(|_| store.has_layer(&diff_id)) {
            let meta = store.layer_meta(&diff_id)?;
            size += meta.unpacked_size;
            LayerRef {
                digest: digest.clone(),
                diff_id,
                media_type: lp.media_type.clone().unwrap_or_else(|| docker_media_type(false)),
                size: kept.len(),
            }
        } else {
            let (layer, meta) = unpack_layer(store, source, lp, diff_id)?;
            size += meta.unpacked_size;
            layer
        };
        layers.push(layer);
    }
    let id = store.put_blob(&plan.config)?;
    let manifest_digest = plan.manifest.as_deref().map(|m| store.put_blob(m)).transpose()?;
    let names = plan
        .names
        .iter()
        .map(|n| reference::normalize_name(n).map_err(|e| bad_json(source, "image name", e)))
        .collect::<Result<_, _>>()?;
    Ok(ImageRecord { id, names, manifest_digest, layers, created: config.created().clone(), size, parent: None })
}

pub(super) fn docker_media_type(gzip: bool) -> String {
    let base = "application/vnd.docker.image.rootfs.diff.tar";
    if gzip { format!("{base}.gzip") } else { base.to_string() }
}

enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Compression is told by the first bytes, not the media type: docker-archive says nothing, and a
/// mislabelled blob still unpacks correctly (its digests are what is checked).
fn sniff(reader: &mut impl BufRead) -> io::Result<Compression> {
    let head = reader.fill_buf()?;
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    })
}

/// A layer read from a stream (plain, gzip or zstd, told by its first bytes) and unpacked into a
/// staging directory under the store's limits, its digests taken as it streamed.
pub(crate) struct Unpacked {
    pub staging: Staging,
    /// The blob's digest and size as read (compressed or not).
    pub blob: (Digest, u64),
    pub diff_id: Digest,
    pub gzip: bool,
    pub report: UnpackReport,
}

/// Copies what is read through it to a file: the blob as shipped, kept in the store (see
/// [`Store::publish_layer`]) for `push` and `save`. Reads come in the 256 KiB of the buffer above it.
struct Tee<R> {
    inner: R,
    copy: std::fs::File,
    /// Bytes written, and how many of them the disk has been asked to write.
    written: u64,
    flushing: u64,
}

/// How much of a blob is written before its writeback is started (see [`Tee`]).
const WRITEBACK_STEP: u64 = 8 << 20;

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        io::Write::write_all(&mut self.copy, &buf[..n])?;
        self.written += n as u64;
        // The blob is synced when the layer is sealed; asking the disk for each written step now
        // (without waiting) lets the writes go on while the rest streams and unpacks, so that sync
        // finds little left to do.
        if self.written - self.flushing >= WRITEBACK_STEP {
            use std::os::fd::AsRawFd as _;
            let len = self.written - self.flushing;
            // SAFETY: sync_file_range(2) takes an fd this Tee owns and integers; it touches no memory.
            unsafe {
                libc::sync_file_range(
                    self.copy.as_raw_fd(),
                    self.flushing as i64,
                    len as i64,
                    libc::SYNC_FILE_RANGE_WRITE,
                )
            };
            self.flushing = self.written;
        }
        Ok(n)
    }
}

/// Unpacks the layer `reader` gives into a staging directory, its blob copied beside it
/// ([`Store::staged_blob`]); `path` and `member` name it in errors.
pub(crate) fn unpack_stream(
    store: &Store,
    reader: impl Read,
    path: &Path,
    member: &str,
) -> Result<Unpacked, LoadError> {
    let read_err = |e: io::Error| LoadError::LayerRead { path: path.to_path_buf(), member: member.into(), source: e };
    let staging = store.stage_layer()?;
    let blob_path = Store::staged_blob(&staging);
    let kept = std::fs::File::create(&blob_path).map_err(|e| StoreError::Io { path: blob_path, source: e })?;
    let compressed = std::rc::Rc::new(std::cell::Cell::new(0));
    let counted = layer::guard::Counted {
        inner: BufReader::with_capacity(
            256 << 10,
            Hashing::new(Tee { inner: reader, copy: kept, written: 0, flushing: 0 }),
        ),
        count: compressed.clone(),
    };
    let mut blob = counted;
    let compression = sniff(&mut blob).map_err(read_err)?;
    let decompressed: Box<dyn Read + '_> = match compression {
        Compression::None => Box::new(&mut blob),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(&mut blob)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(&mut blob).map_err(read_err)?),
    };
    let guarded = layer::guard::Guard::new(decompressed, store.layer_limits, Some(compressed));
    let mut tar_stream = Hashing::new(guarded);
    let index = Store::staged_index(&staging);
    let diff = staging.path().join("diff");
    let report = layer::unpack(&mut tar_stream, &diff, &index, store.layer_limits.entries)
        .map_err(|source| LoadError::Layer { path: path.to_path_buf(), member: member.into(), source })?;
    let (diff_id, _) = tar_stream.finish().map_err(read_err)?;
    let blob_digest = blob.inner.into_inner().finish().map_err(read_err)?;
    Ok(Unpacked { staging, blob: blob_digest, diff_id, gzip: matches!(compression, Compression::Gzip), report })
}

fn unpack_layer(
    store: &Store,
    source: &Source,
    lp: LayerPlan,
    diff_id: Digest,
) -> Result<(LayerRef, LayerMeta), LoadError> {
    let path = source.path().to_path_buf();
    let (reader, _) = source.open_member(&lp.member)?;
    let unpacked = unpack_stream(store, reader, &path, &lp.member)?;
    if let Some((digest, size)) = &lp.expected {
        check_blob(&path, "layer", &lp.member, (digest, *size), unpacked.blob.clone())?;
    }
    check_blob(&path, "uncompressed layer", &lp.member, (&diff_id, 0), (unpacked.diff_id.clone(), 0))?;
    let meta = LayerMeta {
        diff_id: diff_id.clone(),
        unpacked_size: unpacked.report.unpacked_size,
        entries: unpacked.report.entries,
        blob: Some(unpacked.blob.0.clone()),
    };
    store.commit_layer(unpacked.staging, &meta)?;
    let media_type = lp.media_type.unwrap_or_else(|| docker_media_type(unpacked.gzip));
    let (digest, size) = unpacked.blob;
    Ok((LayerRef { digest, diff_id, media_type, size }, meta))
}

#[cfg(test)]
mod tests {
    use super::full_name;
    use std::path::Path;

    #[test]
    fn tag_only_annotations_take_the_file_name() {
        assert_eq!(full_name("latest", Path::new("/tmp/busybox.tar")), "busybox:latest");
        assert_eq!(full_name("busybox:1.36", Path::new("/tmp/x.tar")), "busybox:1.36");
    }
}
