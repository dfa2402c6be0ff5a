//! `sbx history [-q] [--no-trunc] [--format F] IMAGE`: how an image was made, newest step first,
//! from its config's history: each step's time, instruction and the size of the layer it made.

use super::format::{self, Format};
use crate::container::image::image_config;
use crate::image::Store;
use clap::Args;

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Only the image id of each step (`<missing>` for steps of other images).
    #[arg(short, long)]
    pub quiet: bool,
    /// Whole ids and instructions.
    #[arg(long)]
    pub no_trunc: bool,
    /// table, json (one object per line), or a Go template ('{{.CreatedBy}} {{.Size}}').
    #[arg(long, default_value = "table", value_parser = format::parse)]
    pub format: Format,
    /// The image: a name or an id prefix.
    pub image: String,
}

const FIELDS: [&str; 5] = ["ID", "CreatedSince", "CreatedBy", "Size", "Comment"];

/// One step: (created, created by, comment, whether it made a layer). Bottom first.
type Step = (Option<String>, String, String, bool);

/// The size of each step's layer, bottom first: steps that made a layer take the next of
/// `layers`; the others made none. Pure.
pub fn step_sizes(steps: &[Step], layers: &[u64]) -> Vec<u64> {
    let mut next = layers.iter();
    steps.iter().map(|(_, _, _, made)| if *made { next.next().copied().unwrap_or(0) } else { 0 }).collect()
}

pub fn history(store: &Store, args: HistoryArgs) -> i32 {
    let image = match store.find_image(&args.image) {
        Ok(i) => i,
        Err(e) => return super::refuse_or_fail(&e, matches!(e, crate::image::StoreError::NotFound(_))),
    };
    let config = match image_config(store, &image) {
        Ok(c) => c,
        Err(e) => return super::fail(e),
    };
    let mut steps: Vec<Step> = config
        .history()
        .iter()
        .flatten()
        .map(|h| {
            // A heredoc's lines on one line, as docker shows them.
            let by = h.created_by().clone().unwrap_or_default().replace('\n', " ");
            (h.created().clone(), by, h.comment().clone().unwrap_or_default(), !h.empty_layer().unwrap_or(false))
        })
        .collect();
    // An image with no history (imported, or made by a tool that writes none): one step per layer.
    if steps.is_empty() {
        steps = image.layers.iter().map(|_| (image.created.clone(), String::new(), String::new(), true)).collect();
    }
    let layer_sizes: Vec<u64> =
        image.layers.iter().map(|l| store.layer_meta(&l.diff_id).map_or(l.size, |m| m.unpacked_size)).collect();
    let sizes = step_sizes(&steps, &layer_sizes);
    let now = crate::time::now_secs();
    let id = if args.no_trunc { image.id.to_string() } else { image.id.short().to_string() };
    let docs: Vec<serde_json::Value> = steps
        .iter()
        .zip(sizes)
        .enumerate()
        .rev()
        .map(|(i, ((created, by, comment, _), size))| {
            let by = if args.no_trunc || by.chars().count() <= 45 {
                by.clone()
            } else {
                by.chars().take(44).chain(['…']).collect()
            };
            let since = created.as_deref().and_then(crate::time::parse_rfc3339);
            serde_json::json!({
                "ID": if i + 1 == steps.len() { id.clone() } else { "<missing>".into() },
                "CreatedSince": since.map_or_else(|| "N/A".into(), |t| crate::time::ago(t, now)),
                "CreatedAt": created.clone().unwrap_or_default(),
                "CreatedBy": by,
                "Size": super::images::human_size(size),
                "Comment": comment,
            })
        })
        .collect();
    if args.quiet {
        for d in &docs {
            say!("{}", d["ID"].as_str().unwrap_or_default());
        }
        return 0;
    }
    let headers = format::headers(&FIELDS, &[("ID", "IMAGE"), ("CreatedSince", "CREATED")]);
    format::print(&args.format, &docs, &headers, || {
        format::print_columns(&headers, &docs, &FIELDS);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_that_made_layers_take_them_in_order() {
        let step = |made| (None, String::new(), String::new(), made);
        assert_eq!(step_sizes(&[step(true), step(false), step(true), step(false)], &[10, 20]), [10, 0, 20, 0]);
        assert_eq!(step_sizes(&[step(true), step(true)], &[10]), [10, 0], "a history that claims more layers");
    }
}
