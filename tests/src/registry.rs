//! Registries for the tests, on 127.0.0.1 only: Debian's `docker-registry` (the Distribution
//! project's registry) with a TLS certificate from a CA the test makes (openssl) and an htpasswd
//! login (apache2-utils), or over plain HTTP; stopped and removed when dropped. And a hostile
//! server that answers what a broken or malicious registry would, for the bad-input tests.

use crate::harness::{has_tool, wait_for};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

pub const USER: &str = "tester";
pub const PASSWORD: &str = "s3cret-pw";

pub struct Registry {
    pub dir: PathBuf,
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub tls: bool,
    child: Option<Child>,
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// A port of 127.0.0.1 that nothing listens on (free when asked).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("its address").port()
}

impl Registry {
    /// A registry in `dir` (made), TLS with a login when `tls`, else plain HTTP and anonymous; None
    /// when the tools are missing (a failure under CI).
    pub fn start(dir: &Path, tls: bool) -> Option<Registry> {
        let tools: &[&str] = if tls { &["docker-registry", "openssl", "htpasswd"] } else { &["docker-registry"] };
        if !tools.iter().all(|t| has_tool(t)) {
            return None;
        }
        std::fs::create_dir_all(dir.join("data")).unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let mut http = format!("addr: {addr}");
        let mut auth = String::new();
        if tls {
            make_certs(dir, &addr);
            let (crt, key) = (dir.join("server.crt"), dir.join("server.key"));
            http = format!("{http}, tls: {{ certificate: {}, key: {} }}", crt.display(), key.display());
            run(Command::new("htpasswd").args(["-Bbc"]).arg(dir.join("htpasswd")).args([USER, PASSWORD]));
            auth = format!("auth: {{ htpasswd: {{ realm: sbx-test, path: {} }} }}\n", dir.join("htpasswd").display());
        }
        let config = format!(
            "version: 0.1\nlog: {{ level: info, accesslog: {{ disabled: false }} }}\nstorage: {{ filesystem: {{ rootdirectory: {} }}, delete: {{ enabled: true }} }}\nhttp: {{ {http} }}\n{auth}",
            dir.join("data").display()
        );
        std::fs::write(dir.join("config.yml"), config).unwrap();
        let mut r = Registry { dir: dir.to_path_buf(), addr, tls, child: None };
        r.resume();
        Some(r)
    }

    /// Starts it (again), on the same address and storage.
    pub fn resume(&mut self) {
        let log = std::fs::File::options().create(true).append(true).open(self.dir.join("registry.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(self.dir.join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("starting docker-registry");
        self.child = Some(child);
        wait_for("the registry to listen", || TcpStream::connect(&self.addr).is_ok());
    }

    /// Kills it (SIGKILL, as a crash would).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The directory of per-registry CA files sbx reads (`registries.certs-dir`).
    pub fn certs_d(&self) -> PathBuf {
        self.dir.join("certs.d")
    }

    /// A directory with only the CA (for skopeo's and podman's --cert-dir).
    pub fn ca_dir(&self) -> PathBuf {
        self.dir.join("ca")
    }

    /// The `registries:` part of an sbx configuration that reaches this registry.
    pub fn sbx_config(&self) -> String {
        if self.tls {
            format!("registries:\n  certs-dir: {}\n", self.certs_d().display())
        } else {
            format!("registries:\n  insecure: [\"{}\"]\n", self.addr)
        }
    }

    /// The lines of its access log whose request contains `part` (as `GET /v2/x/blobs/sha256:`).
    pub fn requests(&self, part: &str) -> Vec<String> {
        let log = std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default();
        log.lines().filter(|l| l.contains("HTTP/1.1\"") && l.contains(part)).map(String::from).collect()
    }

    /// The file the registry keeps the blob `digest` (`sha256:...`) in.
    pub fn blob_file(&self, digest: &str) -> PathBuf {
        let hex = digest.trim_start_matches("sha256:");
        self.dir.join("data/docker/registry/v2/blobs/sha256").join(&hex[..2]).join(hex).join("data")
    }

    /// skopeo's or podman's flags to reach it.
    pub fn tool_flags(&self, cert_flag: &str) -> Vec<String> {
        if self.tls {
            vec![format!("{cert_flag}={}", self.ca_dir().display()), format!("--creds={USER}:{PASSWORD}")]
        } else {
            vec!["--tls-verify=false".into()]
        }
    }
}

/// A test CA, and a certificate for 127.0.0.1 signed by it; the CA is put where sbx, skopeo and
/// podman look for it.
fn make_certs(dir: &Path, addr: &str) {
    let ossl = |args: &[&str]| run(Command::new("openssl").current_dir(dir).args(args));
    ossl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=sbx test CA",
    ]);
    ossl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(dir.join("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    ossl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.crt",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    for d in [dir.join("certs.d").join(addr), dir.join("ca")] {
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(dir.join("ca.crt"), d.join("ca.crt")).unwrap();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What the hostile server answers to a path.
#[derive(Clone)]
pub enum Answer {
    /// Status, content type and body.
    Body(u16, &'static str, Vec<u8>),
    /// A redirect to this path (of the same server).
    Redirect(String),
    /// Headers promising `len` bytes, then only the first `sent` of `body`, then the connection closes.
    Cut { body: Vec<u8>, sent: usize },
    /// Accepts and never answers.
    Silent,
}

/// A server on 127.0.0.1 answering each path as its table says (404 for the rest), counting the
/// requests of each path. Plain HTTP: sbx reaches it as an insecure registry.
pub struct HostileServer {
    pub addr: String,
    pub answers: Arc<Mutex<Vec<(String, Answer)>>>,
    pub hits: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
}

impl HostileServer {
    pub fn start() -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the hostile server");
        let addr = listener.local_addr().unwrap().to_string();
        let answers: Arc<Mutex<Vec<(String, Answer)>>> = Arc::default();
        let hits: Arc<Mutex<Vec<String>>> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (a, h, s) = (answers.clone(), hits.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (a, h) = (a.clone(), h.clone());
                std::thread::spawn(move || serve(conn, &a, &h));
            }
        });
        HostileServer { addr, answers, hits, stop }
    }

    pub fn answer(&self, path: &str, answer: Answer) {
        let mut answers = self.answers.lock().unwrap();
        answers.retain(|(p, _)| p != path);
        answers.push((path.to_string(), answer));
    }

    pub fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().iter().filter(|p| *p == path).count()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(&self.addr); // wakes the accept loop
    }
}

fn serve(mut conn: TcpStream, answers: &Mutex<Vec<(String, Answer)>>, hits: &Mutex<Vec<String>>) {
    loop {
        let mut reader = BufReader::new(match conn.try_clone() {
            Ok(c) => c,
            Err(_) => return,
        });
        let mut request = String::new();
        if reader.read_line(&mut request).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                break;
            }
            if let Some(v) = header.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        let mut body = vec![0; length];
        let _ = reader.read_exact(&mut body);
        let path = request.split_whitespace().nth(1).unwrap_or("").split('?').next().unwrap_or("").to_string();
        hits.lock().unwrap().push(path.clone());
        let answer = answers.lock().unwrap().iter().find(|(p, _)| *p == path).map(|(_, a)| a.clone());
        let head = |status: u16, kind: &str, len: usize, extra: &str| {
            format!("HTTP/1.1 {status} X\r\nContent-Type: {kind}\r\nContent-Length: {len}\r\n{extra}\r\n")
        };
        let written = match answer {
            None => conn.write_all(head(404, "application/json", 0, "").as_bytes()),
            Some(Answer::Body(status, kind, bytes)) => {
                conn.write_all(head(status, kind, bytes.len(), "").as_bytes()).and_then(|()| conn.write_all(&bytes))
            }
            Some(Answer::Redirect(to)) => {
                conn.write_all(head(307, "text/plain", 0, &format!("Location: {to}\r\n")).as_bytes())
            }
            Some(Answer::Cut { body, sent }) => {
                let _ = conn.write_all(head(200, "application/octet-stream", body.len(), "").as_bytes());
                let _ = conn.write_all(&body[..sent]);
                return;
            }
            Some(Answer::Silent) => {
                std::thread::sleep(std::time::Duration::from_secs(60));
                return;
            }
        };
        if written.is_err() {
            return;
        }
    }
}

/// A proxy on 127.0.0.1 before a registry that refuses request bodies over `limit` bytes with 413,
/// as a reverse proxy with a body limit (nginx's client_max_body_size) does; everything else goes
/// through, one request per connection.
pub struct BodyLimit {
    pub addr: String,
    /// How many requests it refused.
    pub refused: Arc<std::sync::atomic::AtomicUsize>,
    stop: Arc<AtomicBool>,
}

impl BodyLimit {
    pub fn start(upstream: &str, limit: usize) -> BodyLimit {
        let listener = TcpListener::bind("127.0.0.1:0").expect("binding the proxy");
        let addr = listener.local_addr().unwrap().to_string();
        let refused: Arc<std::sync::atomic::AtomicUsize> = Arc::default();
        let stop = Arc::new(AtomicBool::new(false));
        let (r, s, upstream) = (refused.clone(), stop.clone(), upstream.to_string());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if s.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (r, upstream) = (r.clone(), upstream.clone());
                std::thread::spawn(move || {
                    let _ = forward(conn, &upstream, limit, &r);
                });
            }
        });
        BodyLimit { addr, refused, stop }
    }
}

impl Drop for BodyLimit {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(&self.addr);
    }
}

fn forward(
    mut conn: TcpStream,
    upstream: &str,
    limit: usize,
    refused: &std::sync::atomic::AtomicUsize,
) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut head = String::new();
    reader.read_line(&mut head)?;
    let mut length = 0usize;
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 || header == "\r\n" {
            break;
        }
        let lower = header.to_ascii_lowercase();
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse().unwrap_or(0);
        }
        if !lower.starts_with("connection:") {
            head.push_str(&header);
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    if length > limit {
        refused.fetch_add(1, Ordering::Relaxed);
        let said = "request body too large\n";
        let answer = format!(
            "HTTP/1.1 413 Request Entity Too Large\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{said}",
            said.len()
        );
        return conn.write_all(answer.as_bytes());
    }
    let mut up = TcpStream::connect(upstream)?;
    up.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes())?;
    up.write_all(&body)?;
    std::io::copy(&mut up, &mut conn)?;
    Ok(())
}
