//! The image a stage has made so far: its layers and its config (the whole image config, docker's
//! field names), and the stored image it is (none before a `FROM scratch` stage's first step).
//! Each step makes the next one, stored unnamed with this one as its parent.

use crate::image::store::LayerRef;
use crate::image::{Digest, ImageRecord, Store, StoreError};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct Working {
    pub layers: Vec<LayerRef>,
    pub config: Value,
    pub id: Option<Digest>,
}

/// The config of an image with nothing in it, for this machine.
fn scratch_config() -> Value {
    json!({
        "architecture": crate::registry::pull::Platform::host().arch,
        "os": "linux",
        "config": {},
        "rootfs": { "type": "layers", "diff_ids": [] },
        "history": [],
    })
}

impl Working {
    /// `FROM scratch`.
    pub fn scratch() -> Working {
        Working { layers: Vec::new(), config: scratch_config(), id: None }
    }

    /// `FROM` a stored image (its ONBUILD triggers are this build's; they are not passed on).
    pub fn of(store: &Store, image: &ImageRecord) -> Result<Working, StoreError> {
        let mut config: Value = serde_json::from_slice(&store.blob(&image.id)?).map_err(|e| StoreError::Damaged {
            path: store.blob_path(&image.id),
            message: format!("its config is not JSON: {e}"),
        })?;
        if !config["config"].is_object() {
            config["config"] = json!({});
        }
        Ok(Working { layers: image.layers.clone(), config, id: Some(image.id.clone()) })
    }

    /// The ONBUILD triggers of the image it was made from.
    pub fn triggers(&self) -> Vec<String> {
        serde_json::from_value(self.config["config"]["OnBuild"].clone()).unwrap_or_default()
    }

    /// The image's `config` object (Env, Cmd, WorkingDir...).
    pub fn settings(&self) -> &Value {
        &self.config["config"]
    }

    /// The next image: this one's config (the whole image config) changed by `change`, with
    /// `layer` on top (none for a step that only configures), and a history entry for `step`
    /// (none for the build's `--label`s). Its config is stored; its record, unnamed with this
    /// one as its parent, is for the caller to check and then save.
    pub fn next(
        &self,
        store: &Store,
        step: Option<&str>,
        layer: Option<LayerRef>,
        change: impl FnOnce(&mut Value),
    ) -> Result<(Working, ImageRecord), StoreError> {
        let mut next = self.clone();
        change(&mut next.config);
        let now = crate::time::now_rfc3339();
        let mut entry = json!({ "created": now, "created_by": step, "comment": "sbx build" });
        match layer {
            Some(l) => next.layers.push(l),
            None => entry["empty_layer"] = json!(true),
        }
        if !next.config["history"].is_array() {
            next.config["history"] = json!([]);
        }
        // The build's `--label`s change no date: a build that is all cached makes the same image.
        if let (Some(h), Some(_)) = (next.config["history"].as_array_mut(), step) {
            h.push(entry);
            next.config["created"] = json!(now);
        }
        let image = next.record(store)?;
        next.id = Some(image.id.clone());
        Ok((next, image))
    }

    /// This image's record, unnamed, with the image it was made from as its parent; its config is
    /// stored.
    fn record(&self, store: &Store) -> Result<ImageRecord, StoreError> {
        let mut config = self.config.clone();
        let diff_ids: Vec<String> = self.layers.iter().map(|l| l.diff_id.to_string()).collect();
        config["rootfs"] = json!({ "type": "layers", "diff_ids": diff_ids });
        let bytes = serde_json::to_vec(&config).expect("serializable");
        let id = store.put_blob(&bytes)?;
        let size = self.layers.iter().filter_map(|l| store.layer_meta(&l.diff_id).ok()).map(|m| m.unpacked_size).sum();
        let parent = self.id.clone().filter(|p| *p != id);
        let record = ImageRecord {
            id,
            names: Vec::new(),
            manifest_digest: None,
            layers: self.layers.clone(),
            created: config["created"].as_str().map(str::to_string),
            size,
            parent,
        };
        Ok(record)
    }
}
