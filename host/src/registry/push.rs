//! `sbx push`: an image from the store to a registry. Each blob the registry lacks (asked with a
//! HEAD first) is mounted from another repository of the same registry that the image came from,
//! or streamed from the store in chunks, a few at once; the manifest goes last, so a push cut short
//! leaves the registry without the tag and the next one sends only what is still missing.

use super::client::{self, Access, RegistryError, Remote};
use super::progress::Progress;
use super::pull::retrying;
use crate::image::{Digest, ImageRecord, Store, manifest, reference};
use futures_util::{StreamExt, TryStreamExt};
use oci_client::Reference;

/// What was pushed: the manifest's digest and size.
pub struct Pushed {
    pub digest: Digest,
    pub size: usize,
}

/// The repositories of `dest`'s registry that images of the store holding `digest` were named in
/// (and so may hold it), other than `dest`'s own.
fn mount_sources(images: &[ImageRecord], digest: &Digest, dest: &Reference) -> Vec<Reference> {
    let mut out: Vec<Reference> = Vec::new();
    let holders = images.iter().filter(|i| i.id == *digest || i.layers.iter().any(|l| l.digest == *digest));
    for name in holders.flat_map(|i| &i.names) {
        let Ok(r) = reference::qualified(name).parse::<Reference>() else { continue };
        let same_repo = |o: &Reference| o.repository() == r.repository();
        if r.registry() == dest.registry() && r.repository() != dest.repository() && !out.iter().any(same_repo) {
            out.push(r);
        }
    }
    out
}

/// Sends one blob (the file at `path`, `size` bytes) unless the registry has it.
async fn send_blob(
    remote: &Remote,
    sources: &[Reference],
    progress: &Progress,
    digest: &Digest,
    path: &std::path::Path,
    size: u64,
) -> Result<(), RegistryError> {
    let d = digest.to_string();
    let what = format!("blob {d}");
    let exists = retrying(
        async || remote.client.blob_exists(&remote.reference, &d).await.map_err(|e| remote.error(&what, e)),
        |_| {},
    )
    .await?;
    if exists {
        progress.state(digest, size, "Layer already exists");
        return Ok(());
    }
    for source in sources {
        if remote.client.mount_blob(&remote.reference, source, &d).await.is_ok() {
            progress.state(digest, size, &format!("Mounted from {}", source.repository()));
            return Ok(());
        }
    }
    retrying(
        async || {
            progress.state(digest, size, "Pushing");
            let file = tokio::fs::File::open(path).await.map_err(|e| {
                RegistryError::Store(crate::image::StoreError::Io { path: path.to_path_buf(), source: e })
            })?;
            let bar = progress.bar_of(digest, size);
            let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 << 10)
                .inspect_ok(move |chunk| {
                    if let Some(bar) = &bar {
                        bar.inc(chunk.len() as u64);
                    }
                })
                .map_err(oci_client::errors::OciDistributionError::from);
            remote
                .client
                .push_blob_stream(&remote.reference, stream, &d, Some(size))
                .await
                .map_err(|e| remote.error(&what, e))
        },
        |_| {},
    )
    .await?;
    progress.state(digest, size, "Pushed");
    Ok(())
}

/// Pushes `record` as `dest` (fully qualified: `HOST/REPOSITORY:TAG`).
pub fn push(store: &Store, record: &ImageRecord, dest: &str, opts: &Access) -> Result<Pushed, RegistryError> {
    let remote = opts.remote(dest)?;
    let (manifest_bytes, media_type) = manifest::for_image(store, record)?;
    let mut blobs = Vec::with_capacity(record.layers.len() + 1);
    for l in &record.layers {
        let path = manifest::layer_blob(store, record, &l.digest)?;
        blobs.push((l.digest.clone(), path, l.size));
    }
    let config = store.blob_path(&record.id);
    let config_size = std::fs::metadata(&config)
        .map_err(|source| crate::image::StoreError::Io { path: config.clone(), source })?
        .len();
    blobs.push((record.id.clone(), config, config_size));
    let images = store.images()?;
    let rt = client::runtime()?;
    rt.block_on(async {
        remote.client.store_auth_if_needed(&remote.registry, &remote.auth).await;
        let at_once = opts.registries.max_concurrent_downloads;
        futures_util::stream::iter(blobs.iter())
            .map(|(digest, path, size)| {
                let (remote, sources) = (&remote, mount_sources(&images, digest, &remote.reference));
                async move { send_blob(remote, &sources, opts.progress, digest, path, *size).await }
            })
            .buffer_unordered(at_once)
            .try_collect::<Vec<()>>()
            .await?;
        let tag = remote.reference.tag().unwrap_or("latest").to_string();
        let content_type: http::HeaderValue =
            media_type.parse().map_err(|_| RegistryError::Other(format!("bad media type {media_type}")))?;
        retrying(
            async || {
                remote
                    .client
                    .push_manifest_raw(&remote.reference, manifest_bytes.clone(), content_type.clone())
                    .await
                    .map_err(|e| remote.error(format!("manifest {tag}"), e))
            },
            |_| {},
        )
        .await
    })?;
    Ok(Pushed { digest: Digest::of(&manifest_bytes), size: manifest_bytes.len() })
}
