//! `sbx policy test`: evaluates the image, layer and spec checks of the configured and given
//! policies against an image, or the spec checks against a recorded spec (a container's
//! spec.json), without running anything. Exit 0 when allowed, 1 when denied.

use crate::config::PluginSpec;
use crate::container::image::{image_config, resolve_image};
use crate::container::{admission, layers};
use crate::image::Store;
use crate::plugin::chain::{Answer, Decision, Note};
use crate::plugin::spec_check::SpecDecision;
use crate::plugin::{Plugin, convert, load_all};
use crate::spec::{self, ContainerSpec, Overrides};
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Evaluate policies against an image (or a recorded spec) without running it.
    Test(TestArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct TestArgs {
    /// A policy plugin to evaluate, after those of the configuration; repeatable.
    #[arg(long = "policy", value_name = "P.wasm")]
    pub policies: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Evaluate only the spec checks, against this recorded spec (a container's spec.json).
    #[arg(long, value_name = "FILE", conflicts_with = "image")]
    pub spec: Option<PathBuf>,
    /// The image: a stored name, an id prefix, or a path (loaded first).
    #[arg(required_unless_present = "spec")]
    pub image: Option<String>,
    /// The command the container would run (accepted as `sbx run` takes it).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
}

/// Everything the checks said, and the outcome.
struct Report {
    subject: String,
    answers: Vec<Answer>,
    notes: Vec<Note>,
    skipped: Vec<usize>,
    denied: Option<(String, String)>,
    spec: Option<ContainerSpec>,
}

fn read_spec(path: &Path) -> Result<ContainerSpec, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read spec {}: {e}", path.display()))?;
    let s: ContainerSpec =
        serde_json::from_slice(&text).map_err(|e| format!("spec {} is not valid: {e}", path.display()))?;
    spec::validate(&s).map_err(|e| format!("spec {} is not valid: {e}", path.display()))?;
    Ok(s)
}

fn evaluate(store: &Store, args: &TestArgs, plugins: &[Plugin]) -> Result<Report, String> {
    let (image_arg, recorded) = match (&args.spec, &args.image) {
        (Some(path), _) => {
            let s = read_spec(path)?;
            (s.image.clone(), Some(s))
        }
        (None, Some(image)) => (image.clone(), None),
        (None, None) => return Err("give an IMAGE or --spec FILE".into()),
    };
    let mut report = Report {
        subject: image_arg.clone(),
        answers: vec![],
        notes: vec![],
        skipped: vec![],
        denied: None,
        spec: None,
    };
    let layer_dirs = |record: &crate::image::ImageRecord, skipped: &[usize]| -> Vec<PathBuf> {
        let kept = record.layers.iter().enumerate().filter(|(i, _)| !skipped.contains(i));
        kept.map(|(_, l)| store.layer_diff(&l.diff_id)).collect()
    };
    let (wit, spec, dirs) = match recorded {
        Some(spec) => {
            // The image of a recorded spec is looked up if it is stored; the spec checks see only
            // its reference, and users only by number, otherwise.
            let found = resolve_image(store, &spec.image).ok().and_then(|r| {
                image_config(store, &r).ok().map(|c| (convert::image(&spec.image, &r, &c), layer_dirs(&r, &[])))
            });
            report.subject = args.spec.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
            let (wit, dirs) = found.unwrap_or_else(|| (convert::bare_image(&spec.image), Vec::new()));
            (wit, spec, dirs)
        }
        None => {
            let record = resolve_image(store, &image_arg).map_err(|e| e.to_string())?;
            let config = image_config(store, &record).map_err(|e| e.to_string())?;
            let wit = convert::image(&image_arg, &record, &config);
            let evaluation = admission::evaluate(store, &wit, &record, &config, plugins);
            report.answers = evaluation.answers;
            match evaluation.decision {
                Decision::Allow { skipped, notes } => {
                    report.notes = notes;
                    report.skipped = skipped.iter().map(|s| s.layer).collect();
                }
                Decision::Deny { plugin, reason, notes } => {
                    report.notes = notes;
                    report.denied = Some((plugin, reason));
                    return Ok(report);
                }
            }
            let o = Overrides { cmd: args.cmd.clone(), ..Default::default() };
            // The image's VOLUME paths as `run` mounts them (anonymous volumes, not made here).
            let (o, _) =
                crate::container::volumes::prepare(store, &o, config.config().as_ref()).map_err(|e| e.to_string())?;
            let spec = spec::build(&image_arg, config.config().as_ref(), &o, "sbx-policy-test", |_| None)
                .map_err(|e| e.to_string())?;
            let dirs = layer_dirs(&record, &report.skipped);
            (wit, spec, dirs)
        }
    };
    let resolve = |user: &str| layers::resolve_user(&dirs, user, &spec.group_add);
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

fn print(report: &Report, format: Format) {
    match format {
        Format::Json => {
            let notes: Vec<_> =
                report.notes.iter().map(|n| json!({ "plugin": n.plugin, "message": n.message })).collect();
            let out = json!({
                "subject": report.subject,
                "allowed": report.denied.is_none(),
                "denied_by": report.denied.as_ref().map(|d| &d.0),
                "reason": report.denied.as_ref().map(|d| &d.1),
                "skipped_layers": report.skipped,
                "notes": notes,
                "answers": report.answers,
                "spec": report.spec,
            });
            say!("{}", serde_json::to_string_pretty(&out).expect("serializable"));
        }
        Format::Table => {
            let width = report.answers.iter().map(|a| a.plugin.len()).max().unwrap_or(6).max(6);
            say!("{:<width$}  {:<9}  {:<7}  REASON / ADJUSTMENTS", "PLUGIN", "CHECK", "VERDICT");
            for a in &report.answers {
                let detail = if a.adjustments.is_empty() { a.reason.clone() } else { a.adjustments.join("; ") };
                say!("{:<width$}  {:<9}  {:<7}  {detail}", a.plugin, a.check, a.verdict);
            }
            for n in &report.notes {
                say!("note: {}: {}", n.plugin, n.message);
            }
            match &report.denied {
                Some((p, r)) => say!("denied by {p}: {r}"),
                None => say!("allowed"),
            }
        }
    }
}

pub fn run(store: &Store, cmd: PolicyCommand, config: Option<&Path>) -> i32 {
    let PolicyCommand::Test(args) = cmd;
    let mut specs = match super::config::resolve(config) {
        Ok(c) => c.plugins,
        Err(code) => return code,
    };
    specs.extend(args.policies.iter().map(|p| PluginSpec::from_path(p)));
    if specs.is_empty() {
        return super::fail("no policy to test: give --policy P.wasm or a --config with plugins");
    }
    let plugins = match load_all(&crate::plugin::compile::cache_dir(), &specs) {
        Ok(p) => p,
        Err(e) => return super::fail(e),
    };
    match evaluate(store, &args, &plugins) {
        Ok(report) => {
            print(&report, args.format);
            if report.denied.is_none() { 0 } else { 1 }
        }
        Err(e) => super::fail(e),
    }
}
