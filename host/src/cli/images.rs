//! `sbx images [-q] [-a] [--no-trunc] [--filter K=V] [--format F]`: REPOSITORY TAG IMAGE ID
//! CREATED SIZE LAYERS, as docker lays it out.

use crate::image::Store;
use crate::image::reference::split_tag;
use clap::Args;

#[derive(Args, Debug)]
pub struct ImagesArgs {
    /// Only show image ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// Show all images, with the intermediate ones of builds (unnamed parents of other images).
    #[arg(short, long)]
    pub all: bool,
    /// Whole image ids.
    #[arg(long)]
    pub no_trunc: bool,
    /// dangling=true|false, reference=PATTERN (`busy*`, `*/app:v*`); repeatable.
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// table, json (one object per line), or a Go template ('{{.Repository}}:{{.Tag}}').
    #[arg(long, default_value = "table", value_parser = super::format::parse)]
    pub format: super::format::Format,
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

/// docker's fields of an image in `images`.
const FIELDS: [&str; 9] =
    ["Repository", "Tag", "ID", "CreatedSince", "CreatedAt", "Size", "Containers", "Digest", "Layers"];

/// Whether `name` matches a `reference=` pattern: `*` stands for any run of characters other
/// than '/', as in docker's (Go's path.Match); a pattern without a tag matches the repository.
fn reference_matches(pattern: &str, repo: &str, tag: &str) -> bool {
    fn glob(p: &[u8], s: &[u8]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some(b'*'), _) => glob(&p[1..], s) || (!s.is_empty() && s[0] != b'/' && glob(p, &s[1..])),
            (Some(a), Some(b)) if a == b => glob(&p[1..], &s[1..]),
            _ => false,
        }
    }
    let full = format!("{repo}:{tag}");
    glob(pattern.as_bytes(), full.as_bytes()) || glob(pattern.as_bytes(), repo.as_bytes())
}

pub fn images(store: &Store, args: ImagesArgs) -> i32 {
    let mut dangling = None;
    let mut references = Vec::new();
    for f in &args.filters {
        match f.split_once('=') {
            Some(("dangling", v @ ("true" | "false"))) => dangling = Some(v == "true"),
            Some(("reference", pattern)) => references.push(pattern.to_string()),
            _ => {
                return super::refuse_or_fail(
                    format!("invalid filter '{f}': the filters are dangling=true|false and reference=PATTERN"),
                    true,
                );
            }
        }
    }
    let images = match store.images() {
        Ok(i) => i,
        Err(e) => return super::fail(e),
    };
    let users = crate::container::state::list(store);
    let now = crate::time::now_secs();
    let mut docs = Vec::new();
    for i in &images {
        if dangling.is_some_and(|d| d != i.names.is_empty()) {
            continue;
        }
        let intermediate = || i.names.is_empty() && images.iter().any(|c| c.parent.as_ref() == Some(&i.id));
        if !args.all && intermediate() {
            continue;
        }
        let created_at = i.created.as_deref().and_then(crate::time::parse_rfc3339);
        let names: Vec<(&str, &str)> = if i.names.is_empty() {
            vec![("<none>", "<none>")]
        } else {
            i.names.iter().map(|n| split_tag(n)).collect()
        };
        for (repo, tag) in names {
            if !references.is_empty() && !references.iter().any(|p| reference_matches(p, repo, tag)) {
                continue;
            }
            let id = if args.no_trunc { i.id.to_string() } else { i.id.short().to_string() };
            docs.push(serde_json::json!({
                "Repository": repo,
                "Tag": tag,
                "ID": id,
                "CreatedSince": created_at.map_or_else(|| "N/A".into(), |t| crate::time::ago(t, now)),
                "CreatedAt": i.created.clone().unwrap_or_default(),
                "Size": human_size(i.size),
                "Containers": users.iter().filter(|(_, r)| r.image_id == i.id).count(),
                "Digest": i.manifest_digest.as_ref().map_or_else(|| "<none>".into(), ToString::to_string),
                "Layers": i.layers.len(),
            }));
        }
    }
    if args.quiet {
        let mut seen = std::collections::BTreeSet::new();
        for d in &docs {
            let id = d["ID"].as_str().unwrap_or_default();
            if seen.insert(id.to_string()) {
                say!("{id}");
            }
        }
        return 0;
    }
    let headers = super::format::headers(&FIELDS, &[("ID", "IMAGE ID"), ("CreatedSince", "CREATED")]);
    super::format::print(&args.format, &docs, &headers, || {
        super::format::print_columns(&headers, &docs, &["Repository", "Tag", "ID", "CreatedSince", "Size", "Layers"]);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_patterns_match_as_dockers() {
        assert!(reference_matches("busybox", "busybox", "latest"));
        assert!(reference_matches("busy*", "busybox", "latest"));
        assert!(reference_matches("busybox:lat*", "busybox", "latest"));
        assert!(!reference_matches("busybox:1", "busybox", "latest"));
        assert!(!reference_matches("*", "localhost/app", "v1"), "* stops at /");
        assert!(reference_matches("*/app", "localhost/app", "v1"));
    }
}
