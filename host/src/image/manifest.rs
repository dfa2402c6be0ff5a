//! The manifest an image leaves sbx with (`push`, `save`): the one it came with while it still
//! describes the image, so its digest stays what the registry or archive had; else an OCI manifest
//! made from the record (committed and docker-archive images have none), each layer's media type
//! told by its blob's first bytes.

use super::digest::Digest;
use super::store::{ImageRecord, Store, StoreError};
use oci_spec::image::ImageManifest;
use std::io::Read;

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";

/// The media type of a layer blob by its first bytes. Pure.
pub fn layer_media_type(head: &[u8]) -> &'static str {
    if head.starts_with(&[0x1f, 0x8b]) {
        "application/vnd.oci.image.layer.v1.tar+gzip"
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        "application/vnd.oci.image.layer.v1.tar+zstd"
    } else {
        "application/vnd.oci.image.layer.v1.tar"
    }
}

/// Whether `manifest` describes `record`: its config and its layers, in order. Pure.
pub fn describes(manifest: &ImageManifest, record: &ImageRecord) -> bool {
    manifest.config().digest().to_string() == record.id.to_string()
        && manifest.layers().len() == record.layers.len()
        && manifest.layers().iter().zip(&record.layers).all(|(m, l)| m.digest().to_string() == l.digest.to_string())
}

/// The manifest's media type as it says it (docker's v2 schema 2 or OCI's).
fn media_type_of(bytes: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| v.get("mediaType").and_then(|m| m.as_str()).map(String::from))
        .unwrap_or_else(|| OCI_MANIFEST.into())
}

/// A layer's blob, or why the store cannot give it.
pub fn layer_blob(store: &Store, record: &ImageRecord, digest: &Digest) -> Result<std::path::PathBuf, StoreError> {
    let path = store.blob_path(digest);
    if path.is_file() {
        return Ok(path);
    }
    Err(StoreError::Damaged {
        path,
        message: format!(
            "image {} has no copy of its layer {digest} as shipped (stored by an older sbx, or the layer came in another image); pull or load the image again",
            record.id.short()
        ),
    })
}

/// The manifest of `record`: its bytes and media type.
pub fn for_image(store: &Store, record: &ImageRecord) -> Result<(Vec<u8>, String), StoreError> {
    if let Some(digest) = &record.manifest_digest
        && let Ok(bytes) = store.blob(digest)
        && ImageManifest::from_reader(&bytes[..]).is_ok_and(|m| describes(&m, record))
    {
        let media_type = media_type_of(&bytes);
        return Ok((bytes, media_type));
    }
    let config_size = std::fs::metadata(store.blob_path(&record.id))
        .map_err(|source| StoreError::Io { path: store.blob_path(&record.id), source })?
        .len();
    let mut layers = Vec::with_capacity(record.layers.len());
    for l in &record.layers {
        let path = layer_blob(store, record, &l.digest)?;
        let mut head = [0u8; 4];
        let n = std::fs::File::open(&path)
            .and_then(|mut f| f.read(&mut head))
            .map_err(|source| StoreError::Io { path: path.clone(), source })?;
        layers.push(serde_json::json!({
            "mediaType": layer_media_type(&head[..n]),
            "digest": l.digest.to_string(),
            "size": l.size,
        }));
    }
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": { "mediaType": OCI_CONFIG, "digest": record.id.to_string(), "size": config_size },
        "layers": layers,
    });
    Ok((serde_json::to_vec(&manifest).expect("JSON serializes"), OCI_MANIFEST.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::store::LayerRef;

    #[test]
    fn a_layer_is_typed_by_its_first_bytes() {
        assert!(layer_media_type(&[0x1f, 0x8b, 8, 0]).ends_with("tar+gzip"));
        assert!(layer_media_type(&[0x28, 0xb5, 0x2f, 0xfd]).ends_with("tar+zstd"));
        assert!(layer_media_type(b"etc/").ends_with("v1.tar"));
    }

    #[test]
    fn a_manifest_describes_only_its_own_config_and_layers() {
        let d = |c: char| format!("sha256:{}", c.to_string().repeat(64));
        let manifest: ImageManifest = serde_json::from_value(serde_json::json!({
            "schemaVersion": 2,
            "config": { "mediaType": OCI_CONFIG, "digest": d('c'), "size": 1 },
            "layers": [{ "mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d('a'), "size": 1 }],
        }))
        .unwrap();
        let layer = |c| LayerRef {
            digest: d(c).parse().unwrap(),
            diff_id: d(c).parse().unwrap(),
            media_type: String::new(),
            size: 1,
        };
        let mut record = ImageRecord {
            id: d('c').parse().unwrap(),
            names: vec![],
            manifest_digest: None,
            layers: vec![layer('a')],
            created: None,
            size: 0,
            parent: None,
        };
        assert!(describes(&manifest, &record));
        record.layers.push(layer('b'));
        assert!(!describes(&manifest, &record), "a layer more (a commit on top)");
    }
}
