//! Asking the policies whether an image may run: builds the WIT records from the store (a layer's
//! entry index is read only when a plugin will see it), evaluates the chain, reports notes and
//! skipped layers.

use super::run::RunError;
use crate::image::{ImageRecord, Store};
use crate::plugin::chain::{self, Decision, Evaluation, PolicyCheck};
use crate::plugin::{Plugin, convert};
use oci_spec::image::ImageConfiguration;

pub fn evaluate(
    store: &Store,
    reference: &str,
    image: &ImageRecord,
    config: &ImageConfiguration,
    plugins: &[Plugin],
) -> Evaluation {
    let checks: Vec<&dyn PolicyCheck> = plugins.iter().map(|p| p as &dyn PolicyCheck).collect();
    let wit_image = convert::image(reference, image, config);
    chain::evaluate(&checks, &wit_image, |i| {
        let diff_id = &image.layers[i].diff_id;
        let entries = store.layer_index(diff_id).map_err(|e| e.to_string())?;
        let meta = store.layer_meta(diff_id).map_err(|e| e.to_string())?;
        Ok(convert::layer(image, config, i, entries, meta.unpacked_size))
    })
}

/// Evaluates the policies for a run: the layer indexes to leave out, or the denial.
pub fn admit(
    store: &Store,
    reference: &str,
    image: &ImageRecord,
    config: &ImageConfiguration,
    plugins: &[Plugin],
) -> Result<Vec<usize>, RunError> {
    let decision = evaluate(store, reference, image, config, plugins).decision;
    let notes = match &decision {
        Decision::Allow { notes, .. } | Decision::Deny { notes, .. } => notes,
    };
    for n in notes {
        eprintln!("sbx: policy {}: {}", n.plugin, n.message);
    }
    match decision {
        Decision::Deny { plugin, reason, .. } => Err(RunError::Denied { plugin, reason }),
        Decision::Allow { skipped, .. } => {
            for s in &skipped {
                let diff_id = image.layers[s.layer].diff_id.short();
                eprintln!("sbx: policy {} skips layer {} ({diff_id}): {}", s.plugin, s.layer, s.reason);
            }
            Ok(skipped.into_iter().map(|s| s.layer).collect())
        }
    }
}
