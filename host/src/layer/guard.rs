//! A guard in front of the tar reader that bounds what a layer may cost before any of it is
//! buffered or written: it follows the stream's 512-byte headers as they pass (the same way the
//! tar crate finds them, PAX `size` records included) and stops the stream, naming the entry, at
//! an extension header (a GNU long name or link, a PAX header) over [`MAX_EXTENSION`] (the tar
//! crate would buffer it whole), at a sparse file (which it would write out as zeros), and when the
//! layer unpacks to more than [`Limits::unpacked`] bytes or expands more than
//! [`Limits::ratio`] times its compressed size (a decompression bomb).

use std::cell::Cell;
use std::io::{self, Read};
use std::rc::Rc;

/// The largest GNU long name or link and PAX header sbx reads; real ones hold a path or a few
/// records (Linux paths stop at 4 KiB).
pub const MAX_EXTENSION: u64 = 1 << 20;

const BLOCK: usize = 512;

/// How much one layer may cost to unpack; `layers:` in the configuration file sets them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Limits {
    /// Bytes of the tar stream (what the files hold, plus headers).
    #[serde(rename = "max-bytes")]
    pub unpacked: u64,
    /// Times the compressed blob, checked once the stream is past [`RATIO_FROM`] bytes.
    #[serde(rename = "max-ratio")]
    pub ratio: u64,
    /// Entries (files, directories, links...).
    #[serde(rename = "max-entries")]
    pub entries: usize,
}

/// Below this, a layer may expand as much as it likes (a small file of zeros compresses 1000:1).
pub const RATIO_FROM: u64 = 256 << 20;

impl Default for Limits {
    /// Far above real layers (a few GB, a few hundred thousand entries, a few times compressed).
    fn default() -> Limits {
        Limits { unpacked: 256 << 30, ratio: 100, entries: 2_000_000 }
    }
}

/// Why the guard stopped the stream; travels inside an `io::Error` to the unpacker, which names it
/// as the entry's fault.
#[derive(Debug)]
pub struct Refused {
    pub entry: String,
    pub reason: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "entry '{}' {}", self.entry, self.reason)
    }
}

impl std::error::Error for Refused {}

enum Phase {
    Header {
        filled: usize,
    },
    /// `left` bytes of the entry's data and padding; a PAX header's data is kept to read its
    /// `size` record.
    Data {
        left: u64,
        pax: Option<(Vec<u8>, usize)>,
    },
    /// After the end-of-archive block: the tar reader stops reading here.
    Done,
}

pub struct Guard<R> {
    inner: R,
    limits: Limits,
    /// Bytes of the compressed blob read so far, when there is one.
    compressed: Option<Rc<Cell<u64>>>,
    total: u64,
    header: [u8; BLOCK],
    phase: Phase,
    /// A PAX header's `size` for the next entry.
    pax_size: Option<u64>,
}

impl<R: Read> Guard<R> {
    pub fn new(inner: R, limits: Limits, compressed: Option<Rc<Cell<u64>>>) -> Guard<R> {
        Guard {
            inner,
            limits,
            compressed,
            total: 0,
            header: [0; BLOCK],
            phase: Phase::Header { filled: 0 },
            pax_size: None,
        }
    }

    /// The bytes of the tar stream that went through.
    pub fn total(&self) -> u64 {
        self.total
    }

    fn refuse(&self, reason: String) -> io::Error {
        io::Error::other(Refused { entry: header_name(&self.header), reason })
    }

    fn header_done(&mut self) -> io::Result<()> {
        if self.header.iter().all(|b| *b == 0) {
            self.phase = Phase::Done;
            return Ok(());
        }
        let kind = self.header[156];
        let size =
            header_size(&self.header).ok_or_else(|| self.refuse("has a size field that is not a number".into()))?;
        let extension = matches!(kind, b'L' | b'K' | b'x' | b'g');
        if kind == b'S' {
            return Err(
                self.refuse("is a GNU sparse file, which sbx does not unpack (it would be written out whole)".into())
            );
        }
        if extension && size > MAX_EXTENSION {
            return Err(self.refuse(format!(
                "has a tar extension header (a long name or PAX records) of {size} bytes; sbx reads at most {MAX_EXTENSION}"
            )));
        }
        let size = match (extension, self.pax_size.take()) {
            (false, Some(pax)) => pax,
            _ => size,
        };
        let padded = size.div_ceil(BLOCK as u64) * BLOCK as u64;
        let pax = (kind == b'x').then(|| (Vec::with_capacity(size as usize), size as usize));
        self.phase = Phase::Data { left: padded, pax };
        if self.phase_data_is_empty() {
            self.data_done()?;
        }
        Ok(())
    }

    fn phase_data_is_empty(&self) -> bool {
        matches!(self.phase, Phase::Data { left: 0, .. })
    }

    fn data_done(&mut self) -> io::Result<()> {
        if let Phase::Data { pax: Some((records, _)), .. } = &self.phase {
            let text = String::from_utf8_lossy(records);
            for (key, value) in pax_records(&text) {
                if key.starts_with("GNU.sparse.") {
                    return Err(self.refuse(
                        "is a PAX sparse file, which sbx does not unpack (it would be written out whole)".into(),
                    ));
                }
                if key == "size" {
                    let size = value
                        .parse()
                        .map_err(|_| self.refuse(format!("has a PAX size '{value}' that is not a number")))?;
                    self.pax_size = Some(size);
                }
            }
        }
        self.phase = Phase::Header { filled: 0 };
        Ok(())
    }

    /// Follows the structure over `bytes`, the next bytes of the stream.
    fn follow(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            match &mut self.phase {
                Phase::Done => return Ok(()),
                Phase::Header { filled } => {
                    let take = (BLOCK - *filled).min(bytes.len());
                    self.header[*filled..*filled + take].copy_from_slice(&bytes[..take]);
                    *filled += take;
                    bytes = &bytes[take..];
                    if *filled == BLOCK {
                        self.header_done()?;
                    }
                }
                Phase::Data { left, pax } => {
                    let take = (*left).min(bytes.len() as u64) as usize;
                    if let Some((records, want)) = pax {
                        let room = want.saturating_sub(records.len()).min(take);
                        records.extend_from_slice(&bytes[..room]);
                    }
                    *left -= take as u64;
                    bytes = &bytes[take..];
                    if *left == 0 {
                        self.data_done()?;
                    }
                }
            }
        }
        Ok(())
    }

    fn check_size(&self) -> io::Result<()> {
        if self.total > self.limits.unpacked {
            return Err(self.refuse(format!(
                "takes the layer past {} bytes unpacked, the most sbx unpacks",
                self.limits.unpacked
            )));
        }
        if let Some(compressed) = &self.compressed {
            let compressed = compressed.get().max(1);
            if self.total > RATIO_FROM && self.total / compressed > self.limits.ratio {
                return Err(self.refuse(format!(
                    "takes the layer past {} times its compressed size ({} bytes from {compressed}): a decompression bomb",
                    self.limits.ratio, self.total
                )));
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total += n as u64;
        self.follow(&buf[..n])?;
        self.check_size()?;
        Ok(n)
    }
}

/// A header's size field: octal digits (space or NUL terminated), or GNU's base-256.
fn header_size(h: &[u8; BLOCK]) -> Option<u64> {
    let field = &h[124..136];
    if field[0] & 0x80 != 0 {
        return field[1..]
            .iter()
            .try_fold(u64::from(field[0] & 0x7f), |acc, b| acc.checked_mul(256)?.checked_add(u64::from(*b)));
    }
    let digits: Vec<u8> =
        field.iter().copied().skip_while(|b| *b == b' ').take_while(|b| (b'0'..=b'7').contains(b)).collect();
    if digits.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&digits).ok()?, 8).ok()
}

/// The name a header gives (ustar prefix included), for messages.
fn header_name(h: &[u8; BLOCK]) -> String {
    let field = |r: std::ops::Range<usize>| {
        let f = &h[r];
        String::from_utf8_lossy(&f[..f.iter().position(|b| *b == 0).unwrap_or(f.len())]).into_owned()
    };
    let name = field(0..100);
    let prefix = if &h[257..263] == b"ustar\0" { field(345..500) } else { String::new() };
    if prefix.is_empty() { name } else { format!("{prefix}/{name}") }
}

/// The `length key=value\n` records of PAX data.
fn pax_records(text: &str) -> impl Iterator<Item = (&str, &str)> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let (len, _) = rest.split_once(' ')?;
        let len: usize = len.parse().ok()?;
        let record = rest.get(..len)?;
        rest = &rest[len..];
        let (_, kv) = record.split_once(' ')?;
        kv.trim_end_matches('\n').split_once('=')
    })
}

/// Counts the bytes read through it into a shared cell (the compressed blob's, for the ratio).
pub struct Counted<R> {
    pub inner: R,
    pub count: Rc<Cell<u64>>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

impl<R: io::BufRead> io::BufRead for Counted<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.count.set(self.count.get() + amt as u64);
        self.inner.consume(amt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar(entries: &[(&[u8], u8, u64)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, kind, size) in entries {
            let mut h = tar::Header::new_gnu();
            h.as_old_mut().name[..name.len()].copy_from_slice(name);
            h.set_entry_type(tar::EntryType::new(*kind));
            h.set_size(*size);
            h.set_cksum();
            out.extend_from_slice(h.as_bytes());
            out.extend(std::iter::repeat_n(b'a', (*size as usize).div_ceil(BLOCK) * BLOCK));
        }
        out.extend([0u8; 2 * BLOCK]);
        out
    }

    fn read_all(bytes: &[u8], limits: Limits) -> io::Result<u64> {
        let mut g = Guard::new(bytes, limits, None);
        io::copy(&mut g, &mut io::sink())?;
        Ok(g.total())
    }

    fn refused(e: io::Error) -> String {
        e.get_ref().and_then(|e| e.downcast_ref::<Refused>()).map(ToString::to_string).unwrap_or_else(|| e.to_string())
    }

    #[test]
    fn ordinary_layers_pass_and_extension_headers_are_bounded() {
        let ok = tar(&[(b"a", b'0', 3000), (b"././@LongLink", b'L', 200), (b"b", b'0', 10)]);
        assert_eq!(read_all(&ok, Limits::default()).unwrap(), ok.len() as u64);
        let long = tar(&[(b"././@LongLink", b'L', MAX_EXTENSION + 1), (b"b", b'0', 10)]);
        let e = refused(read_all(&long, Limits::default()).unwrap_err());
        assert!(e.contains("'././@LongLink' has a tar extension header") && e.contains("at most 1048576"), "{e}");
        let sparse = tar(&[(b"big", b'S', 512)]);
        assert!(refused(read_all(&sparse, Limits::default()).unwrap_err()).contains("'big' is a GNU sparse file"));
    }

    #[test]
    fn a_pax_size_moves_the_next_header_as_the_tar_reader_does() {
        let mut pax = tar(&[(b"pax", b'x', 0)]);
        pax.truncate(BLOCK);
        let records = b"12 size=700\n";
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::XHeader);
        h.set_size(records.len() as u64);
        h.set_cksum();
        let mut stream = h.as_bytes().to_vec();
        stream.extend(records);
        stream.resize(2 * BLOCK, 0);
        let mut file = tar::Header::new_ustar();
        file.set_size(0); // the PAX record says 700
        file.set_cksum();
        stream.extend(file.as_bytes());
        stream.extend([b'z'; 1024]);
        stream.extend(tar(&[(b"sparse", b'S', 0)]));
        let e = refused(read_all(&stream, Limits::default()).unwrap_err());
        assert!(e.contains("'sparse' is a GNU sparse file"), "the header after the PAX-sized data was found: {e}");
    }

    #[test]
    fn size_and_expansion_are_bounded() {
        let big = tar(&[(b"a", b'0', 10_000)]);
        let e = refused(read_all(&big, Limits { unpacked: 4096, ..Limits::default() }).unwrap_err());
        assert!(e.contains("past 4096 bytes unpacked"), "{e}");
        let compressed = Rc::new(Cell::new(1000));
        let mut g =
            Guard::new(&big[..], Limits { unpacked: u64::MAX, ratio: 1, ..Limits::default() }, Some(compressed));
        assert!(io::copy(&mut g, &mut io::sink()).is_ok(), "under RATIO_FROM bytes, no ratio holds");
    }
}
