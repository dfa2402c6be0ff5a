//! `sbx image inspect`'s document for one image, in docker's shape: its names, the config's
//! `config` (whose fields already carry docker's names), platform, size and layers. Pure.

use super::reference;
use super::store::ImageRecord;
use serde_json::{Value, json};

/// `config` is the image's config blob as stored.
pub fn document(image: &ImageRecord, config: &Value) -> Value {
    let digests: Vec<String> = match &image.manifest_digest {
        Some(d) => image.names.iter().map(|n| format!("{}@{d}", reference::split_tag(n).0)).collect(),
        None => Vec::new(),
    };
    let field = |k: &str| config.get(k).cloned().unwrap_or(Value::Null);
    json!({
        "Id": image.id.to_string(),
        "RepoTags": image.names,
        "RepoDigests": digests,
        "Parent": image.parent.as_ref().map_or_else(String::new, ToString::to_string),
        "Comment": config.get("comment").cloned().unwrap_or_else(|| "".into()),
        "Created": image.created.clone().map_or_else(|| field("created"), Value::from),
        "Author": config.get("author").cloned().unwrap_or_else(|| "".into()),
        "Config": field("config"),
        "Architecture": field("architecture"),
        "Variant": config.get("variant").cloned(),
        "Os": field("os"),
        "Size": image.size,
        "RootFS": {
            "Type": "layers",
            "Layers": image.layers.iter().map(|l| l.diff_id.to_string()).collect::<Vec<_>>(),
        },
    })
}
