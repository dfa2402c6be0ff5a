//! `sbx events [--since T] [--until T] [--filter K=V] [--format F]`: the store's journal of what
//! happened to containers, images and volumes (see [`crate::journal`]), as docker prints its
//! daemon's events. Without `--until` it goes on printing new events until it is stopped.

use crate::image::Store;
use crate::journal::{self, Event};
use clap::Args;
use serde_json::{Value, json};
use std::time::Duration;

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Show events since this time (RFC 3339, Unix seconds, or a duration ago: 10m).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Stop at this time (same forms); without it, new events are printed until sbx is stopped.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// type=container|image|volume, event=ACTION, container=NAME|ID, image=NAME, volume=NAME;
    /// repeatable (the same key again widens, another key narrows).
    #[arg(short, long = "filter", value_name = "KEY=VALUE")]
    pub filters: Vec<String>,
    /// json (one object per line), or a Go template ('{{.Action}} {{.Actor.ID}}').
    #[arg(long, value_parser = super::format::parse)]
    pub format: Option<super::format::Format>,
}

/// How often a following `events` looks for new lines.
const POLL: Duration = Duration::from_millis(100);

/// Whether `e` passes the filters: every key given matches one of its values. Pure.
fn passes(filters: &[(String, String)], e: &Event) -> bool {
    let attr = |k: &str| e.attributes.get(k).map(String::as_str).unwrap_or("");
    let keys: std::collections::BTreeSet<&str> = filters.iter().map(|(k, _)| k.as_str()).collect();
    keys.into_iter().all(|key| {
        filters.iter().filter(|(k, _)| k == key).any(|(_, v)| match key {
            "type" => e.kind == *v,
            "event" => e.action == *v,
            "container" => e.kind == "container" && (attr("name") == v || e.id.starts_with(v.as_str())),
            "image" => attr("image") == v || (e.kind == "image" && (e.id == *v || attr("name") == v)),
            "volume" => e.kind == "volume" && e.id == *v,
            _ => false,
        })
    })
}

/// docker's document of an event (`--format`).
fn document(e: &Event) -> Value {
    let secs = (e.time / 1_000_000_000) as i64;
    let mut doc = json!({
        "Type": e.kind,
        "Action": e.action,
        "Actor": { "ID": e.id, "Attributes": e.attributes },
        "scope": "local",
        "time": secs,
        "timeNano": e.time as u64,
    });
    if e.kind == "container" {
        doc["status"] = json!(e.action);
        doc["id"] = json!(e.id);
        doc["from"] = json!(e.attributes.get("image"));
    }
    doc
}

/// docker's line: `TIME TYPE ACTION ID (K=V, ...)`. Pure.
fn line(e: &Event) -> String {
    let time = crate::time::format_rfc3339_nanos(e.time);
    let attrs: Vec<String> = e.attributes.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{time} {} {} {} ({})", e.kind, e.action, e.id, attrs.join(", "))
}

pub fn events(store: &Store, args: EventsArgs) -> i32 {
    let mut filters = Vec::new();
    for f in &args.filters {
        match f.split_once('=') {
            Some((k @ ("type" | "event" | "container" | "image" | "volume"), v)) => filters.push((k.into(), v.into())),
            _ => {
                return super::refuse_or_fail(
                    format!("invalid filter '{f}': the filters are type=, event=, container=, image= and volume="),
                    true,
                );
            }
        }
    }
    let now = crate::time::now_fine();
    let instant = |flag: &str, text: &Option<String>| -> Result<Option<f64>, i32> {
        text.as_deref()
            .map(|t| {
                crate::time::parse_instant(t, now).ok_or_else(|| {
                    super::fail(format!("--{flag} '{t}': give an RFC 3339 time, Unix seconds, or a duration (10m)"))
                })
            })
            .transpose()
    };
    let (since, until) = match (instant("since", &args.since), instant("until", &args.until)) {
        (Ok(s), Ok(u)) => (s, u),
        (Err(code), _) | (_, Err(code)) => return code,
    };
    let template = match &args.format {
        Some(super::format::Format::Template { text, .. }) => match super::format::render(text, &[]) {
            Ok(_) => Some(text.clone()),
            Err(e) => return super::fail(e),
        },
        _ => None,
    };
    let json = matches!(args.format, Some(super::format::Format::Json));
    let nanos = |t: f64| (t.max(0.0) * 1e9) as u128;
    let show = |e: &Event| -> bool {
        if !passes(&filters, e) || since.is_some_and(|s| e.time < nanos(s)) || until.is_some_and(|u| e.time > nanos(u))
        {
            return true;
        }
        let text = match &template {
            Some(t) => match super::format::render(t, &[document(e)]) {
                Ok(lines) => lines.concat(),
                Err(_) => return true,
            },
            None if json => document(e).to_string(),
            None => line(e),
        };
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}").and_then(|()| out.flush()).is_ok()
    };
    // The past: only with --since (docker prints only what happens from now on otherwise).
    let (past, mut offset) = journal::read(store.root(), 0);
    if since.is_some() {
        for e in &past {
            if !show(e) {
                return 0;
            }
        }
    }
    loop {
        let now = crate::time::now_fine();
        if until.is_some_and(|u| u < now) {
            return 0;
        }
        std::thread::sleep(POLL);
        let (new, next) = journal::read(store.root(), offset);
        offset = next;
        for e in &new {
            if !show(e) {
                return 0;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_and_lines_as_dockers() {
        let e = Event {
            time: 1_764_576_000_000_000_001,
            kind: "container".into(),
            action: "start".into(),
            id: "abc123".into(),
            attributes: [("name".to_string(), "web".to_string()), ("image".to_string(), "busybox".to_string())].into(),
        };
        let f = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
        assert!(passes(&f(&[("container", "web")]), &e) && passes(&f(&[("container", "abc")]), &e));
        assert!(passes(&f(&[("event", "stop"), ("event", "start")]), &e), "the same key widens");
        assert!(!passes(&f(&[("event", "start"), ("type", "image")]), &e), "another key narrows");
        assert!(passes(&f(&[("image", "busybox"), ("type", "container")]), &e));
        assert_eq!(line(&e), "2025-12-01T08:00:00.000000001Z container start abc123 (image=busybox, name=web)");
        assert_eq!(document(&e)["Actor"]["Attributes"]["name"], "web");
        assert_eq!(document(&e)["from"], "busybox");
    }
}
