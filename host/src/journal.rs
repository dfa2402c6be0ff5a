//! The store's journal of what happened to its containers, images and volumes, which `sbx events`
//! reads (docker's daemon keeps these in memory; sbx has no daemon, so they are a file).
//!
//! `events.jsonl` under the store: one JSON line per event, appended with one write(2) on an
//! `O_APPEND` descriptor, so lines from concurrent sbx processes never interleave. Bounded: once
//! the file passes [`LIMIT`] bytes it becomes `events.1.jsonl` (the one before is dropped), so the
//! journal holds between one and two limits' worth of the latest events. Recording is best
//! effort: an event that cannot be written never fails what it tells of.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{BufRead, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Bytes of the live file before it is rotated.
pub const LIMIT: u64 = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    /// Nanoseconds since the epoch.
    pub time: u128,
    /// `container`, `image` or `volume`.
    #[serde(rename = "type")]
    pub kind: String,
    pub action: String,
    pub id: String,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

impl Event {
    pub fn new(kind: &str, action: &str, id: &str, attributes: &[(&str, &str)]) -> Event {
        let time = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        Event {
            time,
            kind: kind.into(),
            action: action.into(),
            id: id.into(),
            attributes: attributes.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        }
    }
}

/// Tells the journal that `action` happened to image `id` (a name, or an id when it has none).
pub fn image(store_root: &Path, action: &str, id: &str) {
    record(store_root, &Event::new("image", action, id, &[("name", id)]));
}

pub fn path(store_root: &Path) -> PathBuf {
    store_root.join("events.jsonl")
}

fn rotated(store_root: &Path) -> PathBuf {
    store_root.join("events.1.jsonl")
}

/// Appends `event` to the journal of the store at `store_root`.
pub fn record(store_root: &Path, event: &Event) {
    let mut line = serde_json::to_vec(event).expect("an event serializes");
    line.push(b'\n');
    let live = path(store_root);
    let Ok(mut f) = OpenOptions::new().append(true).create(true).mode(0o600).open(&live) else { return };
    if f.write_all(&line).is_err() {
        return;
    }
    // The writer that takes the file past the limit rotates it; a concurrent writer that also saw
    // it past the limit renames what is by then the new, short file: a few events lost, never a
    // torn line.
    if f.metadata().is_ok_and(|m| m.len() > LIMIT) {
        let _ = fs::rename(&live, rotated(store_root));
    }
}

/// The journal's events, oldest first, from byte `offset` of the live file on (`offset` 0 also
/// reads the rotated file first); returns them and the offset to read on from. A line cut short
/// by a writer still at work is left for the next read.
pub fn read(store_root: &Path, offset: u64) -> (Vec<Event>, u64) {
    let mut events = Vec::new();
    if offset == 0 {
        read_file(&rotated(store_root), 0, &mut events);
    }
    let next = read_file(&path(store_root), offset, &mut events);
    (events, next)
}

fn read_file(path: &Path, offset: u64, out: &mut Vec<Event>) -> u64 {
    use std::io::{Seek, SeekFrom};
    let Ok(mut f) = fs::File::open(path) else { return 0 };
    // A rotation since the last read: the live file is new, and read from its start.
    let len = f.metadata().map_or(0, |m| m.len());
    let offset = if offset > len { 0 } else { offset };
    if f.seek(SeekFrom::Start(offset)).is_err() {
        return offset;
    }
    let mut reader = std::io::BufReader::new(f);
    let mut at = offset;
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) if line.last() != Some(&b'\n') => break,
            Ok(n) => {
                at += n as u64;
                if let Ok(e) = serde_json::from_slice(&line) {
                    out.push(e);
                }
            }
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_read_back_in_order_and_from_where_the_last_read_ended() {
        let tmp = tempfile::tempdir().unwrap();
        record(tmp.path(), &Event::new("container", "create", "c1", &[("name", "a")]));
        record(tmp.path(), &Event::new("container", "start", "c1", &[]));
        let (events, at) = read(tmp.path(), 0);
        assert_eq!(events.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["create", "start"]);
        assert_eq!(events[0].attributes["name"], "a");
        assert!(read(tmp.path(), at).0.is_empty());
        record(tmp.path(), &Event::new("volume", "destroy", "v", &[]));
        assert_eq!(read(tmp.path(), at).0[0].kind, "volume");
        // Half a line (a writer at work) waits for its end.
        fs::OpenOptions::new().append(true).open(path(tmp.path())).unwrap().write_all(b"{\"time\":1").unwrap();
        let (events, end) = read(tmp.path(), 0);
        assert_eq!((events.len() as u64, end), (3, fs::metadata(path(tmp.path())).unwrap().len() - 9));
    }

    #[test]
    fn the_journal_is_bounded_by_rotation() {
        let tmp = tempfile::tempdir().unwrap();
        let big = "x".repeat(10_000);
        for i in 0..300 {
            record(tmp.path(), &Event::new("container", "start", &format!("{i}"), &[("pad", &big)]));
        }
        let size = |p: PathBuf| fs::metadata(p).map_or(0, |m| m.len());
        assert!(size(path(tmp.path())) <= LIMIT && size(rotated(tmp.path())) <= LIMIT + 20_000);
        let (events, _) = read(tmp.path(), 0);
        assert_eq!(events.last().unwrap().id, "299", "the latest are kept");
        assert!(events.len() < 300 && events.windows(2).all(|w| w[0].time <= w[1].time));
    }
}
