//! `sbx plugin inspect P.wasm`: what a plugin is, speaks, wants and costs to load; `sbx plugin
//! bench`, `sbx plugin compile` (the machine's compile cache filled ahead), `sbx plugin prune`
//! (emptied) and `sbx plugin new`.

use crate::config::{Limits, PluginSpec};
use crate::image::Store;
use crate::plugin::bindings::{EntryFilter, HOOKS_EXPORT, Interests, POLICY_EXPORT};
use crate::plugin::prune::Scope;
use crate::plugin::{Engine, Plugin, PolicyCheck, compile, measure};
use clap::Subcommand;
use std::path::PathBuf;

#[derive(Subcommand, Debug)]
pub enum PluginCommand {
    /// Show a plugin's WIT version, interfaces, size, what its policy wants to be asked (given no
    /// settings) and load time (and whether it was cached).
    Inspect {
        /// The component (.wasm).
        path: PathBuf,
    },
    /// Measure what a plugin costs: compile, cached load, a call, a layer check, a spec check, a hook.
    /// A plugin the configuration names is loaded as it says (settings, directories, limits).
    Bench {
        /// The component (.wasm).
        path: PathBuf,
        /// Calls to time for the per-call cost (the median is shown).
        #[arg(long, default_value_t = 200)]
        calls: usize,
        /// Entries of the synthetic layer the layer check gets.
        #[arg(long, default_value_t = 50_000)]
        entries: usize,
    },
    /// Compile plugins into this machine's cache now, so that their first run does not (a Python
    /// or JavaScript component takes seconds): for images of machines and for CI.
    Compile {
        /// The components (.wasm).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Also compile them for plugins metered with fuel (limits with `fuel`).
        #[arg(long)]
        fuel: bool,
    },
    /// Write a ready-to-build policy skeleton with its build script and a test suite.
    New(super::plugin_new::NewArgs),
    /// Remove the compiled plugins this sbx cannot map (compiled by another version); with -a,
    /// empty the compile cache.
    Prune {
        /// Every compiled plugin and what sbx remembers of plugin files.
        #[arg(short, long)]
        all: bool,
        /// Do not ask for confirmation.
        #[arg(short, long)]
        force: bool,
    },
}

pub fn run(store: &Store, cmd: PluginCommand, config: Option<&std::path::Path>) -> i32 {
    match cmd {
        PluginCommand::Inspect { path } => inspect(path),
        PluginCommand::Bench { path, calls, entries } => match super::config::resolve(config) {
            Ok(c) => bench(store, &configured(&c.plugins, &path), calls, entries),
            Err(code) => code,
        },
        PluginCommand::Compile { paths, fuel } => compile(&paths, fuel),
        PluginCommand::New(args) => super::plugin_new::run(args),
        PluginCommand::Prune { all, force } => prune(all, force),
    }
}

fn prune(all: bool, force: bool) -> i32 {
    let what = if all { "all compiled plugins" } else { "the compiled plugins of other versions of sbx" };
    if !force && !super::confirm(what) {
        return 0;
    }
    let dir = compile::cache_dir();
    let compats = match crate::plugin::engine::compats() {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let scope = if all { Scope::All } else { Scope::Stale(std::time::Duration::ZERO) };
    match crate::plugin::prune::prune(&dir, &compats, scope) {
        Ok((components, bytes)) => {
            say!("Deleted compiled plugins: {components}");
            say!("Total reclaimed space: {}", super::images::human_size(bytes));
            0
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            say!("Total reclaimed space: 0B");
            0
        }
        Err(e) => super::fail(format!("cannot prune the plugin cache {}: {e}", dir.display())),
    }
}

fn compile(paths: &[PathBuf], fuel: bool) -> i32 {
    let metered: &[bool] = if fuel { &[false, true] } else { &[false] };
    for &fuel in metered {
        let engine = match Engine::new(&compile::cache_dir(), fuel) {
            Ok(e) => e,
            Err(e) => return super::fail(e),
        };
        for path in paths {
            match engine.load(path, Limits::default().compile()) {
                Ok((_, info)) => {
                    let how = if info.cached { "already compiled" } else { "compiled" };
                    let metered = if fuel { ", metered with fuel" } else { "" };
                    say!("{}: {how} ({:.0} ms{metered})", path.display(), info.elapsed.as_secs_f64() * 1e3);
                }
                Err(e) => return super::fail(e),
            }
        }
    }
    0
}

/// The configuration's entry for the plugin at `path` (the same file, however named), else the
/// defaults: no settings, no directories.
fn configured(plugins: &[PluginSpec], path: &std::path::Path) -> PluginSpec {
    let wanted = path.canonicalize().ok();
    let same = |p: &std::path::Path| match (p.canonicalize().ok(), &wanted) {
        (Some(a), Some(b)) => a == *b,
        _ => p == path,
    };
    plugins.iter().find(|s| same(&s.path)).cloned().unwrap_or_else(|| PluginSpec::from_path(path))
}

fn bench(store: &Store, spec: &PluginSpec, calls: usize, entries: usize) -> i32 {
    // The uncached compile goes to a cache of its own, removed afterwards.
    let scratch = match store.stage() {
        Ok(d) => d,
        Err(e) => return super::fail(e),
    };
    let costs = match measure::measure(spec, scratch.path(), calls, entries) {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let ms = |d: std::time::Duration| format!("{:.3} ms", d.as_secs_f64() * 1e3);
    say!("compile:       {}", ms(costs.compile));
    say!("cached load:   {}", ms(costs.cached_load));
    say!("call:          {} (in the admission's instance, median of {calls})", ms(costs.call));
    say!("fresh call:    {} (a new instance and a call, as each admission's first)", ms(costs.fresh_call));
    if let Some(policy) = &costs.policy {
        let (n, t) = policy.layer_check;
        say!("layer check:   {} ({n} entries)", ms(t));
        say!("spec check:    {} (mutate-spec and validate-spec)", ms(policy.spec_check));
        // The checks above time every entry and both calls, to compare plugins and languages.
        say!("a run asks:    {}", wanted(&policy.wants));
    }
    if let Some(hook) = costs.hook {
        say!("hook:          {} (in the instance a process's hook calls share, median of {calls})", ms(hook.call));
        if let Some(reason) = hook.denied {
            say!("               the hook denied, so this is the time of its denial: {reason}");
        }
    }
    0
}

#[derive(clap::Args, Debug)]
pub struct CompileArgs {
    /// Compile for an engine that meters fuel.
    #[arg(long, overrides_with = "no_fuel")]
    fuel: bool,
    #[arg(long)]
    no_fuel: bool,
    /// Where the compiled component goes.
    out: PathBuf,
}

pub fn compile_child(args: CompileArgs) -> i32 {
    compile::child(args.fuel, &args.out)
}

fn inspect(path: PathBuf) -> i32 {
    let engine = match Engine::new(&compile::cache_dir(), false) {
        Ok(e) => e,
        Err(e) => return super::fail(e),
    };
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let (component, info) = match engine.load(&path, Limits::default().compile()) {
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
    say!("path:      {}", path.display());
    say!("size:      {size} bytes");
    say!("sha256:    {}", info.sha256.hex());
    say!("wit:       sbx:plugin@{}", wit.first().copied().unwrap_or("?"));
    say!("exports:   {}", exports.join(", "));
    let has = |name: &str| exports.iter().any(|e| e == name);
    let kind = match (has(POLICY_EXPORT), has(HOOKS_EXPORT)) {
        (true, true) => "policy and hooks",
        (true, false) => "policy",
        _ => "hooks",
    };
    say!("kind:      {kind}");
    say!("imports:   {}", imports.join(", "));
    let how = if info.cached { "from the compile cache" } else { "compiled now, cached for next time" };
    say!("load:      {:.2} ms, {how}", info.elapsed.as_secs_f64() * 1e3);
    if info.policy {
        // What a run with this plugin and no settings would be asked to call: each call, and each
        // entry given, costs.
        let wants = match Plugin::load(&engine, &PluginSpec::from_path(&path)) {
            Ok(plugin) => wanted(plugin.wants()),
            Err(e) => format!("not known (given no settings, {e})"),
        };
        say!("wants:     {wants}");
    }
    0
}

/// The checks `w` asks for, and the layer entries its check-layer is given.
fn wanted(w: &Interests) -> String {
    let entries = match w.entries {
        EntryFilter::All => "every entry".to_string(),
        EntryFilter::None => "no entries".to_string(),
        EntryFilter::WithMode(bits) => format!("the entries with mode bits 0{bits:o}"),
    };
    let checks = [
        (w.check_image, "check-image".to_string()),
        (w.check_layer, format!("check-layer ({entries})")),
        (w.mutate_spec, "mutate-spec".to_string()),
        (w.validate_spec, "validate-spec".to_string()),
    ];
    let asked: Vec<String> = checks.into_iter().filter(|(on, _)| *on).map(|(_, check)| check).collect();
    match asked.is_empty() {
        true => "nothing (it is never called)".to_string(),
        false => asked.join(", "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::bindings::EVERY_CHECK;

    #[test]
    fn wants_are_shown_check_by_check() {
        assert_eq!(wanted(&EVERY_CHECK), "check-image, check-layer (every entry), mutate-spec, validate-spec");
        let setuid = Interests {
            check_image: false,
            check_layer: true,
            mutate_spec: false,
            validate_spec: false,
            entries: EntryFilter::WithMode(0o6000),
        };
        assert_eq!(wanted(&setuid), "check-layer (the entries with mode bits 06000)");
        let none = Interests { check_layer: false, entries: EntryFilter::None, ..setuid };
        assert_eq!(wanted(&none), "nothing (it is never called)");
        let spec_only = Interests { mutate_spec: true, validate_spec: true, ..none };
        assert_eq!(wanted(&spec_only), "mutate-spec, validate-spec");
    }
}
