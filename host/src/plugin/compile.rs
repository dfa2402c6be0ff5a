//! Compiling components into the machine's cache: once per machine (one cache shared by every
//! store, filled under a lock, so twenty parallel runs of a new plugin compile it once), and in a
//! child process with a time limit (Cranelift's time grows fast with some shapes of code: a
//! hostile component of a few hundred KB can take minutes, and is refused instead). The child is
//! sbx itself (`sbx _compile`), given the bytes sbx hashed on stdin, so what is compiled is what
//! was checked.

use super::engine::{PluginError, one_line, wasm_config};
use std::io::{Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The largest component sbx loads: a componentized Python or JavaScript policy is 12-20 MB.
pub const MAX_COMPONENT: u64 = 128 << 20;

/// A component whose first compile gets a note: from this size it takes seconds.
const BIG_COMPONENT: usize = 4 << 20;

/// The compile cache of this machine: `$SBX_PLUGIN_CACHE`, else /var/cache/sbx/plugins for root,
/// else `$XDG_CACHE_HOME/sbx/plugins` (or `~/.cache/sbx/plugins`) for a user and a rootless sbx.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SBX_PLUGIN_CACHE") {
        return dir.into();
    }
    let user = crate::isolate::rootless::is_active() || !nix::unistd::geteuid().is_root();
    if !user {
        return PathBuf::from("/var/cache/sbx/plugins");
    }
    let home = |h: std::ffi::OsString| Path::new(&h).join(".cache");
    let base = std::env::var_os("XDG_CACHE_HOME").map(PathBuf::from).or_else(|| std::env::var_os("HOME").map(home));
    base.unwrap_or_else(|| PathBuf::from("/tmp")).join("sbx/plugins")
}

/// Makes `dir` if needed (0700), and checks that only this user can write it: sbx runs the
/// machine code it finds there, so a cache others could write would be theirs to run as root.
pub fn prepare(dir: &Path) -> Result<(), PluginError> {
    let bad = |message: String| PluginError::Cache { dir: dir.into(), message };
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| bad(e.to_string()))?;
    let meta = std::fs::symlink_metadata(dir).map_err(|e| bad(e.to_string()))?;
    let me = nix::unistd::geteuid().as_raw();
    if !meta.is_dir() || meta.uid() != me || meta.permissions().mode() & 0o022 != 0 {
        return Err(bad(format!(
            "it must be a directory of uid {me} that no one else may write (chown {me} and chmod 700 it, or set SBX_PLUGIN_CACHE)"
        )));
    }
    Ok(())
}

/// The bytes of the component at `path`: a regular file of at most [`MAX_COMPONENT`] bytes (a FIFO
/// or a device would block or never end; both are refused before they are read).
pub fn read_component(path: &Path) -> Result<Vec<u8>, PluginError> {
    use std::os::unix::fs::OpenOptionsExt;
    let read_error = |source| PluginError::Read { path: path.into(), source };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(read_error)?;
    let meta = file.metadata().map_err(read_error)?;
    check_file(path, &meta)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_COMPONENT + 1).read_to_end(&mut bytes).map_err(read_error)?;
    if bytes.len() as u64 > MAX_COMPONENT {
        return Err(PluginError::TooBig { path: path.into(), size: bytes.len() as u64 });
    }
    Ok(bytes)
}

/// A plugin must be a regular file under the size limit.
pub fn check_file(path: &Path, meta: &std::fs::Metadata) -> Result<(), PluginError> {
    if !meta.is_file() {
        let kind = crate::layer::fsops::kind_name(meta.mode());
        return Err(PluginError::NotAFile { path: path.into(), kind });
    }
    if meta.len() > MAX_COMPONENT {
        return Err(PluginError::TooBig { path: path.into(), size: meta.len() });
    }
    Ok(())
}

/// Compiles `bytes` (the component at `path`) into `cache` unless it is there already, in a child
/// process given `limit`, under a lock on `cache` so that one process compiles while the others
/// wait for its result. Returns whether this process compiled it.
pub fn ensure(path: &Path, bytes: &[u8], cache: &Path, fuel: bool, limit: Duration) -> Result<bool, PluginError> {
    let dir = cache.parent().unwrap_or(Path::new("."));
    let cache_error = |e: std::io::Error| PluginError::Cache { dir: dir.into(), message: e.to_string() };
    let lock = std::fs::File::create(cache.with_extension("lock")).map_err(cache_error)?;
    let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| cache_error(std::io::Error::from(e)))?;
    if cache.exists() {
        return Ok(false);
    }
    if bytes.len() >= BIG_COMPONENT {
        eprintln!(
            "sbx: compiling plugin {} ({} MB) for this machine; it takes seconds, once (`sbx plugin compile` does it ahead)",
            path.display(),
            bytes.len() >> 20
        );
    }
    let exe = std::env::current_exe().map_err(|e| PluginError::Engine(format!("cannot find sbx itself: {e}")))?;
    let mut child = Command::new(exe)
        .args(["_compile", if fuel { "--fuel" } else { "--no-fuel" }])
        .arg(cache)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| PluginError::Engine(format!("cannot start the compiler process: {e}")))?;
    // A child that fails early closes its end: its own message tells why.
    let _ = child.stdin.take().expect("piped").write_all(bytes);
    if !crate::sys::wait::ended_within(child.id() as i32, limit) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(PluginError::CompileTimeout { path: path.into(), limit });
    }
    let out = child.wait_with_output().map_err(|e| PluginError::Engine(e.to_string()))?;
    if !out.status.success() {
        let message = String::from_utf8_lossy(&out.stderr).trim().to_string();
        return Err(PluginError::Invalid { path: path.into(), message: super::output::text(&message, 2000) });
    }
    Ok(true)
}

/// `sbx _compile`: the child. Reads a component from stdin, compiles it for an engine configured
/// as sbx's (with or without fuel) and writes the result to `out`; a failure is one line on stderr
/// and exit 1.
pub fn child(fuel: bool, out: &Path) -> i32 {
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().take(MAX_COMPONENT + 1).read_to_end(&mut bytes) {
        eprintln!("cannot read the component: {e}");
        return 1;
    }
    let engine = match wasmtime::Engine::new(&wasm_config(fuel)) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{}", one_line(&e));
            return 1;
        }
    };
    // What trimming made is compiled; should wasmtime refuse it, the component as it came is, so
    // that a refusal names what the plugin's author gave.
    let trimmed = super::trim::trimmed(&bytes).and_then(|t| engine.precompile_component(&t).ok());
    let compiled = match trimmed.map_or_else(|| engine.precompile_component(&bytes), Ok) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{}", one_line(&e));
            return 1;
        }
    };
    match crate::image::store::write_atomic(out, &compiled) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("cannot write {}: {e}", out.display());
            1
        }
    }
}
