//! `sbx save`: images out of the store as an OCI layout (a directory, or a tarball of one:
//! oci-archive) or a docker-archive (docker's `manifest.json` beside the same OCI layout, as
//! `docker save` writes it since docker 25). Every blob is the store's copy as it was shipped, so
//! an image saved and loaded again has the same id, and the same manifest digest in OCI layouts.

use super::digest::Digest;
use super::manifest;
use super::reference;
use super::store::{ImageRecord, Store, StoreError};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    DockerArchive,
    OciArchive,
    OciDir,
}

#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("{0} exists and is not an empty directory; an OCI layout is written into a new or empty one")]
    NotEmpty(PathBuf),
}

/// The files of the layout, by their path in it: small ones whole, blobs from the store.
enum Content {
    Bytes(Vec<u8>),
    File(PathBuf),
}

/// What `images` (each with the name it was asked by, if any) are as files, in the order they are
/// written: blobs first, `index.json` and `manifest.json` last.
fn layout(
    store: &Store,
    images: &[(ImageRecord, Option<String>)],
    docker: bool,
) -> Result<Vec<(String, Content)>, SaveError> {
    let mut blobs: BTreeMap<Digest, Content> = BTreeMap::new();
    let mut index = Vec::new();
    let mut docker_manifest = Vec::new();
    for (record, name) in images {
        let (bytes, media_type) = manifest::for_image(store, record)?;
        let manifest_digest = Digest::of(&bytes);
        let mut layers = Vec::new();
        for l in &record.layers {
            blobs.entry(l.digest.clone()).or_insert(Content::File(manifest::layer_blob(store, record, &l.digest)?));
            layers.push(format!("blobs/sha256/{}", l.digest.hex()));
        }
        blobs.entry(record.id.clone()).or_insert(Content::File(store.blob_path(&record.id)));
        let mut entry = serde_json::json!({
            "mediaType": media_type,
            "digest": manifest_digest.to_string(),
            "size": bytes.len(),
        });
        blobs.insert(manifest_digest, Content::Bytes(bytes));
        let tags: Vec<String> = match name {
            Some(n) => vec![n.clone()],
            None => record.names.iter().filter(|n| !n.contains('@')).cloned().collect(),
        };
        if let Some(first) = tags.first() {
            let full = reference::qualified(first);
            entry["annotations"] = serde_json::json!({
                "io.containerd.image.name": full,
                "org.opencontainers.image.ref.name": reference::split_tag(first).1,
            });
        }
        index.push(entry);
        docker_manifest.push(serde_json::json!({
            "Config": format!("blobs/sha256/{}", record.id.hex()),
            "RepoTags": tags,
            "Layers": layers,
        }));
    }
    let mut files: Vec<(String, Content)> =
        blobs.into_iter().map(|(d, c)| (format!("blobs/sha256/{}", d.hex()), c)).collect();
    files.push(("oci-layout".into(), Content::Bytes(br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec())));
    let index = serde_json::json!({ "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index });
    files.push(("index.json".into(), Content::Bytes(serde_json::to_vec(&index).expect("JSON serializes"))));
    if docker {
        files.push((
            "manifest.json".into(),
            Content::Bytes(serde_json::to_vec(&docker_manifest).expect("JSON serializes")),
        ));
    }
    Ok(files)
}

fn write_err(path: &Path) -> impl Fn(io::Error) -> SaveError + '_ {
    move |source| SaveError::Write { path: path.to_path_buf(), source }
}

/// Writes `images` as a tarball (docker-archive or oci-archive) to `out`; `path` names it in errors.
pub fn write_archive(
    store: &Store,
    images: &[(ImageRecord, Option<String>)],
    format: Format,
    out: impl Write,
    path: &Path,
) -> Result<(), SaveError> {
    let files = layout(store, images, format == Format::DockerArchive)?;
    let mut tar = tar::Builder::new(out);
    let mut dirs = vec!["blobs/", "blobs/sha256/"];
    for (name, content) in files {
        let mut header = tar::Header::new_ustar();
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        if name.starts_with("blobs/") {
            for dir in dirs.drain(..) {
                let mut h = tar::Header::new_ustar();
                h.set_entry_type(tar::EntryType::Directory);
                h.set_mode(0o755);
                h.set_mtime(0);
                h.set_size(0);
                tar.append_data(&mut h, dir, io::empty()).map_err(write_err(path))?;
            }
        }
        match content {
            Content::Bytes(bytes) => {
                header.set_size(bytes.len() as u64);
                tar.append_data(&mut header, &name, &bytes[..]).map_err(write_err(path))?;
            }
            Content::File(blob) => {
                let file =
                    std::fs::File::open(&blob).map_err(|source| StoreError::Io { path: blob.clone(), source })?;
                let size = file.metadata().map_err(|source| StoreError::Io { path: blob.clone(), source })?.len();
                header.set_size(size);
                tar.append_data(&mut header, &name, io::BufReader::with_capacity(256 << 10, file))
                    .map_err(write_err(path))?;
            }
        }
    }
    tar.into_inner().and_then(|mut w| w.flush()).map_err(write_err(path))
}

/// Writes `images` as an OCI layout in the directory `dir` (made if missing; it must be empty). On
/// failure the directory is left as it was found.
pub fn write_dir(store: &Store, images: &[(ImageRecord, Option<String>)], dir: &Path) -> Result<(), SaveError> {
    let made = match std::fs::read_dir(dir).map(|mut entries| entries.next().is_none()) {
        Ok(false) => return Err(SaveError::NotEmpty(dir.into())),
        Ok(true) => false,
        Err(e) if e.kind() == io::ErrorKind::NotFound => true,
        Err(e) => return Err(write_err(dir)(e)),
    };
    let written = (|| {
        let files = layout(store, images, false)?;
        std::fs::create_dir_all(dir.join("blobs/sha256")).map_err(write_err(dir))?;
        for (name, content) in files {
            let dest = dir.join(&name);
            match content {
                Content::Bytes(bytes) => std::fs::write(&dest, bytes).map_err(write_err(&dest))?,
                // A copy, never a link: what is done to the layout must not reach the store.
                Content::File(blob) => std::fs::copy(&blob, &dest).map(drop).map_err(write_err(&dest))?,
            }
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = std::fs::remove_dir_all(dir);
        if !made {
            let _ = std::fs::create_dir(dir);
        }
    }
    written
}
