//! Pruning the compile cache. A compiled component is named `SHA-COMPAT.cwasm`, where COMPAT is
//! the hash of the wasmtime version and settings that can map it: after an upgrade of sbx (or of
//! its wasmtime) the old names are never mapped again, and a Python policy leaves 35 MB behind.
//! An sbx that compiles something removes the compiled components of other versions that nothing
//! has mapped for a day (an older sbx still in use on the machine keeps its own);
//! `sbx plugin prune` removes them at once, and with `--all` empties the cache.

use std::path::Path;
use std::time::{Duration, SystemTime};

/// How long a compiled component of another version stays after it was last mapped, when an sbx
/// prunes by itself.
pub const UNUSED_FOR: Duration = Duration::from_secs(24 * 3600);

/// What goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The compiled components (and their locks) no version named in `compats` can map, unused for
    /// at least this long.
    Stale(Duration),
    /// Everything sbx keeps in the cache: compiled components, locks and the records of plugin
    /// files and of settled settings.
    All,
}

/// A file of the cache, as [`plan`] sees it.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    pub size: u64,
    /// Since it was last read or written.
    pub unused_for: Duration,
}

/// Whether `name` is a compiled component or its lock (`SHA-COMPAT.cwasm`, `SHA-COMPAT.lock`),
/// and then its COMPAT.
fn compat_of(name: &str) -> Option<&str> {
    let stem = name.strip_suffix(".cwasm").or_else(|| name.strip_suffix(".lock"))?;
    let (sha, compat) = stem.split_once('-')?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(sha, 64) && hex(compat, 16)).then_some(compat)
}

/// Whether `name` is one of sbx's records (`file-SHA`, `settled-SHA`).
fn is_record(name: &str) -> bool {
    ["file-", "settled-"].iter().any(|p| name.strip_prefix(p).is_some_and(|h| h.len() == 64))
}

/// The entries that go under `scope`, when the versions of sbx that may still map compiled
/// components are `compats`. What sbx did not name (a half-written file of a compile under way,
/// something a user put there) stays.
pub fn plan<'a>(entries: &'a [Entry], compats: &[String], scope: Scope) -> Vec<&'a Entry> {
    entries
        .iter()
        .filter(|e| match (scope, compat_of(&e.name)) {
            (Scope::All, Some(_)) => true,
            (Scope::All, None) => is_record(&e.name),
            (Scope::Stale(unused), Some(compat)) => !compats.iter().any(|c| c == compat) && e.unused_for >= unused,
            (Scope::Stale(_), None) => false,
        })
        .collect()
}

/// Removes what [`plan`] says from the cache `dir`; returns how many compiled components went and
/// the bytes freed.
pub fn prune(dir: &Path, compats: &[String], scope: Scope) -> std::io::Result<(usize, u64)> {
    let now = SystemTime::now();
    let mut entries = Vec::new();
    for dirent in std::fs::read_dir(dir)? {
        let dirent = dirent?;
        let Ok(meta) = dirent.metadata() else { continue };
        if !meta.is_file() {
            continue;
        }
        let last = [meta.accessed(), meta.modified()].into_iter().flatten().max().unwrap_or(now);
        entries.push(Entry {
            name: dirent.file_name().to_string_lossy().into_owned(),
            size: meta.len(),
            unused_for: now.duration_since(last).unwrap_or_default(),
        });
    }
    let (mut components, mut bytes) = (0, 0);
    for entry in plan(&entries, compats, scope) {
        match std::fs::remove_file(dir.join(&entry.name)) {
            Ok(()) => {
                components += usize::from(entry.name.ends_with(".cwasm"));
                bytes += entry.size;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(std::io::Error::new(e.kind(), format!("cannot remove {}: {e}", entry.name))),
        }
    }
    Ok((components, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0c6c72ee63e6bc39f74225f787c306dab7c84a9c4cdbeb7aa512cacf3f797318";

    fn entry(name: String, days: u64) -> Entry {
        Entry { name, size: 10, unused_for: Duration::from_secs(days * 24 * 3600) }
    }

    fn names<'a>(planned: &[&'a Entry]) -> Vec<&'a str> {
        planned.iter().map(|e| e.name.as_str()).collect()
    }

    #[test]
    fn other_versions_go_once_unused_for_the_time_given() {
        let compats = vec!["9251c85941f77eeb".to_string(), "9f9fd3f9eb5d22d2".to_string()];
        let entries = vec![
            entry(format!("{SHA}-9251c85941f77eeb.cwasm"), 30),
            entry(format!("{SHA}-9f9fd3f9eb5d22d2.lock"), 30),
            entry(format!("{SHA}-1f8c8feedf4c09fb.cwasm"), 2),
            entry(format!("{SHA}-1f8c8feedf4c09fb.lock"), 2),
            entry(format!("{SHA}-aaaaaaaaaaaaaaaa.cwasm"), 0),
            entry(format!("file-{SHA}"), 30),
            entry(format!("settled-{SHA}"), 30),
            entry(".tmp-123".into(), 30),
        ];
        let stale = plan(&entries, &compats, Scope::Stale(UNUSED_FOR));
        assert_eq!(names(&stale), [format!("{SHA}-1f8c8feedf4c09fb.cwasm"), format!("{SHA}-1f8c8feedf4c09fb.lock")]);
        let now = plan(&entries, &compats, Scope::Stale(Duration::ZERO));
        assert_eq!(now.len(), 3, "{:?}", names(&now));
    }

    #[test]
    fn all_empties_what_sbx_named_and_nothing_else() {
        let entries = vec![
            entry(format!("{SHA}-9251c85941f77eeb.cwasm"), 0),
            entry(format!("{SHA}-9251c85941f77eeb.lock"), 0),
            entry(format!("file-{SHA}"), 0),
            entry(format!("settled-{SHA}"), 0),
            entry("notes.txt".into(), 0),
            entry(format!("{SHA}-short.cwasm"), 0),
            entry("file-x".into(), 0),
        ];
        let all = plan(&entries, &["9251c85941f77eeb".into()], Scope::All);
        assert_eq!(names(&all).len(), 4, "{:?}", names(&all));
        assert!(!names(&all).contains(&"notes.txt"));
    }
}
