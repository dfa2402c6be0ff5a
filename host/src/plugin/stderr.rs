//! A plugin's stderr: the last bytes it wrote, kept for the error message of a call that fails (a
//! Rust panic's message, a Python traceback, a JavaScript exception). Written here rather than
//! with wasmtime-wasi's MemoryOutputPipe, which refuses every write once it is full: an instance
//! that serves many calls (an admission's, a process's hooks) would find its stderr closed, and a
//! Python plugin's next print would raise. This one never refuses and forgets the oldest bytes.

use bytes::Bytes;
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use tokio::io::AsyncWrite;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

#[derive(Default)]
struct Kept {
    tail: VecDeque<u8>,
    /// Bytes written in all, and when the current call began: what a call wrote is what came
    /// after its mark (as far as the tail still holds it).
    written: usize,
    mark: usize,
}

/// The last `capacity` bytes written to it; clones share them.
#[derive(Clone)]
pub struct Tail {
    capacity: usize,
    kept: Arc<Mutex<Kept>>,
}

impl Tail {
    pub fn new(capacity: usize) -> Tail {
        Tail { capacity, kept: Arc::default() }
    }

    /// Keeps `bytes` as written, forgetting the oldest beyond the capacity.
    pub fn push(&self, bytes: &[u8]) {
        let mut k = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let bytes = &bytes[bytes.len().saturating_sub(self.capacity)..];
        let over = (k.tail.len() + bytes.len()).saturating_sub(self.capacity);
        k.tail.drain(..over);
        k.tail.extend(bytes);
        k.written += bytes.len();
    }

    /// Starts a call: what comes next is its own.
    pub fn mark(&self) {
        let mut k = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        k.mark = k.written;
    }

    /// What was written since the mark, as far as it is kept.
    pub fn since_mark(&self) -> String {
        let k = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        let own = (k.written - k.mark).min(k.tail.len());
        let bytes: Vec<u8> = k.tail.iter().skip(k.tail.len() - own).copied().collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

impl OutputStream for Tail {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.push(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(64 << 10)
    }
}

#[async_trait::async_trait]
impl Pollable for Tail {
    async fn ready(&mut self) {}
}

impl AsyncWrite for Tail {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.push(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl IsTerminal for Tail {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for Tail {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn it_keeps_the_last_bytes_and_what_came_since_the_mark() {
        let t = Tail::new(8);
        t.push(b"first call\n");
        assert_eq!(t.since_mark(), "st call\n");
        t.mark();
        assert_eq!(t.since_mark(), "");
        t.push(b"abc");
        assert_eq!(t.since_mark(), "abc");
        let mut w = t.clone();
        for _ in 0..10_000 {
            w.write(Bytes::from_static(b"never refused ")).unwrap();
        }
        assert_eq!(t.since_mark(), "refused ");
    }
}
