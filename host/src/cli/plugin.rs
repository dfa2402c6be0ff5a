//! `sbx plugin inspect P.wasm`: what a plugin is, speaks and costs to load.

use crate::image::Store;
use crate::plugin::Engine;
use crate::plugin::bindings::{HOOKS_EXPORT, POLICY_EXPORT};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// Show a plugin's WIT version, interfaces, size and load time (and whether it was cached).
    Inspect {
        /// The component (.wasm).
        path: PathBuf,
    },
}

pub fn run(store: &Store, cmd: PluginCommand) -> i32 {
    let PluginCommand::Inspect { path } = cmd;
    let engine = match Engine::new(&store.root().join("plugins"), false) {
        Ok(e) => e,
        Err(e) => return super::fail(e),
    };
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let (component, info) = match engine.load(&path) {
        Ok(loaded) => loaded,
        Err(e) => return super::fail(e),
    };
    let (imports, exports) = engine.interfaces(&component);
    let wit: Vec<&str> = exports
        .iter()
        .chain(&imports)
        .filter(|n| n.starts_with("sbx:plugin/"))
        .filter_map(|n| n.split_once('@').map(|(_, v)| v))
        .collect();
    println!("path:      {}", path.display());
    println!("size:      {size} bytes");
    println!("sha256:    {}", info.sha256.hex());
    println!("wit:       sbx:plugin@{}", wit.first().copied().unwrap_or("?"));
    println!("exports:   {}", exports.join(", "));
    let has = |name: &str| exports.iter().any(|e| e == name);
    let kind = match (has(POLICY_EXPORT), has(HOOKS_EXPORT)) {
        (true, true) => "policy and hooks",
        (true, false) => "policy",
        _ => "hooks",
    };
    println!("kind:      {kind}");
    println!("imports:   {}", imports.join(", "));
    let how = if info.cached { "from the compile cache" } else { "compiled now, cached for next time" };
    println!("load:      {:.2} ms, {how}", info.elapsed.as_secs_f64() * 1e3);
    0
}
