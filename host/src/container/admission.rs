//! Asking the policies whether a container may run: builds the WIT records from the store (a
//! layer's entry index is read only when a plugin will see it), evaluates the image and layer
//! checks, then the spec checks with their adjustments; reports notes and skipped layers.

use super::run::RunError;
use super::spec::ContainerSpec;
use crate::image::{ImageRecord, Store};
use crate::plugin::bindings::Image;
use crate::plugin::chain::{self, Decision, Evaluation, Note, PolicyCheck};
use crate::plugin::spec_check::{self, SpecDecision, SpecEvaluation};
use crate::plugin::{Plugin, convert};
use oci_spec::image::ImageConfiguration;

/// The plugins that export a policy, in order.
pub fn policies(plugins: &[Plugin]) -> Vec<&dyn PolicyCheck> {
    plugins.iter().filter(|p| p.has_policy()).map(|p| p as &dyn PolicyCheck).collect()
}

pub fn evaluate(
    store: &Store,
    image: &Image,
    record: &ImageRecord,
    config: &ImageConfiguration,
    plugins: &[Plugin],
) -> Evaluation {
    chain::evaluate(&policies(plugins), image, |i| {
        let diff_id = &record.layers[i].diff_id;
        let entries = store.layer_index(diff_id).map_err(|e| e.to_string())?;
        let meta = store.layer_meta(diff_id).map_err(|e| e.to_string())?;
        Ok(convert::layer(record, config, i, entries, meta.unpacked_size))
    })
}

pub fn evaluate_spec(image: &Image, spec: &ContainerSpec, plugins: &[Plugin]) -> SpecEvaluation {
    spec_check::evaluate(&policies(plugins), image, spec)
}

fn print_notes(notes: &[Note]) {
    for n in notes {
        eprintln!("sbx: policy {}: {}", n.plugin, n.message);
    }
}

/// Evaluates the policies for a run: the layer indexes to leave out and the spec to run, or the
/// denial.
pub fn admit(
    store: &Store,
    image: &Image,
    record: &ImageRecord,
    config: &ImageConfiguration,
    plugins: &[Plugin],
    spec: ContainerSpec,
) -> Result<(Vec<usize>, ContainerSpec), RunError> {
    let skipped = match evaluate(store, image, record, config, plugins).decision {
        Decision::Deny { plugin, reason, notes } => {
            print_notes(&notes);
            return Err(RunError::Denied { plugin, reason });
        }
        Decision::Allow { skipped, notes } => {
            print_notes(&notes);
            for s in &skipped {
                let diff_id = record.layers[s.layer].diff_id.short();
                eprintln!("sbx: policy {} skips layer {} ({diff_id}): {}", s.plugin, s.layer, s.reason);
            }
            skipped.into_iter().map(|s| s.layer).collect()
        }
    };
    match evaluate_spec(image, &spec, plugins).decision {
        SpecDecision::Deny { plugin, reason, notes } => {
            print_notes(&notes);
            Err(RunError::Denied { plugin, reason })
        }
        SpecDecision::Allow { spec, notes } => {
            print_notes(&notes);
            Ok((skipped, *spec))
        }
    }
}
