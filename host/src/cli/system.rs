//! `sbx system check [--repair]`: tells what in the store is damaged or left over by a killed sbx,
//! and with `--repair` removes what can go. Exit 0 when nothing is (or remains) wrong, 1 otherwise.

use super::policy::Format;
use crate::container::remove::image_user;
use crate::container::{diff, state};
use crate::image::Store;
use crate::system::check::{self, Kind};
use crate::system::df::{ContainerUse, ImageUse, usage};
use clap::Subcommand;
use serde_json::json;

#[derive(clap::Args, Debug)]
pub struct SystemPruneArgs {
    /// Every image no container uses, not only those without a name.
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
    /// Also remove the anonymous volumes no container uses.
    #[arg(long)]
    pub volumes: bool,
}

#[derive(Subcommand, Debug)]
pub enum SystemCommand {
    /// Show what sbx runs on and what its store holds (= sbx info).
    Info(super::info::InfoArgs),
    /// Remove stopped containers and images without a name (with -a, every unused image).
    Prune(SystemPruneArgs),
    /// Show what happened to containers, images and volumes (= sbx events).
    Events(super::events::EventsArgs),
    /// Show what images and containers take on disk, and what removing unused ones gives back.
    Df {
        /// table, json (one object per line), or a Go template ('{{.Type}} {{.Size}}').
        #[arg(long, default_value = "table", value_parser = super::format::parse)]
        format: super::format::Format,
    },
    /// Check that the store is whole; with --repair, remove what is damaged or left over.
    Check {
        /// Remove what a killed sbx left, images whose layers are gone and layers not whole.
        #[arg(long)]
        repair: bool,
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
    },
}

pub fn run(store: &Store, cmd: SystemCommand, config: Option<&std::path::Path>) -> i32 {
    let (repair, format) = match cmd {
        SystemCommand::Df { format } => return df(store, &format),
        SystemCommand::Prune(args) => return prune(store, args, config),
        SystemCommand::Info(_) | SystemCommand::Events(_) => unreachable!("dispatched as sbx info and sbx events"),
        SystemCommand::Check { repair, format } => (repair, format),
    };
    let problems = check::check(store);
    let mut rows = Vec::new();
    let mut remaining = 0;
    for p in &problems {
        let outcome = repair.then(|| check::repair(store, p));
        if !matches!(outcome, Some(Ok(()))) {
            remaining += 1;
        }
        rows.push((p, outcome));
    }
    match format {
        Format::Json => {
            let list: Vec<_> = rows
                .iter()
                .map(|(p, outcome)| {
                    json!({
                        "kind": p.kind,
                        "what": p.what,
                        "repaired": matches!(outcome, Some(Ok(()))),
                        "error": outcome.as_ref().and_then(|o| o.as_ref().err()),
                    })
                })
                .collect();
            say!("{}", json!({ "problems": list, "remaining": remaining }));
        }
        Format::Table => {
            for (p, outcome) in &rows {
                let kind = match p.kind {
                    Kind::Damage => "damaged",
                    Kind::Leftover => "left over",
                };
                match outcome {
                    None => say!("{kind}: {}", p.what),
                    Some(Ok(())) => say!("repaired: {}", p.what),
                    Some(Err(e)) => say!("{kind}: {} ({e})", p.what),
                }
            }
            match (problems.len(), remaining) {
                (0, _) => say!("the store is whole"),
                (n, 0) => say!("{n} problems found, all repaired"),
                (n, left) if repair => say!("{n} problems found, {left} not repaired"),
                (n, _) => say!("{n} problems found; `sbx system check --repair` removes what a killed sbx left"),
            }
        }
    }
    i32::from(remaining > 0)
}

/// `system df`, measured from the store's records and the containers' writable layers.
fn df(store: &Store, format: &super::format::Format) -> i32 {
    let images = match store.images() {
        Ok(i) => i,
        Err(e) => return super::fail(e),
    };
    let images: Vec<ImageUse> = images
        .into_iter()
        .map(|i| ImageUse {
            layers: i
                .layers
                .iter()
                .map(|l| (l.diff_id.clone(), store.layer_meta(&l.diff_id).map_or(0, |m| m.unpacked_size)))
                .collect(),
            id: i.id,
        })
        .collect();
    let containers: Vec<ContainerUse> = state::list(store)
        .into_iter()
        .map(|(dir, r)| ContainerUse { writable: diff::size(&dir.join("upper")), user: image_user(store, &dir, r) })
        .collect();
    let users = crate::container::volumes::users(store);
    let volumes: Vec<(u64, bool)> = crate::volume::list(store)
        .iter()
        .map(|v| (super::volume::size(store, &v.name), users.contains_key(&v.name)))
        .collect();
    let size = super::images::human_size;
    let share = |part: u64, whole: u64| (part * 100).checked_div(whole).unwrap_or(0);
    // docker's fields of a row.
    let docs: Vec<serde_json::Value> = usage(&images, &containers, &volumes)
        .iter()
        .map(|r| {
            json!({
                "Type": r.kind,
                "TotalCount": r.total.to_string(),
                "Active": r.active.to_string(),
                "Size": size(r.size),
                "Reclaimable": format!("{} ({}%)", size(r.reclaimable), share(r.reclaimable, r.size)),
            })
        })
        .collect();
    let headers = super::format::headers(
        &["Type", "TotalCount", "Active", "Size", "Reclaimable"],
        &[("TotalCount", "TOTAL"), ("Reclaimable", "RECLAIMABLE")],
    );
    super::format::print(format, &docs, &headers, || {
        super::format::print_columns(&headers, &docs, &["Type", "TotalCount", "Active", "Size", "Reclaimable"])
    })
}

/// `sbx system prune`: stopped containers, then images without a name (every unused one with -a).
fn prune(store: &Store, args: SystemPruneArgs, config: Option<&std::path::Path>) -> i32 {
    let images = super::rmi::prune_what(args.all);
    let volumes = if args.volumes { format!(", {}", super::volume::prune_what(false)) } else { String::new() };
    if !args.force && !super::confirm(&format!("all stopped containers{volumes} and {images}")) {
        return 0;
    }
    let plugins = match super::rm::hooks(config) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (code, from_containers) = super::rm::prune_stopped(store, &plugins);
    let (code, from_volumes) = match args.volumes {
        true => super::volume::prune_unused(store, false).map_or_else(|c| (code.max(c), 0), |r| (code, r)),
        false => (code, 0),
    };
    match super::rmi::prune_images(store, args.all) {
        Ok(from_images) => {
            let total = from_containers + from_volumes + from_images;
            say!("Total reclaimed space: {}", super::images::human_size(total));
            code
        }
        Err(e) => super::fail(e),
    }
}
