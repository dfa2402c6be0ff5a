//! `sbx volume create|ls|inspect|rm|prune`, as docker's: volumes of the local driver, kept in the
//! store; and `_fill-volume`, the process that fills a new volume from its container's image.

use crate::container::volumes;
use crate::image::Store;
use crate::volume::{self, Volume, VolumeError};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::collections::BTreeMap;

#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    /// Make a volume (a random name when none is given); prints its name.
    Create(CreateArgs),
    /// List volumes.
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Show volumes as JSON.
    Inspect(InspectArgs),
    /// Remove volumes no container uses.
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove the anonymous volumes no container uses (all unused ones with -a).
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    pub name: Option<String>,
    /// KEY=VALUE; repeatable.
    #[arg(short, long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// The volume driver: only `local`, sbx's.
    #[arg(short, long, default_value = "local")]
    pub driver: String,
    /// Driver options: none are taken (sbx's volumes are directories of its store).
    #[arg(short, long = "opt")]
    pub opts: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only names.
    #[arg(short, long)]
    pub quiet: bool,
    /// dangling=true|false, name=TEXT, label=KEY[=VALUE]; repeatable.
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// table, json (one object per line), or a Go template ('{{.Name}}').
    #[arg(long, default_value = "table", value_parser = super::format::parse)]
    pub format: super::format::Format,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
    /// json, or a Go template over each volume ('{{.Mountpoint}}').
    #[arg(short, long, value_parser = super::format::parse)]
    pub format: Option<super::format::Format>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// No error for a volume that does not exist.
    #[arg(short, long)]
    pub force: bool,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Every unused volume, not only anonymous ones.
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct FillArgs {
    pub container: String,
    pub volume: String,
    pub destination: String,
}

pub fn run(store: &Store, cmd: VolumeCommand) -> i32 {
    match cmd {
        VolumeCommand::Create(args) => create(store, args),
        VolumeCommand::Ls(args) => ls(store, args),
        VolumeCommand::Inspect(args) => inspect(store, args),
        VolumeCommand::Rm(args) => rm(store, args),
        VolumeCommand::Prune(args) => prune(store, args),
    }
}

/// `_fill-volume`: its errors go to the sbx that started it, which names the volume.
pub fn fill(store: &Store, args: FillArgs) -> i32 {
    match volumes::fill_from_image(store, &args.container, &args.volume, &args.destination) {
        Ok(()) => 0,
        Err(e) => super::fail(e),
    }
}

fn refused(e: VolumeError) -> i32 {
    let refusal = e.is_refusal();
    super::refuse_or_fail(e, refusal)
}

fn create(store: &Store, args: CreateArgs) -> i32 {
    if args.driver != "local" {
        return super::fail(format!("volume driver '{}' is not supported: sbx has only `local`", args.driver));
    }
    if let Some(o) = args.opts.first() {
        return super::fail(format!(
            "volume option '{o}' is not supported: sbx's volumes are directories of its store, made without options"
        ));
    }
    let labels = match labels(&args.labels) {
        Ok(labels) => labels,
        Err(e) => return super::fail(e),
    };
    let name = args.name.unwrap_or_else(|| crate::random::hex(32));
    match volume::create(store, &name, labels, false) {
        Ok(_) => {
            say!("{name}");
            0
        }
        Err(e) => super::fail(e),
    }
}

/// `--label KEY=VALUE` (or KEY, for an empty value) of `volume create` and `network create`.
pub(super) fn labels(flags: &[String]) -> Result<BTreeMap<String, String>, String> {
    flags
        .iter()
        .map(|l| match l.split_once('=').unwrap_or((l, "")) {
            ("", _) => Err(format!("bad label '{l}': expected KEY=VALUE")),
            (k, v) => Ok((k.to_string(), v.to_string())),
        })
        .collect()
}

/// docker's document of a volume (`volume inspect`).
pub(super) fn document(store: &Store, v: &Volume) -> Value {
    json!({
        "CreatedAt": v.created,
        "Driver": "local",
        "Labels": v.labels,
        "Mountpoint": volume::data_dir(store, &v.name),
        "Name": v.name,
        "Options": {},
        "Scope": "local",
    })
}

/// Whether volume `v` (used by `users` containers) passes every filter of `ls`. Pure.
fn passes(filters: &[(String, String)], v: &Volume, in_use: bool) -> bool {
    filters.iter().all(|(key, value)| match key.as_str() {
        "dangling" => (value == "true") != in_use,
        "name" => v.name.contains(value.as_str()),
        "label" => crate::container::filter::has_label(&v.labels, value),
        _ => false,
    })
}

fn ls(store: &Store, args: LsArgs) -> i32 {
    let mut filters = Vec::new();
    for f in &args.filters {
        match f.split_once('=') {
            Some(("dangling", v @ ("true" | "false"))) => filters.push(("dangling".into(), v.to_string())),
            Some((k @ ("name" | "label"), v)) => filters.push((k.to_string(), v.to_string())),
            _ => {
                return super::refuse_or_fail(
                    format!(
                        "invalid filter '{f}': the filters are dangling=true|false, name=TEXT and label=KEY[=VALUE]"
                    ),
                    true,
                );
            }
        }
    }
    let users = volumes::users(store);
    let shown: Vec<Volume> =
        volume::list(store).into_iter().filter(|v| passes(&filters, v, users.contains_key(&v.name))).collect();
    if args.quiet {
        for v in &shown {
            say!("{}", v.name);
        }
        return 0;
    }
    let docs: Vec<Value> = shown
        .iter()
        .map(|v| {
            let labels: Vec<String> = v.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            json!({
                "Driver": "local",
                "Name": v.name,
                "Labels": labels.join(","),
                "Mountpoint": volume::data_dir(store, &v.name),
                "Scope": "local",
                "Links": users.get(&v.name).map_or(0, Vec::len).to_string(),
                "Size": "N/A",
            })
        })
        .collect();
    let headers = super::format::headers(
        &["Driver", "Name", "Labels", "Mountpoint", "Scope", "Links", "Size"],
        &[("Name", "VOLUME NAME")],
    );
    super::format::print(&args.format, &docs, &headers, || {
        super::format::print_columns(&headers, &docs, &["Driver", "Name"])
    })
}

fn inspect(store: &Store, args: InspectArgs) -> i32 {
    let (mut docs, mut code) = (Vec::new(), 0);
    for name in &args.names {
        match volume::get(store, name) {
            Ok(v) => docs.push(document(store, &v)),
            Err(e) => code = code.max(refused(e)),
        }
    }
    code.max(super::format::print_documents(args.format.as_ref(), &docs))
}

fn rm(store: &Store, args: RmArgs) -> i32 {
    let _lock = match store.lock() {
        Ok(l) => l,
        Err(e) => return super::fail(e),
    };
    let users = volumes::users(store);
    let mut code = 0;
    for name in &args.names {
        match volumes::remove_unused(store, &users, name) {
            Ok(()) => say!("{name}"),
            Err(VolumeError::NotFound(_)) if args.force => {}
            Err(e) => code = code.max(refused(e)),
        }
    }
    code
}

/// What `volume prune` (and `system prune --volumes`) removes, as the prompt says it.
pub fn prune_what(all: bool) -> &'static str {
    match all {
        true => "all volumes not used by at least one container",
        false => "all anonymous volumes not used by at least one container",
    }
}

/// The bytes a volume's files hold, as a container's writable layer is counted.
pub fn size(store: &Store, name: &str) -> u64 {
    crate::container::diff::size(&volume::data_dir(store, name))
}

fn prune(store: &Store, args: PruneArgs) -> i32 {
    if !args.force && !super::confirm(prune_what(args.all)) {
        return 0;
    }
    match prune_unused(store, args.all) {
        Ok(reclaimed) => {
            say!("Total reclaimed space: {}", super::images::human_size(reclaimed));
            0
        }
        Err(code) => code,
    }
}

/// Removes the anonymous volumes no container uses (every unused one with `all`), printing their
/// names: the bytes they held, or Err(exit code) when one could not be removed.
pub fn prune_unused(store: &Store, all: bool) -> Result<u64, i32> {
    let _lock = store.lock().map_err(super::fail)?;
    let users = volumes::users(store);
    let (mut removed, mut reclaimed, mut code) = (Vec::new(), 0, 0);
    for v in volume::list(store).into_iter().filter(|v| (all || v.anonymous) && !users.contains_key(&v.name)) {
        let size = size(store, &v.name);
        match volume::remove(store, &v.name) {
            Ok(()) => {
                removed.push(v.name);
                reclaimed += size;
            }
            Err(e) => code = code.max(refused(e)),
        }
    }
    if !removed.is_empty() {
        say!("Deleted Volumes:");
        for name in &removed {
            say!("{name}");
        }
        say!("");
    }
    if code == 0 { Ok(reclaimed) } else { Err(code) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_of_ls() {
        let v = Volume {
            name: "app-data".into(),
            created: String::new(),
            labels: [("tier".to_string(), "db".to_string())].into(),
            anonymous: false,
        };
        let f = |k: &str, val: &str| vec![(k.to_string(), val.to_string())];
        assert!(passes(&f("dangling", "true"), &v, false) && !passes(&f("dangling", "true"), &v, true));
        assert!(passes(&f("dangling", "false"), &v, true));
        assert!(passes(&f("name", "data"), &v, false) && !passes(&f("name", "web"), &v, false));
        assert!(passes(&f("label", "tier"), &v, false) && passes(&f("label", "tier=db"), &v, false));
        assert!(!passes(&f("label", "tier=web"), &v, false) && !passes(&f("label", "zone"), &v, false));
    }
}
