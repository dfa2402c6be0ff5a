//! A layer's entry index on disk, written as the layer is unpacked and read whenever a policy is
//! shown the layer's entries: a header line, one postcard record per entry, then the number of
//! records. It was a JSON array; parsing that was most of reading it (0.1 ms of every admission for
//! busybox's 400 entries, and it grows with the image), where records take a fraction of that
//! and half the space. Layers an older sbx unpacked keep their JSON index, which is still read.
//!
//! The records are [`IndexEntry`] in postcard's encoding: an [`EntryKind`] is its variant's
//! position, so kinds are only ever added at the end. A file cut short (a host crash before the
//! kernel wrote it back) fails to read rather than giving part of the layer.
//!
//! [`EntryKind`]: super::EntryKind

use super::IndexEntry;
use std::fs::File;
use std::io::{self, BufWriter, Write};

/// The index's file name in a layer's directory.
pub const FILE: &str = "index.bin";
/// The JSON index of layers an older sbx unpacked.
pub const JSON_FILE: &str = "index.json";

const HEADER: &[u8] = b"sbx layer index 1\n";

/// Writes an index an entry at a time.
pub struct Writer {
    out: BufWriter<File>,
    count: u64,
}

impl Writer {
    pub fn new(file: File) -> io::Result<Writer> {
        let mut out = BufWriter::new(file);
        out.write_all(HEADER)?;
        Ok(Writer { out, count: 0 })
    }

    pub fn push(&mut self, entry: &IndexEntry) -> io::Result<()> {
        postcard::to_io(entry, &mut self.out).map_err(io::Error::other)?;
        self.count += 1;
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<()> {
        self.out.write_all(&self.count.to_le_bytes())?;
        self.out.flush()
    }
}

/// The entries of an index as [`Writer`] wrote it; the error says what is wrong with it.
pub fn decode(bytes: &[u8]) -> Result<Vec<IndexEntry>, String> {
    let body = bytes.strip_prefix(HEADER).ok_or("it is not an sbx layer index")?;
    let (mut records, count) = body.split_at_checked(body.len().wrapping_sub(8)).ok_or("it is cut short")?;
    let count = u64::from_le_bytes(count.try_into().expect("eight bytes"));
    let mut entries = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(records.len()));
    while !records.is_empty() {
        let (entry, rest) =
            postcard::take_from_bytes(records).map_err(|e| format!("entry {} does not decode: {e}", entries.len()))?;
        entries.push(entry);
        records = rest;
    }
    if entries.len() as u64 != count {
        return Err(format!("it has {} entries where its end says {count}: it is cut short", entries.len()));
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layer::EntryKind;

    fn written(entries: &[IndexEntry]) -> Vec<u8> {
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut w = Writer::new(file.reopen().unwrap()).unwrap();
        entries.iter().for_each(|e| w.push(e).unwrap());
        w.finish().unwrap();
        std::fs::read(file.path()).unwrap()
    }

    fn entries() -> Vec<IndexEntry> {
        let entry = |path: &str, kind, mode, link: Option<&str>| IndexEntry {
            path: path.into(),
            kind,
            mode,
            uid: 1000,
            gid: 0,
            size: 1 << 40,
            link: link.map(Into::into),
        };
        vec![
            entry("", EntryKind::Dir, 0o755, None),
            entry("usr/bin/su", EntryKind::File, 0o4755, None),
            entry("bin/sh", EntryKind::Symlink, 0o777, Some("busybox")),
            entry("é\n\"", EntryKind::OpaqueWhiteout, 0, None),
        ]
    }

    #[test]
    fn reads_back_what_was_written() {
        assert_eq!(decode(&written(&entries())).unwrap(), entries());
        assert_eq!(decode(&written(&[])).unwrap(), Vec::<IndexEntry>::new());
    }

    #[test]
    fn a_file_cut_short_or_foreign_is_refused() {
        let whole = written(&entries());
        for len in 0..whole.len() {
            assert!(decode(&whole[..len]).is_err(), "cut at {len}");
        }
        let err = decode(b"[{\"path\":\"\"}]").unwrap_err();
        assert_eq!(err, "it is not an sbx layer index");
    }
}
