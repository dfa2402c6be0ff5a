//! `sbx ps [-a] [-q] [-s] [--format table|json]`: containers as docker lists them.

use crate::container::diff;
use crate::container::state::{self, ContainerRecord};
use crate::container::view;
use crate::image::Store;
use clap::{Args, ValueEnum};
use std::path::PathBuf;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    Table,
    Json,
}

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
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
}

pub fn ps(store: &Store, args: PsArgs) -> i32 {
    let mut all: Vec<(PathBuf, ContainerRecord, bool)> =
        state::list(store).into_iter().map(|(d, r)| (d.clone(), r, state::is_running(&d))).collect();
    all.retain(|(_, _, running)| args.all || *running);
    all.sort_by(|a, b| b.1.created.cmp(&a.1.created));
    if args.quiet {
        for (_, r, _) in &all {
            say!("{}", &r.id[..12]);
        }
        return 0;
    }
    let now = crate::time::now_secs();
    let size = |dir: &PathBuf, r: &ContainerRecord| {
        let upper = diff::size(&dir.join("upper"));
        let image = store.find_image(r.image_id.hex()).map_or(0, |i| i.size);
        (upper, image)
    };
    match args.format {
        Format::Json => {
            for (dir, r, running) in &all {
                let mut v = serde_json::json!({
                    "ID": &r.id[..12],
                    "Image": r.image,
                    "Command": view::command(&r.command, usize::MAX),
                    "CreatedAt": r.created,
                    "State": view::state_word(r, *running),
                    "Status": view::status(r, *running, now),
                    "Names": r.name,
                });
                if args.size {
                    let (upper, image) = size(dir, r);
                    v["Size"] = serde_json::json!(upper);
                    v["VirtualSize"] = serde_json::json!(upper + image);
                }
                say!("{v}");
            }
        }
        Format::Table => {
            let mut header = vec!["CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "NAMES"];
            if args.size {
                header.insert(5, "SIZE");
            }
            let mut rows = vec![header.into_iter().map(String::from).collect::<Vec<_>>()];
            for (dir, r, running) in &all {
                let created =
                    crate::time::parse_rfc3339(&r.created).map_or_else(|| "N/A".into(), |t| crate::time::ago(t, now));
                let mut row = vec![
                    r.id[..12].to_string(),
                    r.image.clone(),
                    view::command(&r.command, 20),
                    created,
                    view::status(r, *running, now),
                    r.name.clone(),
                ];
                if args.size {
                    let (upper, image) = size(dir, r);
                    let human = super::images::human_size;
                    row.insert(5, format!("{} (virtual {})", human(upper), human(upper + image)));
                }
                rows.push(row);
            }
            super::print_table(&rows);
        }
    }
    0
}
