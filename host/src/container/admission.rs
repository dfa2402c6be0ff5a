//! Asking the policies whether a container may run: builds the WIT records from the store (a
//! layer's entry index is read only when a plugin will see some of its entries), evaluates the
//! image and layer checks, then the spec checks with their adjustments; reports notes and skipped
//! layers; keeps the decision in the decision cache.

use super::decision::{self, Decision};
use super::error::RunError;
use super::layers::UserFiles;
use crate::image::{ImageRecord, Store};
use crate::plugin::bindings::{EntryFilter, Image};
use crate::plugin::chain::{self, Evaluation, Note};
use crate::plugin::spec_check::{self, SpecDecision, SpecEvaluation};
use crate::plugin::{Plugin, PluginSet, convert};
use crate::spec::ContainerSpec;
use crate::spec::security;
use crate::spec::user::{User, UserError};
use oci_spec::image::ImageConfiguration;
use std::path::PathBuf;

pub use crate::plugin::policies;

pub fn evaluate(
    store: &Store,
    image: &Image,
    record: &ImageRecord,
    config: &ImageConfiguration,
    plugins: &[Plugin],
) -> Evaluation {
    chain::evaluate(&policies(plugins), image, |i, needed| {
        let diff_id = &record.layers[i].diff_id;
        let entries = match needed {
            EntryFilter::None => Vec::new(),
            needed => {
                let mut entries = store.layer_index(diff_id).map_err(|e| e.to_string())?;
                entries.retain(|e| chain::shown(needed, e.mode));
                entries
            }
        };
        let meta = store.layer_meta(diff_id).map_err(|e| e.to_string())?;
        Ok(convert::layer(record, config, i, entries, meta.unpacked_size))
    })
}

/// The image and layer checks of `plugins` on an image made here (`commit`, a build's step), as
/// `reference`, before it is stored: its notes shown, or the denial.
pub fn check_new_image(
    store: &Store,
    reference: &str,
    image: &ImageRecord,
    plugins: &PluginSet,
) -> Result<(), RunError> {
    if plugins.is_empty() {
        return Ok(());
    }
    let config = super::image::image_config(store, image)?;
    let wit = convert::image(reference, image, &config);
    let loaded = plugins.load()?;
    let evaluation = evaluate(store, &wit, image, &config, loaded);
    end_sessions(loaded);
    match evaluation.decision {
        chain::Decision::Deny { plugin, reason, notes } => {
            print_notes(&notes);
            Err(RunError::Denied { plugin, reason })
        }
        chain::Decision::Allow { notes, .. } => {
            print_notes(&notes);
            Ok(())
        }
    }
}

/// The spec checks of `plugins`; `resolve` resolves a user against the container's files.
pub fn evaluate_spec(
    image: &Image,
    spec: &ContainerSpec,
    plugins: &[Plugin],
    resolve: &dyn Fn(&str) -> Result<User, UserError>,
) -> Result<SpecEvaluation, RunError> {
    let cx = spec_check::Context { image, resolve, own_hard: &security::own_hard_limit };
    Ok(spec_check::evaluate(&policies(plugins), &cx, spec)?)
}

/// Ends the admission's sessions: its instances are freed, and a later admission in this process
/// starts from fresh ones.
pub fn end_sessions(plugins: &[Plugin]) {
    plugins.iter().for_each(Plugin::end_session);
}

/// Ends the admission's sessions as [`end_sessions`] does, but frees their instances only when
/// [`PluginSet::free_retired`] is called: a run does so once its container runs.
fn retire_sessions(plugins: &[Plugin]) {
    plugins.iter().for_each(Plugin::retire_session);
}

/// The notes of a run's admission; findings (info) only at `--log-level info` or below (`sbx
/// policy test` shows them all, its own way).
pub fn print_notes(notes: &[Note]) {
    let findings = crate::plugin::host::shows(crate::plugin::bindings::LogLevel::Info);
    for n in notes.iter().filter(|n| findings || !n.finding) {
        eprintln!("sbx: policy {}: {}", n.plugin, n.message);
    }
}

/// Evaluates the policies for a run: the layer indexes to leave out, the spec to run and the notes
/// to show, with the user files of the layers it mounts; or the denial (its notes printed).
pub fn admit(
    store: &Store,
    image: &Image,
    record: &ImageRecord,
    config: &ImageConfiguration,
    plugins: &[Plugin],
    spec: ContainerSpec,
) -> Result<(Decision, UserFiles), RunError> {
    let denied = |plugin, reason, notes: Vec<Note>| {
        print_notes(&notes);
        RunError::Denied { plugin, reason }
    };
    let (skipped, mut notes) = match evaluate(store, image, record, config, plugins).decision {
        chain::Decision::Deny { plugin, reason, notes } => return Err(denied(plugin, reason, notes)),
        chain::Decision::Allow { skipped, notes } => {
            let mut notes = notes;
            for s in &skipped {
                let diff_id = record.layers[s.layer].diff_id.short();
                notes.push(Note::new(&s.plugin, format!("skips layer {} ({diff_id}): {}", s.layer, s.reason)));
            }
            (skipped.into_iter().map(|s| s.layer).collect::<Vec<usize>>(), notes)
        }
    };
    // Users resolve against the layers that will be mounted.
    let dirs: Vec<PathBuf> = record
        .layers
        .iter()
        .enumerate()
        .filter(|(i, _)| !skipped.contains(i))
        .map(|(_, l)| store.layer_diff(&l.diff_id))
        .collect();
    let files = UserFiles::read(&dirs);
    let resolve = |user: &str| files.resolve(user, &spec.group_add);
    match evaluate_spec(image, &spec, plugins, &resolve)?.decision {
        SpecDecision::Deny { plugin, reason, notes: more } => {
            print_notes(&notes);
            Err(denied(plugin, reason, more))
        }
        SpecDecision::Allow { spec, notes: more } => {
            notes.extend(more);
            Ok((Decision { skipped, spec: *spec, notes }, files))
        }
    }
}

/// What the policies allow a run.
pub struct Admitted {
    /// The indexes of the image's layers left out.
    pub skipped: Vec<usize>,
    pub spec: ContainerSpec,
    /// The user files of the layers the run mounts, when the policies read them (not when the
    /// decision came from the cache or there are no policies).
    pub files: Option<UserFiles>,
}

/// The policy decision for a run: from the decision cache when the same plugins decided on the same
/// input before, else from the plugins (and cached when it may be). `varying` is what is the
/// container's own in the spec (see [`decision::Varying`]).
pub fn decide(
    store: &Store,
    reference: &str,
    record: &ImageRecord,
    config: &ImageConfiguration,
    plugins: &PluginSet,
    spec: ContainerSpec,
    varying: decision::Varying,
) -> Result<Admitted, RunError> {
    if plugins.is_empty() {
        return Ok(Admitted { skipped: Vec::new(), spec, files: None });
    }
    let key = decision::key(plugins, reference, record, &spec, varying);
    if let Some(hit) = key.as_ref().and_then(|k| decision::load(&decision::dir(store), k)) {
        print_notes(&hit.notes);
        return Ok(Admitted { skipped: hit.skipped, spec: decision::restore(hit.spec, varying), files: None });
    }
    let loaded = plugins.load()?;
    let image = convert::image(reference, record, config);
    // Known once loaded where it was not (a first run's plugins are compiled then).
    let key = key.or_else(|| decision::key(plugins, reference, record, &spec, varying));
    let made = admit(store, &image, record, config, loaded, spec);
    retire_sessions(loaded);
    let (made, files) = made?;
    print_notes(&made.notes);
    if let Some(k) = key {
        let neutral = Decision { spec: decision::neutral(&made.spec, varying), ..made.clone() };
        decision::save(&decision::dir(store), &k, &neutral);
    }
    Ok(Admitted { skipped: made.skipped, spec: made.spec, files: Some(files) })
}

/// The spec checks again, on a changed spec of an existing container (`sbx update`): the spec
/// they allow (adjusted), or the denial. Its users resolve against the layers it mounts.
pub fn recheck(
    store: &Store,
    record: &super::state::ContainerRecord,
    spec: ContainerSpec,
    plugins: &PluginSet,
) -> Result<ContainerSpec, RunError> {
    if plugins.is_empty() {
        return Ok(spec);
    }
    let image_record = store.find_image(record.image_id.hex())?;
    let config = super::image::image_config(store, &image_record)?;
    let image = convert::image(&record.image, &image_record, &config);
    let dirs: Vec<PathBuf> = record.mounted_layers(store)?.iter().map(|d| store.layer_diff(d)).collect();
    let files = UserFiles::read(&dirs);
    let resolve = |user: &str| files.resolve(user, &spec.group_add);
    let loaded = plugins.load()?;
    let evaluated = evaluate_spec(&image, &spec, loaded, &resolve);
    end_sessions(loaded);
    match evaluated?.decision {
        SpecDecision::Deny { plugin, reason, notes } => {
            print_notes(&notes);
            Err(RunError::Denied { plugin, reason })
        }
        SpecDecision::Allow { spec, notes } => {
            print_notes(&notes);
            Ok(*spec)
        }
    }
}
