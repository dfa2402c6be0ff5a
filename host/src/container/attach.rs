//! Attaching to a detached container, as conmon's attach socket does for podman: its monitor
//! listens on a socket in the container's directory ([`Hub`]); every client gets the container's
//! output from then on as it comes, in frames (docker's multiplexed stream: the stream's byte, 1
//! for stdout and 2 for stderr, three zero bytes, the length as a big-endian u32, the bytes), and
//! what a client sends goes to the container's stdin when it was created with `-i` (the pipe it
//! reads, or its terminal). A client's end of input leaves the stdin open for the next one
//! (docker's `StdinOnce` false).

use rustix::net::SendFlags;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::mpsc::SyncSender;
use std::time::Duration;

/// The socket, in the container's directory.
pub const SOCKET: &str = "attach.sock";

/// How long the container's output may wait on a client that reads none before it is let go.
const SLOW_CLIENT: Duration = Duration::from_secs(2);

/// The socket's address through the directory's descriptor: a container's own path can be longer
/// than a unix socket's address holds (108 bytes).
fn address(dir: &File) -> String {
    format!("/proc/self/fd/{}/{SOCKET}", dir.as_raw_fd())
}

struct Client {
    stream: UnixStream,
    /// Still sending input.
    input: bool,
}

/// The monitor's side: the listening socket, the clients and the container's stdin.
pub struct Hub {
    listener: UnixListener,
    clients: Vec<Client>,
    /// To the thread that writes to the container's stdin: a container that reads none of it holds
    /// up a writer, which must not be the monitor that copies its output.
    stdin: Option<SyncSender<Vec<u8>>>,
    path: std::path::PathBuf,
}

/// Chunks of input on their way to the container's stdin (at most 16 KiB each); beyond that the
/// clients' input waits.
const STDIN_QUEUE: usize = 64;

impl Hub {
    /// Listens on the socket of the container in `dir` (one left by an earlier run replaced).
    pub fn listen(dir: &Path) -> io::Result<Hub> {
        let handle = File::open(dir)?;
        let path = dir.join(SOCKET);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let listener = UnixListener::bind(address(&handle))?;
        listener.set_nonblocking(true)?;
        Ok(Hub { listener, clients: Vec::new(), stdin: None, path })
    }

    /// Where clients' input goes from now on.
    pub fn set_stdin(&mut self, mut stdin: File) {
        let (send, receive) = std::sync::mpsc::sync_channel::<Vec<u8>>(STDIN_QUEUE);
        std::thread::spawn(move || {
            // Ends when the container closed its stdin or the hub is gone.
            while let Ok(chunk) = receive.recv() {
                if stdin.write_all(&chunk).is_err() {
                    return;
                }
            }
        });
        self.stdin = Some(send);
    }

    /// What to poll for: the socket, then the clients that may send input.
    pub fn fds(&self) -> Vec<BorrowedFd<'_>> {
        let inputs = self.clients.iter().filter(|c| c.input && self.stdin.is_some());
        std::iter::once(self.listener.as_fd()).chain(inputs.map(|c| c.stream.as_fd())).collect()
    }

    /// Takes what polling found ready, in the order of [`Hub::fds`]: new clients, and input.
    pub fn serve(&mut self, ready: &[bool]) {
        let mut ready = ready.iter();
        let inputs: Vec<usize> = match self.stdin.is_some() {
            true => (0..self.clients.len()).filter(|i| self.clients[*i].input).collect(),
            false => Vec::new(),
        };
        if ready.next() == Some(&true) {
            while let Ok((stream, _)) = self.listener.accept() {
                if stream.set_nonblocking(false).is_ok() && stream.set_write_timeout(Some(SLOW_CLIENT)).is_ok() {
                    self.clients.push(Client { stream, input: true });
                }
            }
        }
        let mut buf = [0u8; 16 * 1024];
        for (i, _) in inputs.into_iter().zip(ready).filter(|(_, r)| **r) {
            let client = &mut self.clients[i];
            match client.stream.read(&mut buf) {
                Ok(0) | Err(_) => client.input = false,
                Ok(n) => {
                    if let Some(stdin) = self.stdin.as_ref()
                        && stdin.send(buf[..n].to_vec()).is_err()
                    {
                        self.stdin = None; // the container closed its stdin
                    }
                }
            }
        }
    }

    /// Sends output of `stream` (1 stdout, 2 stderr) to every client; one that does not take it
    /// is let go.
    pub fn send(&mut self, stream: u8, bytes: &[u8]) {
        let frame = frame(stream, bytes);
        // MSG_NOSIGNAL: a client gone is an error here, not a SIGPIPE for the monitor.
        self.clients.retain(|c| {
            let mut sent = 0;
            while sent < frame.len() {
                match rustix::net::send(&c.stream, &frame[sent..], SendFlags::NOSIGNAL) {
                    Ok(n) => sent += n,
                    Err(rustix::io::Errno::INTR) => {}
                    Err(_) => return false,
                }
            }
            true
        });
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn frame(stream: u8, bytes: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(8 + bytes.len());
    frame.extend_from_slice(&[stream, 0, 0, 0]);
    frame.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    frame.extend_from_slice(bytes);
    frame
}

/// Connects to the monitor of the container in `dir`; NotFound when none listens (a container
/// that an `sbx run` in the foreground runs).
pub fn connect(dir: &Path) -> io::Result<UnixStream> {
    let handle = File::open(dir)?;
    match UnixStream::connect(address(&handle)) {
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => Err(io::ErrorKind::NotFound.into()),
        other => other,
    }
}

/// Reads the next frame: Ok(None) at the end of the stream.
pub fn read_frame(from: &mut impl Read) -> io::Result<Option<(u8, Vec<u8>)>> {
    let mut header = [0u8; 8];
    match from.read_exact(&mut header) {
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        other => other?,
    }
    let len = u32::from_be_bytes(header[4..].try_into().expect("four bytes")) as usize;
    let mut bytes = vec![0u8; len];
    from.read_exact(&mut bytes)?;
    Ok(Some((header[0], bytes)))
}

/// docker's default detach keys: Ctrl-P then Ctrl-Q.
pub const DETACH_KEYS: &str = "ctrl-p,ctrl-q";

/// Parses docker's `--detach-keys`: comma-separated keys, each a single character or `ctrl-X`
/// (X one of a-z, @, [, \, ], ^, _).
pub fn parse_detach_keys(text: &str) -> Result<Vec<u8>, String> {
    let key = |k: &str| -> Option<u8> {
        match k.strip_prefix("ctrl-") {
            Some(c) if c.len() == 1 => match c.as_bytes()[0] {
                b @ b'a'..=b'z' => Some(b - b'a' + 1),
                b @ (b'@' | b'[' | b'\\' | b']' | b'^' | b'_') => Some(b & 0x1f),
                _ => None,
            },
            Some(_) => None,
            None if k.len() == 1 && k.is_ascii() => Some(k.as_bytes()[0]),
            None => None,
        }
    };
    text.split(',')
        .map(|k| key(k).ok_or_else(|| format!("invalid detach key '{k}': give a character or ctrl-X (X one of a-z, @, [, \\, ], ^, _), comma-separated")))
        .collect()
}

/// Scans typed input for the detach `keys` across reads: `matched` counts the keys typed so far at
/// the end of the last read (held back). Returns what to send on, and whether the whole sequence
/// was typed (what came after it is dropped).
pub fn detach_scan(keys: &[u8], matched: &mut usize, read: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::with_capacity(read.len() + keys.len());
    for &b in read {
        if keys.get(*matched) == Some(&b) {
            *matched += 1;
            if *matched == keys.len() {
                return (out, true);
            }
            continue;
        }
        // Not the sequence after all: what was held back is the container's.
        out.extend_from_slice(&keys[..*matched]);
        // (With one key, b is not it: a match would have ended the scan above.)
        *matched = usize::from(keys.first() == Some(&b));
        if *matched == 0 {
            out.push(b);
        }
    }
    (out, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_carry_the_stream_and_the_bytes() {
        let mut both = frame(1, b"out\n");
        both.extend(frame(2, b""));
        let mut reader = both.as_slice();
        assert_eq!(read_frame(&mut reader).unwrap(), Some((1, b"out\n".to_vec())));
        assert_eq!(read_frame(&mut reader).unwrap(), Some((2, Vec::new())));
        assert_eq!(read_frame(&mut reader).unwrap(), None);
    }

    #[test]
    fn the_detach_keys_end_the_input_even_across_reads() {
        let keys = parse_detach_keys(DETACH_KEYS).unwrap();
        assert_eq!(keys, [0x10, 0x11]);
        let mut matched = 0;
        assert_eq!(detach_scan(&keys, &mut matched, b"ls\r"), (b"ls\r".to_vec(), false));
        assert_eq!(detach_scan(&keys, &mut matched, b"a\x10"), (b"a".to_vec(), false));
        assert_eq!(matched, 1);
        assert_eq!(detach_scan(&keys, &mut matched, b"\x11more"), (Vec::new(), true));
        // A Ctrl-P not followed by Ctrl-Q is the container's.
        let mut matched = 0;
        assert_eq!(detach_scan(&keys, &mut matched, b"\x10x\x10\x10"), (b"\x10x\x10".to_vec(), false));
        assert_eq!(matched, 1);
        // One key alone detaches at once.
        let mut matched = 0;
        assert_eq!(detach_scan(b"q", &mut matched, b"abq!"), (b"ab".to_vec(), true));
    }

    #[test]
    fn detach_keys_are_characters_or_ctrl_keys() {
        assert_eq!(parse_detach_keys("ctrl-a,x,ctrl-@,ctrl-_").unwrap(), [1, b'x', 0, 31]);
        for bad in ["", "ctrl-", "ctrl-1", "ab", "ctrl-a,,x"] {
            let e = parse_detach_keys(bad).unwrap_err();
            assert!(e.contains("invalid detach key"), "{bad}: {e}");
        }
    }
}
