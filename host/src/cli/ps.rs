//! `sbx ps [-a] [-q] [-s] [-n N] [-l] [--no-trunc] [--filter K=V]... [--format table|json]`:
//! containers as docker lists them, newest first.

use super::format::{self, Format};
use crate::container::filter::{Candidate, Filters};
use crate::container::state::{self, ContainerRecord, Live};
use crate::container::{diff, health, view};
use crate::image::Store;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all containers (by default only running ones).
    #[arg(short, long)]
    pub all: bool,
    /// Only the ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// The size of each container's writable layer (and of its image, as "virtual").
    #[arg(short, long)]
    pub size: bool,
    /// Only the N containers created last, whatever their state.
    #[arg(short = 'n', long = "last", value_name = "N")]
    pub last: Option<usize>,
    /// Only the container created last, whatever its state.
    #[arg(short, long)]
    pub latest: bool,
    /// Whole ids and commands.
    #[arg(long)]
    pub no_trunc: bool,
    /// status=, name=, id=, label=KEY[=VALUE], ancestor=IMAGE, exited=CODE, before=, since=
    /// (a container); repeatable.
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// table, json (one object per line), or a Go template ('{{.Names}}', 'table {{.ID}}\t{{.Status}}').
    #[arg(long, default_value = "table", value_parser = format::parse)]
    pub format: Format,
}

/// docker's fields of a container in `ps`.
const FIELDS: [&str; 12] = [
    "ID",
    "Image",
    "Command",
    "CreatedAt",
    "RunningFor",
    "State",
    "Status",
    "Names",
    "Labels",
    "Ports",
    "Networks",
    "Size",
];

struct Row {
    dir: PathBuf,
    record: ContainerRecord,
    live: Live,
    /// From its spec.json, read once.
    labels: std::collections::BTreeMap<String, String>,
}

/// The containers to show, newest first.
fn select(store: &Store, args: &PsArgs, filters: &Filters) -> Result<Vec<Row>, String> {
    let mut all: Vec<Row> = state::list(store)
        .into_iter()
        .map(|(dir, record)| {
            let live = state::live(&dir, &record);
            let labels = state::load_spec(&dir).map(|s| s.labels).unwrap_or_default();
            Row { dir, record, live, labels }
        })
        .collect();
    all.sort_by(|a, b| b.record.created.cmp(&a.record.created).then(b.record.id.cmp(&a.record.id)));
    // before= and since= name containers; only those created before (after) them pass.
    let created_of =
        |q: &str| state::find(store, q).map(|(_, r)| r.created).map_err(|e| format!("invalid filter value '{q}': {e}"));
    for q in filters.values("before") {
        let t = created_of(q)?;
        all.retain(|r| r.record.created < t);
    }
    for q in filters.values("since") {
        let t = created_of(q)?;
        all.retain(|r| r.record.created > t);
    }
    let image_id = |q: &str| store.find_image(q).ok().map(|i| i.id.to_string());
    all.retain(|r| {
        let health = r.live.running().then(|| health::read(&r.dir)).flatten();
        let health_word = health.map_or_else(|| "none".to_string(), |h| h.status);
        let candidate = Candidate {
            id: &r.record.id,
            name: &r.record.name,
            state: view::state_word(&r.record, r.live),
            labels: &r.labels,
            image: &r.record.image,
            image_id: &r.record.image_id.to_string(),
            exit_code: r.record.exit_code,
            health: &health_word,
        };
        filters.matches(&candidate, image_id)
    });
    // As docker's: -n and -l count every container; otherwise (and without a status filter) only
    // running ones show unless -a.
    let last = if args.latest { Some(1) } else { args.last };
    match last {
        Some(n) => all.truncate(n),
        None if !args.all && filters.values("status").next().is_none() => all.retain(|r| r.live.running()),
        None => {}
    }
    Ok(all)
}

pub fn ps(store: &Store, args: PsArgs) -> i32 {
    let filters = match Filters::parse(&args.filters) {
        Ok(f) => f,
        Err(e) => return super::refuse_or_fail(e, true),
    };
    let rows = match select(store, &args, &filters) {
        Ok(rows) => rows,
        Err(e) => return super::refuse_or_fail(e, true),
    };
    let id = |r: &ContainerRecord| if args.no_trunc { r.id.clone() } else { r.id[..12].to_string() };
    if args.quiet {
        for r in &rows {
            say!("{}", id(&r.record));
        }
        return 0;
    }
    let now = crate::time::now_secs();
    let size = |dir: &PathBuf, r: &ContainerRecord| {
        let upper = diff::size(&dir.join("upper"));
        let image = store.find_image(r.image_id.hex()).map_or(0, |i| i.size);
        (upper, image)
    };
    let human = super::images::human_size;
    let width = if args.no_trunc { usize::MAX } else { 20 };
    // docker's fields, as `--format json` and templates see them.
    let docs: Vec<serde_json::Value> = rows
        .iter()
        .map(|Row { dir, record: r, live, labels }| {
            let created = crate::time::parse_rfc3339(&r.created);
            let endpoints = crate::container::network::endpoints(dir);
            let mut v = serde_json::json!({
                "ID": id(r),
                "Image": r.image,
                "Command": view::command(&r.command, width),
                "CreatedAt": r.created,
                "RunningFor": created.map_or_else(|| "N/A".into(), |t| crate::time::ago(t, now)),
                "State": view::state_word(r, *live),
                "Status": view::status(r, *live, now, health::read(dir).as_ref()),
                "Names": r.name,
                "Labels": labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
                "Ports": view::ports_text(&endpoints.iter().flat_map(|e| e.ports.clone()).collect::<Vec<_>>()),
                "Networks": endpoints.iter().map(|e| e.network.as_str()).collect::<Vec<_>>().join(","),
                "Size": "",
            });
            if args.size {
                let (upper, image) = size(dir, r);
                v["Size"] = format!("{} (virtual {})", human(upper), human(upper + image)).into();
            }
            v
        })
        .collect();
    let headers = format::headers(&FIELDS, &[("ID", "CONTAINER ID"), ("RunningFor", "CREATED")]);
    format::print(&args.format, &docs, &headers, || {
        // docker's columns: PORTS between STATUS and NAMES.
        let mut columns = vec!["ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"];
        if args.size {
            columns.insert(6, "Size");
        }
        format::print_columns(&headers, &docs, &columns);
    })
}
