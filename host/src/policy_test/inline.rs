//! An image written out in a policy test suite: its config (docker's field names) and its layers'
//! entries, as a policy sees them, with nothing stored, unpacked or run. Pure.

use crate::image::store::LayerRef;
use crate::image::{Digest, ImageRecord};
use crate::layer::entry::{EntryKind, IndexEntry};
use oci_spec::image::ImageConfiguration;
use serde::Deserialize;
use serde_json::json;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct InlineImage {
    /// What the user would have asked for.
    #[serde(default = "default_reference")]
    pub reference: String,
    /// The names it is stored under (default: the reference).
    #[serde(default)]
    pub names: Option<Vec<String>>,
    /// The image config's `config` object: `User`, `Env`, `Cmd` (default `/bin/sh`), `Labels`...
    #[serde(default)]
    pub config: serde_json::Value,
    /// `created_by` of each history step.
    #[serde(default)]
    pub history: Vec<String>,
    /// Each layer's entries, bottom first.
    #[serde(default)]
    pub layers: Vec<Vec<InlineEntry>>,
}

fn default_reference() -> String {
    "example:latest".into()
}

/// An entry of a layer: a regular file of root's, mode 0644 and empty, unless it says otherwise.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct InlineEntry {
    pub path: String,
    #[serde(default = "file")]
    pub kind: EntryKind,
    /// Permission and special bits, as YAML writes octal (`0o4755`).
    #[serde(default = "file_mode")]
    pub mode: u32,
    #[serde(default)]
    pub uid: u32,
    #[serde(default)]
    pub gid: u32,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub link: Option<String>,
}

fn file() -> EntryKind {
    EntryKind::File
}

fn file_mode() -> u32 {
    0o644
}

/// The image as the store would hold it: its record, its config, and each layer's entries with
/// their total size.
pub struct Materialized {
    pub record: ImageRecord,
    pub config: ImageConfiguration,
    pub layers: Vec<(Vec<IndexEntry>, u64)>,
}

impl InlineImage {
    /// Its config's `config` object; one that names no command runs `/bin/sh`, as most images do.
    fn settings(&self) -> serde_json::Value {
        let mut c = if self.config.is_null() { json!({}) } else { self.config.clone() };
        if let Some(map) = c.as_object_mut()
            && !map.contains_key("Cmd")
            && !map.contains_key("Entrypoint")
        {
            map.insert("Cmd".into(), json!(["/bin/sh"]));
        }
        c
    }

    pub fn materialize(&self) -> Result<Materialized, String> {
        let layers: Vec<(Vec<IndexEntry>, u64)> = self
            .layers
            .iter()
            .map(|entries| {
                let index: Vec<IndexEntry> = entries
                    .iter()
                    .map(|e| IndexEntry {
                        path: e.path.trim_start_matches("./").trim_start_matches('/').to_string(),
                        kind: e.kind,
                        mode: e.mode,
                        uid: e.uid,
                        gid: e.gid,
                        size: e.size,
                        link: e.link.clone(),
                    })
                    .collect();
                let size = index.iter().map(|e| e.size).sum();
                (index, size)
            })
            .collect();
        // Each layer's digest stands for its entries, as a tarball's would for its bytes.
        let refs: Vec<LayerRef> = layers
            .iter()
            .map(|(index, size)| {
                let d = Digest::of(&serde_json::to_vec(index).expect("serializable"));
                LayerRef {
                    digest: d.clone(),
                    diff_id: d,
                    media_type: "application/vnd.oci.image.layer.v1.tar".into(),
                    size: *size,
                }
            })
            .collect();
        let config = json!({
            "architecture": crate::registry::pull::Platform::host().arch,
            "os": "linux",
            "config": self.settings(),
            "rootfs": { "type": "layers", "diff_ids": refs.iter().map(|l| l.diff_id.to_string()).collect::<Vec<_>>() },
            "history": self.history.iter().map(|h| json!({ "created_by": h })).collect::<Vec<_>>(),
        });
        let bytes = serde_json::to_vec(&config).expect("serializable");
        let parsed: ImageConfiguration =
            serde_json::from_slice(&bytes).map_err(|e| format!("the image's config is not an image config: {e}"))?;
        let record = ImageRecord {
            id: Digest::of(&bytes),
            names: self.names.clone().unwrap_or_else(|| vec![self.reference.clone()]),
            manifest_digest: None,
            layers: refs,
            created: None,
            size: layers.iter().map(|(_, s)| s).sum(),
            parent: None,
        };
        Ok(Materialized { record, config: parsed, layers })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_inline_image_becomes_a_record_a_config_and_layer_entries() {
        let yaml = "config: { User: '1000', Labels: { team: a } }\nhistory: [make]\n\
                    layers:\n  - [{ path: /bin/su, mode: 0o4755, size: 10 }, { path: etc, kind: dir, mode: 0o755 }]\n  - []\n";
        let image: InlineImage = serde_yaml::from_str(yaml).unwrap();
        let m = image.materialize().unwrap();
        assert_eq!(m.record.names, ["example:latest"]);
        assert_eq!(m.record.layers.len(), 2);
        assert_ne!(m.record.layers[0].diff_id, m.record.layers[1].diff_id);
        assert_eq!(m.config.config().as_ref().unwrap().user().as_deref(), Some("1000"));
        let (entries, size) = &m.layers[0];
        assert_eq!(
            (entries[0].path.as_str(), entries[0].mode, entries[0].kind, *size),
            ("bin/su", 0o4755, EntryKind::File, 10)
        );
        assert_eq!(entries[1].kind, EntryKind::Dir);
        let bad: InlineImage = serde_yaml::from_str("config: { Env: 3 }").unwrap();
        assert!(bad.materialize().err().unwrap().contains("not an image config"));
        assert!(serde_yaml::from_str::<InlineImage>("layer: []").is_err(), "unknown fields are refused");
    }
}
