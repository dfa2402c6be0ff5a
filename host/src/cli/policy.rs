//! `sbx policy test`: evaluates the image, layer and spec checks of the configured and given
//! policies against an image, or the spec checks against a recorded spec (a container's
//! spec.json), without running anything; exit 0 when allowed, 1 when denied. With `--suite`, runs
//! test suites of cases and their expected verdicts (see [`crate::policy_test::suite`]): a line
//! per case, exit 0 only when every case passes.

use crate::config::PluginSpec;
use crate::image::Store;
use crate::plugin::load_all;
use crate::policy_test::suite::{self, Outcome};
use crate::policy_test::{Report, Subject, evaluate};
use crate::spec::Overrides;
use clap::{Args, Parser, Subcommand, ValueEnum};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Evaluate policies against an image (or a recorded spec) without running it, or run suites.
    Test(TestArgs),
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

#[derive(Args, Debug)]
pub struct TestArgs {
    /// A policy plugin to evaluate, after those of the configuration (or of the suite); repeatable.
    #[arg(long = "policy", value_name = "P.wasm")]
    pub policies: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Evaluate only the spec checks, against this recorded spec (a container's spec.json).
    #[arg(long, value_name = "FILE", conflicts_with = "image")]
    pub spec: Option<PathBuf>,
    /// Run the cases of a test suite (YAML) against its plugins; repeatable.
    #[arg(long = "suite", value_name = "FILE.yaml", conflicts_with_all = ["image", "spec"])]
    pub suites: Vec<PathBuf>,
    /// The image: a stored name, an id prefix, or a path (loaded first).
    #[arg(required_unless_present_any = ["spec", "suites"])]
    pub image: Option<String>,
    /// The command the container would run (accepted as `sbx run` takes it).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
}

/// `sbx run`'s flags, read by its own parser for a suite's case.
#[derive(Parser, Debug)]
#[command(no_binary_name = true)]
struct RunLine {
    #[command(flatten)]
    run: super::run::RunArgs,
}

fn run_flags(flags: &[String], command: &[String]) -> Result<Overrides, String> {
    let argv = flags.iter().map(String::as_str).chain(["IMAGE"]).chain(command.iter().map(String::as_str));
    let line = RunLine::try_parse_from(argv).map_err(|e| format!("run: {}", e.to_string().trim()))?;
    Ok(line.run.options()?.overrides)
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
                let detail = match (a.asked, a.adjustments.is_empty()) {
                    (false, _) => "(not asked: the plugin does not want this check)".to_string(),
                    (true, true) => a.reason.clone(),
                    (true, false) => a.adjustments.join("; "),
                };
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

/// A suite's outcomes: a line per case (failures indented under it), or one JSON document.
fn print_suites(done: &[(PathBuf, Vec<Outcome>)], format: Format) {
    let passed = done.iter().flat_map(|(_, o)| o).filter(|o| o.failures.is_empty()).count();
    let failed = done.iter().map(|(_, o)| o.len()).sum::<usize>() - passed;
    match format {
        Format::Json => {
            let suites: Vec<_> = done
                .iter()
                .map(|(file, outcomes)| {
                    let cases: Vec<_> = outcomes
                        .iter()
                        .map(|o| {
                            let r = o.report.as_ref();
                            json!({
                                "name": o.name,
                                "passed": o.failures.is_empty(),
                                "failures": o.failures,
                                "allowed": r.map(|r| r.denied.is_none()),
                                "denied_by": r.and_then(|r| r.denied.as_ref().map(|d| &d.0)),
                                "reason": r.and_then(|r| r.denied.as_ref().map(|d| &d.1)),
                                "answers": r.map(|r| &r.answers),
                            })
                        })
                        .collect();
                    json!({ "file": file, "cases": cases })
                })
                .collect();
            let out = json!({ "passed": passed, "failed": failed, "suites": suites });
            say!("{}", serde_json::to_string_pretty(&out).expect("serializable"));
        }
        Format::Table => {
            for (file, outcomes) in done {
                for o in outcomes {
                    let mark = if o.failures.is_empty() { "ok  " } else { "FAIL" };
                    say!("{mark} {}: {}", file.display(), o.name);
                    for f in &o.failures {
                        say!("       {f}");
                    }
                }
            }
            say!("{passed} passed, {failed} failed");
        }
    }
}

pub fn run(store: &Store, cmd: PolicyCommand, config: Option<&Path>) -> i32 {
    let PolicyCommand::Test(args) = cmd;
    let given: Vec<PluginSpec> = args.policies.iter().map(|p| PluginSpec::from_path(p)).collect();
    if !args.suites.is_empty() {
        let mut done = Vec::new();
        for file in &args.suites {
            let suite = match suite::read(file) {
                Ok(s) => s,
                Err(e) => return super::fail(e),
            };
            match suite::run(store, &suite, &given, &run_flags) {
                Ok(outcomes) => done.push((file.clone(), outcomes)),
                Err(e) => return super::fail(e),
            }
        }
        print_suites(&done, args.format);
        return if done.iter().flat_map(|(_, o)| o).all(|o| o.failures.is_empty()) { 0 } else { 1 };
    }
    let mut specs = match super::config::resolve(config) {
        Ok(c) => c.plugins,
        Err(code) => return code,
    };
    specs.extend(given);
    if specs.is_empty() {
        return super::fail("no policy to test: give --policy P.wasm or a --config with plugins");
    }
    let plugins = match load_all(&crate::plugin::compile::cache_dir(), &specs) {
        Ok(p) => p,
        Err(e) => return super::fail(e),
    };
    let subject = match (&args.spec, &args.image) {
        (Some(path), _) => Subject::Recorded(path.clone()),
        (None, Some(image)) => Subject::Stored(image.clone()),
        (None, None) => return super::fail("give an IMAGE or --spec FILE"),
    };
    let overrides = Overrides { cmd: args.cmd.clone(), ..Default::default() };
    match evaluate(store, &subject, &overrides, &plugins) {
        Ok(report) => {
            print(&report, args.format);
            if report.denied.is_none() { 0 } else { 1 }
        }
        Err(e) => super::fail(e),
    }
}
