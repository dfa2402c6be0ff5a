//! `sbx pull`: an image from a registry into the store. The manifest (of the host's platform when
//! the name gives an index) and the config come first, and the image checks of the policies see
//! them before any layer is asked for. The layers the store lacks then stream, a few at once, each
//! straight into the unpacker (its digests taken as it streams, its blob kept beside it in a
//! staging directory); a layer enters the store only whole, verified against the manifest and the
//! config, and allowed by the layer checks. A pull cut short keeps the layers it finished, and
//! the next one goes on from them. Network failures and 5xx answers are tried again with backoff;
//! a 401, 403 or 404 is reported at once.

use super::client::{self, Access, RegistryError, Remote};
use super::progress::Progress;
use crate::image::load::{self, Unpacked, check_blob};
use crate::image::source::SMALL_LIMIT;
use crate::image::store::{LayerMeta, LayerRef};
use crate::image::{Digest, ImageRecord, Store, reference};
use crate::plugin::bindings::EntryFilter;
use crate::plugin::chain::{self, Checks, Denied};
use crate::plugin::{Plugin, convert};
use oci_client::Reference;
use oci_client::errors::DigestError;
use oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest};
use std::collections::VecDeque;
use std::io::{self, Read};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Duration;

/// The most a manifest or an index may weigh.
pub const MANIFEST_LIMIT: usize = 4 << 20;

/// How often a transient failure is tried again, and the first wait (doubled each time).
const RETRIES: u32 = 3;
const BACKOFF: Duration = Duration::from_millis(500);

const ACCEPT: [&str; 4] = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
];

/// An image's platform: `OS/ARCH[/VARIANT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    pub os: String,
    pub arch: String,
    pub variant: Option<String>,
}

impl Platform {
    pub fn host() -> Platform {
        Platform { os: "linux".into(), arch: load::host_arch().into(), variant: None }
    }
}

impl std::str::FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Platform, String> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts.as_slice() {
            [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.to_string(),
                arch: arch.to_string(),
                variant: parts.get(2).filter(|v| !v.is_empty()).map(|v| v.to_string()),
            }),
            _ => Err(format!("'{s}' is not a platform: give OS/ARCH[/VARIANT], as linux/amd64 or linux/arm64/v8")),
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.arch)?;
        match &self.variant {
            Some(v) => write!(f, "/{v}"),
            None => Ok(()),
        }
    }
}

/// The digest of the manifest an index lists for `want` (a variant given must match; none given
/// takes the first of the OS and architecture). Pure.
pub fn pick(index: &ImageIndex, want: &Platform) -> Option<String> {
    index
        .manifests()
        .iter()
        .find(|m| {
            m.platform().as_ref().is_some_and(|p| {
                p.os().to_string() == want.os
                    && p.architecture().to_string() == want.arch
                    && want.variant.as_ref().is_none_or(|v| p.variant().as_deref() == Some(v.as_str()))
            })
        })
        .map(|m| m.digest().to_string())
}

/// What a pull needs besides the store.
pub struct PullOptions<'a> {
    pub access: Access<'a>,
    pub platform: &'a Platform,
    /// Loaded; their image and layer checks run on what is pulled.
    pub plugins: &'a [Plugin],
}

/// What a pull did.
pub struct Pulled {
    pub image: ImageRecord,
    /// The name pulled, fully qualified.
    pub name: String,
    pub manifest_digest: Digest,
    /// Whether any layer was fetched.
    pub downloaded: bool,
}

/// Pulls `query`: a name with its registry, or a short one tried on each search registry in turn
/// (the next is tried when one has no such image).
pub fn pull(store: &Store, query: &str, opts: &PullOptions) -> Result<Pulled, RegistryError> {
    let bad = |message: String| RegistryError::BadName { name: query.into(), message };
    let names: Vec<String> = match reference::short_name_candidates(query, &store.search_registries) {
        Some(candidates) => {
            candidates.iter().filter(|c| !c.starts_with("localhost/")).map(|c| reference::qualified(c)).collect()
        }
        None => vec![reference::qualified(&reference::normalize_name(query).map_err(|e| bad(e.to_string()))?)],
    };
    let Some((last, first)) = names.split_last() else {
        return Err(bad("no search registries are configured (registries.search): give the image's registry".into()));
    };
    store.sweep_staging();
    for name in first {
        match pull_one(store, name, opts) {
            Err(e) if e.is_not_found() => continue,
            result => return result,
        }
    }
    pull_one(store, last, opts)
}

/// Runs `attempt` until it succeeds, fails for good, or has failed transiently `RETRIES` more
/// times; `wait` is told of each retry.
pub(super) async fn retrying<T>(
    mut attempt: impl AsyncFnMut() -> Result<T, RegistryError>,
    wait: impl Fn(Duration),
) -> Result<T, RegistryError> {
    let mut delay = BACKOFF;
    for _ in 0..RETRIES {
        match attempt().await {
            Err(e) if e.is_transient() => {
                wait(delay);
                tokio::time::sleep(delay).await;
                delay *= 2;
            }
            result => return result,
        }
    }
    attempt().await
}

fn bad_content(remote: &Remote, what: &str, message: impl std::fmt::Display) -> RegistryError {
    RegistryError::Remote {
        at: remote.at.clone(),
        what: what.into(),
        message: message.to_string(),
        transient: false,
        not_found: false,
    }
}

fn parse_digest(remote: &Remote, what: &str, d: &str) -> Result<Digest, RegistryError> {
    d.parse().map_err(|e| bad_content(remote, what, e))
}

/// A manifest or an index, told apart by its content.
#[derive(Debug)]
enum Fetched {
    Manifest(Box<ImageManifest>),
    Index(Box<ImageIndex>),
}

/// Parses a manifest's bytes, refusing what sbx cannot pull. Pure.
fn classify(bytes: &[u8]) -> Result<Fetched, String> {
    if bytes.len() > MANIFEST_LIMIT {
        return Err(format!("it is {} bytes, over the limit of {MANIFEST_LIMIT}", bytes.len()));
    }
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| format!("it is not JSON: {e}"))?;
    if value.get("schemaVersion").and_then(|v| v.as_i64()) == Some(1) {
        return Err("it is a docker schema 1 manifest, which sbx does not pull (deprecated since 2017)".into());
    }
    if value.get("manifests").is_some() {
        return ImageIndex::from_reader(bytes)
            .map(|i| Fetched::Index(Box::new(i)))
            .map_err(|e| format!("not a valid index: {e}"));
    }
    if value.get("layers").is_some() && value.get("config").is_some() {
        return ImageManifest::from_reader(bytes)
            .map(|m| Fetched::Manifest(Box::new(m)))
            .map_err(|e| format!("not a valid manifest: {e}"));
    }
    let kind = value.get("mediaType").and_then(|m| m.as_str()).unwrap_or("no media type");
    Err(format!("it is not an image manifest or index ({kind})"))
}

/// The manifest `remote` names, for `platform` when it names an index: its bytes and digest.
async fn fetch_manifest(
    remote: &Remote,
    platform: &Platform,
    progress: &Progress,
) -> Result<(Vec<u8>, Digest, ImageManifest), RegistryError> {
    let wait = |d: Duration| progress.say(&format!("{}: retrying in {} ms", remote.at, d.as_millis()));
    let get = async |reference: &Reference, what: &str| {
        let (bytes, digest) = retrying(
            async || {
                remote
                    .client
                    .pull_manifest_raw(reference, &remote.auth, &ACCEPT)
                    .await
                    .map_err(|e| remote.error(what, e))
            },
            wait,
        )
        .await?;
        let fetched = classify(&bytes).map_err(|m| bad_content(remote, what, m))?;
        Ok::<_, RegistryError>((bytes.to_vec(), parse_digest(remote, what, &digest)?, fetched))
    };
    let what = format!("manifest {}", remote.reference.digest().or(remote.reference.tag()).unwrap_or("latest"));
    match get(&remote.reference, &what).await? {
        (bytes, digest, Fetched::Manifest(m)) => Ok((bytes, digest, *m)),
        (_, index_digest, Fetched::Index(index)) => {
            let Some(chosen) = pick(&index, platform) else {
                let listed: Vec<String> = index
                    .manifests()
                    .iter()
                    .filter_map(|m| m.platform().as_ref())
                    .map(|p| format!("{}/{}", p.os(), p.architecture()))
                    .collect();
                return Err(bad_content(
                    remote,
                    &what,
                    format!(
                        "the index {index_digest} has no image for {platform} (it has {}); choose one with --platform",
                        if listed.is_empty() { "none".into() } else { listed.join(", ") }
                    ),
                ));
            };
            let r = &remote.reference;
            let by_digest = Reference::with_digest(r.registry().into(), r.repository().into(), chosen.clone());
            match get(&by_digest, &format!("manifest {chosen}")).await? {
                (bytes, digest, Fetched::Manifest(m)) => Ok((bytes, digest, *m)),
                _ => Err(bad_content(remote, &format!("manifest {chosen}"), "an index inside an index")),
            }
        }
    }
}

/// A small blob (a config) read whole, up to [`SMALL_LIMIT`], and checked against its digest.
async fn fetch_small(remote: &Remote, digest: &Digest, size: u64) -> Result<Vec<u8>, RegistryError> {
    use futures_util::TryStreamExt;
    let what = format!("config {digest}");
    if size > SMALL_LIMIT {
        return Err(bad_content(remote, &what, format!("the manifest says it is {size} bytes, over {SMALL_LIMIT}")));
    }
    retrying(
        async || {
            let d = digest.to_string();
            let mut stream = remote
                .client
                .pull_blob_stream(&remote.reference, d.as_str())
                .await
                .map_err(|e| remote.error(&what, e))?;
            let mut bytes = Vec::new();
            while let Some(chunk) = stream.try_next().await.map_err(|e| remote.error(&what, e.into()))? {
                bytes.extend_from_slice(&chunk);
                if bytes.len() as u64 > size {
                    return Err(bad_content(remote, &what, format!("it is longer than the {size} bytes it should be")));
                }
            }
            let actual = (Digest::of(&bytes), bytes.len() as u64);
            check_blob(Path::new(&remote.at), "config", &d, (digest, size), actual)?;
            Ok(bytes)
        },
        |_| {},
    )
    .await
}

/// Layer media types sbx unpacks (tar, gzip or zstd; told by content, the type only screens out
/// what is not a layer at all, as an artifact's blobs).
fn is_layer(media_type: &str) -> bool {
    media_type.starts_with("application/vnd.oci.image.layer.")
        || media_type.starts_with("application/vnd.docker.image.rootfs.")
}

fn print_notes(checks: &mut Checks) {
    for n in checks.take_notes() {
        eprintln!("sbx: policy {}: {}", n.plugin, n.message);
    }
}

/// The layers `manifest` lists, with the diff ids `config` gives them; refused when they do not
/// add up or a blob is not a layer (an artifact's).
fn layer_refs(
    remote: &Remote,
    manifest: &ImageManifest,
    manifest_digest: &Digest,
    config: &ImageConfiguration,
    config_digest: &Digest,
) -> Result<Vec<LayerRef>, RegistryError> {
    let (in_manifest, in_config) = (format!("manifest {manifest_digest}"), format!("config {config_digest}"));
    let diff_ids = config.rootfs().diff_ids();
    if diff_ids.len() != manifest.layers().len() {
        let message = format!("it lists {} layers but the manifest has {}", diff_ids.len(), manifest.layers().len());
        return Err(bad_content(remote, &in_config, message));
    }
    manifest
        .layers()
        .iter()
        .zip(diff_ids)
        .map(|(l, diff_id)| {
            let media_type = l.media_type().to_string();
            if !is_layer(&media_type) {
                let message = format!("{} is not an image layer ({media_type})", l.digest());
                return Err(bad_content(remote, &in_manifest, message));
            }
            Ok(LayerRef {
                digest: parse_digest(remote, &in_manifest, l.digest().as_ref())?,
                diff_id: parse_digest(remote, &in_config, diff_id)?,
                media_type,
                size: l.size(),
            })
        })
        .collect()
}

fn pull_one(store: &Store, name: &str, opts: &PullOptions) -> Result<Pulled, RegistryError> {
    let (remote, progress) = (opts.access.remote(name)?, opts.access.progress);
    let rt = client::runtime()?;
    let (manifest_bytes, manifest_digest, manifest) = rt.block_on(fetch_manifest(&remote, opts.platform, progress))?;
    let what = format!("manifest {manifest_digest}");
    let config_digest = parse_digest(&remote, &what, manifest.config().digest().as_ref())?;
    let config_bytes = rt.block_on(fetch_small(&remote, &config_digest, manifest.config().size()))?;
    let config = ImageConfiguration::from_reader(&config_bytes[..])
        .map_err(|e| bad_content(&remote, &format!("config {config_digest}"), e))?;
    let layers = layer_refs(&remote, &manifest, &manifest_digest, &config, &config_digest)?;
    let stored_name = reference::normalize_name(name)
        .map_err(|e| RegistryError::BadName { name: name.into(), message: e.to_string() })?;
    let mut record = ImageRecord {
        id: config_digest,
        names: vec![stored_name],
        manifest_digest: Some(manifest_digest.clone()),
        layers,
        created: config.created().clone(),
        size: 0,
        parent: None,
    };

    // The image checks, before any layer is asked for.
    let policies = crate::plugin::policies(opts.plugins);
    let image = convert::image(name, &record, &config);
    let mut checks = Checks::default();
    let denied = |d: Denied, checks: &mut Checks| {
        print_notes(checks);
        RegistryError::Denied { image: name.into(), plugin: d.plugin, reason: d.reason }
    };
    if let Err(d) = checks.image(&policies, &image) {
        return Err(denied(d, &mut checks));
    }

    // A layer the store has without this blob (it came in another compression) is fetched again,
    // so that the image can leave the store as it came.
    let have = |l: &LayerRef| store.has_layer(&l.diff_id) && store.blob_path(&l.digest).is_file();
    let todo: Vec<usize> = (0..record.layers.len()).filter(|i| !have(&record.layers[*i])).collect();
    for (i, l) in record.layers.iter().enumerate() {
        let state = if todo.contains(&i) { "Waiting" } else { "Already exists" };
        progress.state(&l.digest, l.size, state);
    }
    let client = if todo.is_empty() { &remote.client } else { rt.block_on(remote.blob_client()) };
    let fetch = Fetch { store, remote: &remote, client, handle: rt.handle(), progress };
    fetch.layers(&record.layers, &todo, opts.access.registries.max_concurrent_downloads, |i, unpacked, meta| {
        let layer = &record.layers[i];
        if !policies.is_empty() {
            let entries = match chain::entries_needed(&policies) {
                EntryFilter::None => Vec::new(),
                _ => Store::staged_entries(&unpacked.staging)?,
            };
            let wit = convert::layer(&record, &config, i, entries, unpacked.report.unpacked_size);
            checks.layer(&policies, &image, i, |_| Ok(wit)).map_err(|d| denied(d, &mut checks))?;
        }
        store.publish_layer(unpacked.staging, &meta)?;
        progress.state(&layer.digest, layer.size, "Pull complete");
        Ok(())
    })?;
    print_notes(&mut checks);
    drop(rt);

    record.size = record.layers.iter().filter_map(|l| store.layer_meta(&l.diff_id).ok()).map(|m| m.unpacked_size).sum();
    store.put_blob(&manifest_bytes)?;
    store.put_blob(&config_bytes)?;
    let image = store.save_image(record)?;
    Ok(Pulled { image, name: name.into(), manifest_digest, downloaded: !todo.is_empty() })
}

/// Fetching layers: a few threads each stream one layer at a time into the unpacker, driven by the
/// runtime's worker; the caller's thread takes each unpacked layer as it comes (to check it and
/// put it in the store).
struct Fetch<'a> {
    store: &'a Store,
    remote: &'a Remote,
    client: &'a oci_client::Client,
    handle: &'a tokio::runtime::Handle,
    progress: &'a Progress,
}

/// The layer's stream as the unpacker reads it: stops when the pull is given up, and remembers
/// whether the network failed (worth another try) rather than the content.
struct Watched<'a, R> {
    inner: R,
    cancel: &'a AtomicBool,
    network_failed: &'a AtomicBool,
}

impl<R: Read> Read for Watched<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            return Err(io::Error::other("the pull was given up"));
        }
        self.inner.read(buf).inspect_err(|e| {
            let content = e.get_ref().is_some_and(|inner| inner.downcast_ref::<DigestError>().is_some());
            if !content {
                self.network_failed.store(true, Ordering::Relaxed);
            }
        })
    }
}

impl Fetch<'_> {
    /// Fetches `todo` (indexes into `layers`), `at_once` at a time, and gives each to `each` on
    /// this thread as it is unpacked; the first error stops the others.
    fn layers(
        &self,
        layers: &[LayerRef],
        todo: &[usize],
        at_once: usize,
        mut each: impl FnMut(usize, Unpacked, LayerMeta) -> Result<(), RegistryError>,
    ) -> Result<(), RegistryError> {
        let queue = Mutex::new(todo.iter().copied().collect::<VecDeque<usize>>());
        let cancel = AtomicBool::new(false);
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|s| {
            for _ in 0..at_once.min(todo.len()) {
                let tx = tx.clone();
                let (queue, cancel) = (&queue, &cancel);
                s.spawn(move || {
                    while !cancel.load(Ordering::Relaxed) {
                        let Some(i) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front() else { break };
                        if tx.send((i, self.layer(&layers[i], cancel))).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            let mut first = Ok(());
            for (i, result) in rx {
                if first.is_ok() {
                    first = result.and_then(|(u, meta)| each(i, u, meta));
                    if first.is_err() {
                        cancel.store(true, Ordering::Relaxed);
                    }
                }
            }
            first
        })
    }

    /// One layer, tried again after a network failure.
    fn layer(&self, layer: &LayerRef, cancel: &AtomicBool) -> Result<(Unpacked, LayerMeta), RegistryError> {
        let mut delay = BACKOFF;
        let mut attempt = 0;
        loop {
            let network_failed = AtomicBool::new(false);
            let result = self.try_layer(layer, cancel, &network_failed);
            let again = result.as_ref().is_err_and(|e| e.is_transient() || network_failed.load(Ordering::Relaxed));
            if !again || attempt == RETRIES || cancel.load(Ordering::Relaxed) {
                return result;
            }
            attempt += 1;
            self.progress.state(&layer.digest, layer.size, &format!("Retrying in {} ms", delay.as_millis()));
            std::thread::sleep(delay);
            delay *= 2;
        }
    }

    /// One layer streamed into the unpacker, verified, and sealed (written to disk where it is
    /// staged), with its metadata.
    fn try_layer(
        &self,
        layer: &LayerRef,
        cancel: &AtomicBool,
        network_failed: &AtomicBool,
    ) -> Result<(Unpacked, LayerMeta), RegistryError> {
        let (remote, digest) = (self.remote, layer.digest.to_string());
        let what = format!("layer {digest}");
        self.progress.state(&layer.digest, layer.size, "Downloading");
        let stream = self
            .handle
            .block_on(self.client.pull_blob_stream(&remote.reference, digest.as_str()))
            .map_err(|e| remote.error(&what, e))?;
        let reader = tokio_util::io::SyncIoBridge::new_with_handle(
            tokio_util::io::StreamReader::new(stream.stream),
            self.handle.clone(),
        );
        // No more than the manifest says, and one byte to tell a longer blob: a registry that
        // sends without end is refused at the size it promised.
        let watched = Watched { inner: reader, cancel, network_failed }.take(layer.size.saturating_add(1));
        let counted = self.progress.reader(&layer.digest, layer.size, watched);
        let at = Path::new(&remote.at);
        let unpacked = load::unpack_stream(self.store, counted, at, &digest)?;
        // Unpacked as it streamed; what is left: the digests, the sync, the policies' layer checks.
        self.progress.state(&layer.digest, layer.size, "Verifying");
        check_blob(at, "layer", &digest, (&layer.digest, layer.size), unpacked.blob.clone())?;
        let diff = (unpacked.diff_id.clone(), 0);
        check_blob(at, "uncompressed layer", &digest, (&layer.diff_id, 0), diff)?;
        let meta = LayerMeta {
            diff_id: layer.diff_id.clone(),
            unpacked_size: unpacked.report.unpacked_size,
            entries: unpacked.report.entries,
            blob: Some(layer.digest.clone()),
        };
        self.store.seal_layer(&unpacked.staging, &meta)?;
        Ok((unpacked, meta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_and_pick_from_an_index() {
        let arm: Platform = "linux/arm64/v8".parse().unwrap();
        assert_eq!((arm.os.as_str(), arm.arch.as_str(), arm.variant.as_deref()), ("linux", "arm64", Some("v8")));
        assert!("linux".parse::<Platform>().is_err());
        assert!("linux//".parse::<Platform>().is_err());
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let index: ImageIndex = serde_json::from_value(serde_json::json!({
            "schemaVersion": 2,
            "manifests": [
                { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d('a'), "size": 1,
                  "platform": { "os": "linux", "architecture": "amd64" } },
                { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d('b'), "size": 1,
                  "platform": { "os": "linux", "architecture": "arm64", "variant": "v8" } },
                { "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": d('c'), "size": 1,
                  "platform": { "os": "unknown", "architecture": "unknown" } }
            ]
        }))
        .unwrap();
        assert_eq!(pick(&index, &"linux/amd64".parse().unwrap()), Some(d('a')));
        assert_eq!(pick(&index, &arm), Some(d('b')));
        assert_eq!(pick(&index, &"linux/arm64".parse().unwrap()), Some(d('b')), "no variant asked: any");
        assert_eq!(pick(&index, &"linux/arm64/v7".parse().unwrap()), None);
        assert_eq!(pick(&index, &"linux/s390x".parse().unwrap()), None);
    }

    #[test]
    fn what_is_not_an_image_manifest_is_refused_by_what_it_is() {
        assert!(classify(b"<html>").unwrap_err().contains("not JSON"));
        assert!(classify(br#"{"schemaVersion":1,"fsLayers":[]}"#).unwrap_err().contains("schema 1"));
        let artifact = br#"{"schemaVersion":2,"mediaType":"application/vnd.cncf.helm.chart"}"#;
        assert!(classify(artifact).unwrap_err().contains("application/vnd.cncf.helm.chart"));
        let big = vec![b' '; MANIFEST_LIMIT + 1];
        assert!(classify(&big).unwrap_err().contains("over the limit"));
        assert!(matches!(classify(br#"{"schemaVersion":2,"manifests":[]}"#), Ok(Fetched::Index(_))));
    }
}
