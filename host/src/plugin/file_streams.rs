//! A plugin's reads and writes of files in its granted directories, made on the thread that calls
//! it.
//!
//! wasmtime-wasi's streams of a file (`read-via-stream`, `write-via-stream`, `append-via-stream`)
//! hand each non-blocking `read` and `write` to a thread of tokio's blocking pool, whatever the
//! context's `allow_blocking_current_thread` says (wasmtime kept them so when it added that switch:
//! one operation in flight at a time). Those are the calls a Python plugin's `open(path).read()`
//! and `open(path, "a").write(...)` make: the first in a run started a thread (a stack and a
//! malloc arena of its own, and glibc's malloc locking from then on), and each handed over to that
//! thread and back, two wake-ups across CPUs. These streams read and write in the call instead,
//! as sbx's other file operations already run (see [`super::host`]). They read and write at an
//! offset, as wasmtime-wasi's do, so a FIFO is refused (ESPIPE) rather than waited on; a system
//! call that does wait is interrupted by the call's deadline signal and fails with EINTR (see
//! [`super::deadline`]).

use super::host::HostState;
use bytes::Bytes;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::filesystem::Descriptor;
use wasmtime_wasi::p2::bindings::filesystem::types::ErrorCode;
use wasmtime_wasi::p2::{
    DynInputStream, DynOutputStream, InputStream, OutputStream, Pollable, StreamError, StreamResult,
};
use wasmtime_wasi_io::IoView as _;

/// What one `write` may be given and one `read` gives at most (as wasmtime-wasi's own streams).
const CAPACITY: usize = 64 << 10;

fn failed(e: std::io::Error) -> StreamError {
    StreamError::LastOperationFailed(e.into())
}

struct FileReader {
    file: Arc<std::fs::File>,
    offset: u64,
}

#[wasmtime_wasi::async_trait]
impl Pollable for FileReader {
    async fn ready(&mut self) {}
}

#[wasmtime_wasi::async_trait]
impl InputStream for FileReader {
    fn read(&mut self, size: usize) -> StreamResult<Bytes> {
        if size == 0 {
            return Ok(Bytes::new());
        }
        let mut buf = vec![0; size.min(CAPACITY)];
        match self.file.read_at(&mut buf, self.offset).map_err(failed)? {
            0 => Err(StreamError::Closed),
            n => {
                buf.truncate(n);
                self.offset += n as u64;
                Ok(buf.into())
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cursor {
    At(u64),
    End,
}

struct FileWriter {
    file: Arc<std::fs::File>,
    cursor: Cursor,
}

impl FileWriter {
    fn write_some(&self, bytes: &[u8]) -> std::io::Result<usize> {
        match self.cursor {
            Cursor::At(offset) => self.file.write_at(bytes, offset),
            // Each write at the end of the file as it is then (RWF_APPEND, Linux 4.16), as the file
            // is shared with its descriptor and whatever else writes to it.
            Cursor::End => {
                let slices = [std::io::IoSlice::new(bytes)];
                Ok(rustix::io::pwritev2(&*self.file, &slices, 0, rustix::io::ReadWriteFlags::APPEND)?)
            }
        }
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for FileWriter {
    async fn ready(&mut self) {}
}

impl OutputStream for FileWriter {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        let mut rest = &bytes[..];
        while !rest.is_empty() {
            let written = match self.write_some(rest) {
                Ok(0) => Err(std::io::ErrorKind::WriteZero.into()),
                written => written,
            };
            let n = written.map_err(failed)?;
            if let Cursor::At(offset) = &mut self.cursor {
                *offset += n as u64;
            }
            rest = &rest[n..];
        }
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(CAPACITY)
    }
}

/// Serves `read-via-stream`, `write-via-stream` and `append-via-stream` of the WASI filesystem
/// `interface` (added to `linker` before) with [`FileReader`]s and [`FileWriter`]s.
pub fn serve(linker: &mut Linker<HostState>, interface: &str) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut fs = linker.instance(interface)?;
    fs.func_wrap("[method]descriptor.read-via-stream", |mut store, (fd, offset): (Resource<Descriptor>, u64)| {
        Ok((reader(store.data_mut(), fd, offset)?,))
    })?;
    fs.func_wrap("[method]descriptor.write-via-stream", |mut store, (fd, offset): (Resource<Descriptor>, u64)| {
        Ok((writer(store.data_mut(), fd, Cursor::At(offset))?,))
    })?;
    fs.func_wrap("[method]descriptor.append-via-stream", |mut store, (fd,): (Resource<Descriptor>,)| {
        Ok((writer(store.data_mut(), fd, Cursor::End)?,))
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

/// A stream reading the file `fd` names from `offset`, as wasmtime-wasi checks it: a descriptor
/// that is not the plugin's traps, a directory is one.
fn reader(
    state: &mut HostState,
    fd: Resource<Descriptor>,
    offset: u64,
) -> wasmtime::Result<Result<Resource<DynInputStream>, ErrorCode>> {
    let table = state.table();
    let file = match table.get(&fd)? {
        Descriptor::File(f) => f.file.clone(),
        Descriptor::Dir(_) => return Ok(Err(ErrorCode::IsDirectory)),
    };
    let stream: DynInputStream = Box::new(FileReader { file, offset });
    Ok(Ok(table.push(stream)?))
}

/// A stream writing to the file `fd` names, as wasmtime-wasi checks it: a descriptor that is not
/// the plugin's traps, a directory is a bad descriptor, a file of a read-only grant not permitted.
fn writer(
    state: &mut HostState,
    fd: Resource<Descriptor>,
    cursor: Cursor,
) -> wasmtime::Result<Result<Resource<DynOutputStream>, ErrorCode>> {
    let table = state.table();
    let file = match table.get(&fd)? {
        Descriptor::File(f) if f.perms.write_not_permitted() => return Ok(Err(ErrorCode::NotPermitted)),
        Descriptor::File(f) => f.file.clone(),
        Descriptor::Dir(_) => return Ok(Err(ErrorCode::BadDescriptor)),
    };
    let stream: DynOutputStream = Box::new(FileWriter { file, cursor });
    Ok(Ok(table.push(stream)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ten_digits(cursor: Cursor) -> (tempfile::TempDir, std::path::PathBuf, FileWriter) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789").unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        (dir, path, FileWriter { file: Arc::new(file), cursor })
    }

    #[test]
    fn writes_at_an_offset_move_the_offset() {
        let (_dir, path, mut w) = ten_digits(Cursor::At(2));
        w.write(Bytes::from_static(b"ab")).unwrap();
        w.write(Bytes::from_static(b"cd")).unwrap();
        assert_eq!(w.cursor, Cursor::At(6));
        assert_eq!(std::fs::read(&path).unwrap(), b"01abcd6789");
    }

    #[test]
    fn appends_land_at_the_end_as_it_is_at_each_write() {
        let (_dir, path, mut w) = ten_digits(Cursor::End);
        w.write(Bytes::from_static(b"ab")).unwrap();
        // Another writer of the same file: the next append comes after its bytes.
        let mut other = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
        std::io::Write::write_all(&mut other, b"XY").unwrap();
        w.write(Bytes::from_static(b"cd")).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"0123456789abXYcd");
    }

    #[test]
    fn reads_move_the_offset_and_end_closed() {
        let (_dir, path, _) = ten_digits(Cursor::End);
        let mut r = FileReader { file: Arc::new(std::fs::File::open(&path).unwrap()), offset: 3 };
        assert_eq!(&r.read(4).unwrap()[..], b"3456");
        assert_eq!(&r.read(100).unwrap()[..], b"789");
        assert!(matches!(r.read(1), Err(StreamError::Closed)));
        assert!(r.read(0).unwrap().is_empty());
    }

    #[test]
    fn a_failed_write_is_the_operation_failing_not_a_trap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"").unwrap();
        let read_only = std::fs::File::open(&path).unwrap();
        let mut w = FileWriter { file: Arc::new(read_only), cursor: Cursor::End };
        assert!(matches!(w.write(Bytes::from_static(b"x")), Err(StreamError::LastOperationFailed(_))));
    }
}
