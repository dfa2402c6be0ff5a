//! `sbx policy test`: evaluates the image and layer checks of the configured and given policies
//! against an image, without running anything. Exit 0 when allowed, 1 when denied.

use crate::config::PluginSpec;
use crate::container::admission;
use crate::container::run::{image_config, resolve_image};
use crate::image::Store;
use crate::plugin::chain::Decision;
use crate::plugin::load_all;
use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;
use std::path::{Path, PathBuf};

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Evaluate policies against an image without running it.
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
    /// The image: a stored name, an id prefix, or a path (loaded first).
    pub image: String,
    /// The command the container would run (accepted as `sbx run` takes it).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
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
    let plugins = match load_all(&store.root().join("plugins"), &specs) {
        Ok(p) => p,
        Err(e) => return super::fail(e),
    };
    let evaluated = resolve_image(store, &args.image).and_then(|image| {
        let config = image_config(store, &image)?;
        Ok(admission::evaluate(store, &args.image, &image, &config, &plugins))
    });
    let evaluation = match evaluated {
        Ok(e) => e,
        Err(e) => return super::fail(e),
    };
    let (allowed, denied_by, reason, notes, skipped) = match &evaluation.decision {
        Decision::Allow { skipped, notes } => (true, None, None, notes, skipped.iter().map(|s| s.layer).collect()),
        Decision::Deny { plugin, reason, notes } => (false, Some(plugin), Some(reason), notes, Vec::new()),
    };
    match args.format {
        Format::Json => {
            let notes: Vec<_> = notes.iter().map(|n| json!({ "plugin": n.plugin, "message": n.message })).collect();
            let out = json!({
                "image": args.image,
                "allowed": allowed,
                "denied_by": denied_by,
                "reason": reason,
                "skipped_layers": skipped,
                "notes": notes,
                "answers": evaluation.answers,
            });
            println!("{}", serde_json::to_string_pretty(&out).expect("serializable"));
        }
        Format::Table => {
            let width = evaluation.answers.iter().map(|a| a.plugin.len()).max().unwrap_or(6).max(6);
            println!("{:<width$}  {:<9}  {:<7}  REASON", "PLUGIN", "CHECK", "VERDICT");
            for a in &evaluation.answers {
                println!("{:<width$}  {:<9}  {:<7}  {}", a.plugin, a.check, a.verdict, a.reason);
            }
            for n in notes {
                println!("note: {}: {}", n.plugin, n.message);
            }
            match (denied_by, reason) {
                (Some(p), Some(r)) => println!("denied by {p}: {r}"),
                _ => println!("allowed"),
            }
        }
    }
    if allowed { 0 } else { 1 }
}
