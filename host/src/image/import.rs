//! `sbx import`: a tarball of a root filesystem (plain, gzip or zstd) as an image of one layer, as
//! `docker import` makes it: no command, no environment, a history entry that says where it came
//! from. The layer is unpacked and checked as any loaded layer is.

use super::load::{LoadError, docker_media_type, host_arch, unpack_stream};
use super::reference;
use super::store::{ImageRecord, LayerMeta, LayerRef, Store};
use std::io::Read;
use std::path::Path;

/// The config of an imported image of the layer `diff_id`. Pure.
pub fn config(diff_id: &super::Digest, created: &str, comment: &str, arch: &str) -> Vec<u8> {
    let config = serde_json::json!({
        "architecture": arch,
        "os": "linux",
        "created": created,
        "config": {},
        "rootfs": { "type": "layers", "diff_ids": [diff_id.to_string()] },
        "history": [{ "created": created, "comment": comment }],
    });
    serde_json::to_vec(&config).expect("JSON serializes")
}

/// Imports the tarball `reader` gives (read from `path`, or stdin for `-`), named `name` if given.
pub fn import(store: &Store, reader: impl Read, path: &Path, name: Option<&str>) -> Result<ImageRecord, LoadError> {
    let names = match name {
        Some(n) => vec![reference::normalize_name(n).map_err(|e| LoadError::BadJson {
            path: path.into(),
            member: "image name".into(),
            message: e.to_string(),
        })?],
        None => Vec::new(),
    };
    let unpacked = unpack_stream(store, reader, path, "(the tarball)")?;
    let diff_id = unpacked.diff_id.clone();
    let meta = LayerMeta {
        diff_id: diff_id.clone(),
        unpacked_size: unpacked.report.unpacked_size,
        entries: unpacked.report.entries,
        blob: Some(unpacked.blob.0.clone()),
    };
    let layer = LayerRef {
        digest: unpacked.blob.0.clone(),
        diff_id: diff_id.clone(),
        media_type: docker_media_type(unpacked.gzip),
        size: unpacked.blob.1,
    };
    // A layer the store has already stays as it is; its blob as this tarball shipped it is kept.
    store.commit_layer(unpacked.staging, &meta)?;
    let created = crate::time::now_rfc3339();
    let comment = format!("Imported from {}", path.display());
    let id = store.put_blob(&config(&diff_id, &created, &comment, host_arch()))?;
    let record = ImageRecord {
        id,
        names,
        manifest_digest: None,
        layers: vec![layer],
        created: Some(created),
        size: meta.unpacked_size,
        parent: None,
    };
    Ok(store.save_image(record)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_imported_image_has_its_one_layer_and_no_command() {
        let diff = super::super::Digest::of(b"layer");
        let c: serde_json::Value =
            serde_json::from_slice(&config(&diff, "2026-01-01T00:00:00Z", "Imported from x.tar", "amd64")).unwrap();
        assert_eq!(c["rootfs"]["diff_ids"][0], diff.to_string());
        assert_eq!(c["config"], serde_json::json!({}));
        assert_eq!((c["os"].as_str(), c["architecture"].as_str()), (Some("linux"), Some("amd64")));
        assert!(oci_spec::image::ImageConfiguration::from_reader(&serde_json::to_vec(&c).unwrap()[..]).is_ok());
    }
}
