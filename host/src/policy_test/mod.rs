//! Policies evaluated without running anything (`sbx policy test`): the image, layer and spec
//! checks of a set of plugins against a stored image, a recorded spec (a container's spec.json),
//! or an image written out in a test suite ([`inline`]); and suites of such cases with the
//! verdicts they expect ([`suite`]).

pub mod inline;
pub mod suite;

use crate::container::image::{image_config, resolve_image};
use crate::container::{admission, layers};
use crate::image::{ImageRecord, Store};
use crate::plugin::chain::{Answer, Decision, Evaluation, Note};
use crate::plugin::spec_check::SpecDecision;
use crate::plugin::{Plugin, convert};
use crate::spec::{self, ContainerSpec, Overrides};
use std::path::{Path, PathBuf};

/// What the checks are asked about.
pub enum Subject {
    /// A stored image, by name or id prefix, or a path to one (loaded first).
    Stored(String),
    /// A recorded spec: only the spec checks run.
    Recorded(PathBuf),
    Inline(inline::InlineImage),
}

/// Everything the checks said, and the outcome.
pub struct Report {
    pub subject: String,
    pub answers: Vec<Answer>,
    pub notes: Vec<Note>,
    pub skipped: Vec<usize>,
    /// The plugin that denied, and why.
    pub denied: Option<(String, String)>,
    /// The spec as the spec checks left it, when allowed.
    pub spec: Option<ContainerSpec>,
}

fn read_spec(path: &Path) -> Result<ContainerSpec, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read spec {}: {e}", path.display()))?;
    let s: ContainerSpec =
        serde_json::from_slice(&text).map_err(|e| format!("spec {} is not valid: {e}", path.display()))?;
    spec::validate(&s).map_err(|e| format!("spec {} is not valid: {e}", path.display()))?;
    Ok(s)
}

/// Evaluates `plugins` on `subject`, the container made as `overrides` say (`sbx run`'s flags).
pub fn evaluate(store: &Store, subject: &Subject, overrides: &Overrides, plugins: &[Plugin]) -> Result<Report, String> {
    let mut report =
        Report { subject: String::new(), answers: vec![], notes: vec![], skipped: vec![], denied: None, spec: None };
    let layer_dirs = |record: &ImageRecord, skipped: &[usize]| -> Vec<PathBuf> {
        let kept = record.layers.iter().enumerate().filter(|(i, _)| !skipped.contains(i));
        kept.map(|(_, l)| store.layer_diff(&l.diff_id)).collect()
    };
    // The image and layer checks; Some(report) when they denied.
    let admit = |evaluation: Evaluation, report: &mut Report| {
        report.answers = evaluation.answers;
        match evaluation.decision {
            Decision::Allow { skipped, notes } => {
                report.notes = notes;
                report.skipped = skipped.iter().map(|s| s.layer).collect();
                false
            }
            Decision::Deny { plugin, reason, notes } => {
                report.notes = notes;
                report.denied = Some((plugin, reason));
                true
            }
        }
    };
    let (wit, spec, dirs) = match subject {
        Subject::Recorded(path) => {
            let spec = read_spec(path)?;
            // The image of a recorded spec is looked up if it is stored; the spec checks see only
            // its reference, and users only by number, otherwise.
            let found = resolve_image(store, &spec.image).ok().and_then(|r| {
                image_config(store, &r).ok().map(|c| (convert::image(&spec.image, &r, &c), layer_dirs(&r, &[])))
            });
            report.subject = path.display().to_string();
            let (wit, dirs) = found.unwrap_or_else(|| (convert::bare_image(&spec.image), Vec::new()));
            (wit, spec, dirs)
        }
        Subject::Stored(name) => {
            report.subject = name.clone();
            let record = resolve_image(store, name).map_err(|e| e.to_string())?;
            let config = image_config(store, &record).map_err(|e| e.to_string())?;
            let wit = convert::image(name, &record, &config);
            if admit(admission::evaluate(store, &wit, &record, &config, plugins), &mut report) {
                return Ok(report);
            }
            // The image's VOLUME paths as `run` mounts them (anonymous volumes, not made here).
            let (o, _) = crate::container::volumes::prepare(store, overrides, config.config().as_ref())
                .map_err(|e| e.to_string())?;
            let spec = spec::build(name, config.config().as_ref(), &o, "sbx-policy-test", |_| None)
                .map_err(|e| e.to_string())?;
            (wit, spec, layer_dirs(&record, &report.skipped))
        }
        Subject::Inline(image) => {
            report.subject = image.reference.clone();
            let m = image.materialize()?;
            let wit = convert::image(&image.reference, &m.record, &m.config);
            let evaluation = crate::plugin::chain::evaluate(&admission::policies(plugins), &wit, |i, _| {
                let (entries, size) = m.layers[i].clone();
                Ok(convert::layer(&m.record, &m.config, i, entries, size))
            });
            if admit(evaluation, &mut report) {
                return Ok(report);
            }
            let spec =
                spec::build(&image.reference, m.config.config().as_ref(), overrides, "sbx-policy-test", |_| None)
                    .map_err(|e| e.to_string())?;
            // No files: users are known by number only.
            (wit, spec, Vec::new())
        }
    };
    let files = layers::UserFiles::read(&dirs);
    let resolve = |user: &str| files.resolve(user, &spec.group_add);
    let evaluation = admission::evaluate_spec(&wit, &spec, plugins, &resolve).map_err(|e| e.to_string())?;
    report.answers.extend(evaluation.answers);
    match evaluation.decision {
        SpecDecision::Allow { spec, notes } => {
            report.notes.extend(notes);
            report.spec = Some(*spec);
        }
        SpecDecision::Deny { plugin, reason, notes } => {
            report.notes.extend(notes);
            report.denied = Some((plugin, reason));
        }
    }
    Ok(report)
}
