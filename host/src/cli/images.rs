//! `sbx images`: REPOSITORY TAG IMAGE ID CREATED SIZE LAYERS, as docker lays it out.

use crate::image::Store;
use crate::image::reference::split_tag;
use clap::Args;

#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Only show image ids.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn human_size(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..1000 => format!("{bytes}B"),
        1000..1_000_000 => format!("{:.3}kB", b / 1e3),
        1_000_000..1_000_000_000 => format!("{:.3}MB", b / 1e6),
        _ => format!("{:.3}GB", b / 1e9),
    }
    .replace(".000", "")
}

pub fn images(store: &Store, args: ImagesArgs) -> i32 {
    let images = match store.images() {
        Ok(i) => i,
        Err(e) => return super::fail(e),
    };
    if args.quiet {
        for i in &images {
            say!("{}", i.id.short());
        }
        return 0;
    }
    let now = crate::time::now_secs();
    let mut rows = vec![["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "LAYERS"].map(String::from).to_vec()];
    for i in &images {
        let created = i
            .created
            .as_deref()
            .and_then(crate::time::parse_rfc3339)
            .map_or_else(|| "N/A".into(), |t| crate::time::ago(t, now));
        let names: Vec<(&str, &str)> = if i.names.is_empty() {
            vec![("<none>", "<none>")]
        } else {
            i.names.iter().map(|n| split_tag(n)).collect()
        };
        for (repo, tag) in names {
            rows.push(vec![
                repo.into(),
                tag.into(),
                i.id.short().into(),
                created.clone(),
                human_size(i.size),
                i.layers.len().to_string(),
            ]);
        }
    }
    super::print_table(&rows);
    0
}
