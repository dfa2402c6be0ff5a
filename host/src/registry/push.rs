//! `sbx push`: an image from the store to a registry. Each blob the registry lacks (asked with a
//! HEAD first) is mounted from another repository of the same registry that the image came from,
//! or streamed from the store, a few at once, each in one request or in chunks where the registry
//! refuses one; the manifest goes last, so a push cut short leaves the registry without the tag and the next one sends only what is still missing.

use super::client::{self, Access, RegistryError, Remote};
use super::progress::Progress;
use super::pull::retrying;
use crate::image::{Digest, ImageRecord, Store, manifest, reference};
use futures_util::{StreamExt, TryStreamExt};
use oci_client::errors::OciDistributionError;
use oci_client::{Client, Reference};
use tokio::sync::OnceCell;

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

/// Whether a registry's answer to a monolithic upload says to send the blob in chunks instead:
/// a body too large (413, as a proxy with a body limit answers), or a request it does not take.
fn refuses_monolithic(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ServerError { code, .. } => matches!(code, 400 | 405 | 411 | 413 | 415 | 416 | 501),
        OciDistributionError::SpecViolationError(_) => true,
        _ => false,
    }
}

/// Streams the file at `path` (`size` bytes) to the registry as the blob `digest` with `client`.
async fn upload(
    remote: &Remote,
    client: &Client,
    progress: &Progress,
    digest: &Digest,
    path: &std::path::Path,
    size: u64,
) -> Result<(), OciDistributionError> {
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let bar = progress.bar_of(digest, size);
    let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 << 10)
        .inspect_ok(move |chunk| {
            if let Some(bar) = &bar {
                bar.inc(chunk.len() as u64);
            }
        })
        .map_err(OciDistributionError::from);
    client.push_blob_stream(&remote.reference, stream, &digest.to_string(), Some(size)).await.map(drop)
}

/// Sends one blob (the file at `path`, `size` bytes) unless the registry has it: in one request,
/// or in chunks (with a client of `chunked`, made when first needed) if the registry refuses that.
async fn send_blob(
    remote: &Remote,
    access: &Access<'_>,
    chunked: &OnceCell<Client>,
    sources: &[Reference],
    digest: &Digest,
    path: &std::path::Path,
    size: u64,
) -> Result<(), RegistryError> {
    let (d, progress) = (digest.to_string(), access.progress);
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
    let mut refused = false;
    let whole = retrying(
        async || {
            progress.state(digest, size, "Pushing");
            upload(remote, &remote.client, progress, digest, path, size).await.map_err(|e| {
                refused = refuses_monolithic(&e);
                remote.error(&what, e)
            })
        },
        |_| {},
    )
    .await;
    match whole {
        Err(_) if refused => {
            let client = chunked
                .get_or_try_init(async || {
                    let c = client::client(access.registries, &remote.registry, client::Upload::Chunked)?;
                    c.store_auth_if_needed(&remote.registry, &remote.auth).await;
                    Ok::<_, RegistryError>(c)
                })
                .await?;
            retrying(
                async || {
                    progress.state(digest, size, "Pushing in chunks");
                    upload(remote, client, progress, digest, path, size).await.map_err(|e| remote.error(&what, e))
                },
                |_| {},
            )
            .await?
        }
        other => other?,
    }
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
        let chunked = OnceCell::new();
        futures_util::stream::iter(blobs.iter())
            .map(|(digest, path, size)| {
                let (remote, chunked) = (&remote, &chunked);
                let sources = mount_sources(&images, digest, &remote.reference);
                async move { send_blob(remote, opts, chunked, &sources, digest, path, *size).await }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_too_large_or_an_unsupported_upload_means_chunks_and_other_failures_do_not() {
        let said = |code| OciDistributionError::ServerError { code, url: "u".into(), message: String::new() };
        for code in [413, 405, 400, 501] {
            assert!(refuses_monolithic(&said(code)), "{code}");
        }
        for code in [401, 403, 404, 500, 503, 429] {
            assert!(!refuses_monolithic(&said(code)), "{code}");
        }
        assert!(refuses_monolithic(&OciDistributionError::SpecViolationError("202, not 201".into())));
        assert!(!refuses_monolithic(&OciDistributionError::IoError(std::io::Error::other("reset"))));
    }
}
