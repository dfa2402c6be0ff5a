//! The WASI interfaces sbx gives plugins, added to the run's linker by package when a component
//! that imports from the package is linked: the interfaces of wasmtime-wasi's
//! `p2::add_to_linker_async`, grouped. A run of Rust policies imports neither sockets nor random,
//! and building those for every run that loads a plugin cost a tenth of a millisecond. A component
//! that imports what sbx does not give is refused when it is linked, as before.
//!
//! Streams and stderr are served from the store's own resource table and stderr capture; the rest
//! from a WASI context, which a store gets only when its component imports more than those
//! ([`needs_context`]): sbx's policies import just stderr, and each context's random generators
//! cost every instance tens of microseconds.

use super::host::HostState;
use wasmtime::component::{HasSelf, Linker, Resource};
use wasmtime_wasi::cli::{WasiCli, WasiCliView as _};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView as _};
use wasmtime_wasi::filesystem::{Descriptor, WasiFilesystem, WasiFilesystemView as _};
use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, random, sockets};
use wasmtime_wasi::random::{WasiRandom, WasiRandomView as _};
use wasmtime_wasi::sockets::{WasiSockets, WasiSocketsView as _};

type Add = fn(&mut Linker<HostState>) -> wasmtime::Result<()>;

/// The interfaces served without a WASI context, by the prefix of their names.
const IO: &str = "wasi:io/";
const STDERR: &str = "wasi:cli/stderr@";

/// Each package, by the prefixes of its interfaces' names, and what adds it.
const PACKAGES: [(&[&str], Add); 7] = [
    (&[IO], io),
    (&[STDERR], stderr),
    (&["wasi:clocks/"], clock),
    (&["wasi:filesystem/"], files),
    (&["wasi:random/"], randomness),
    (
        &["wasi:cli/environment@", "wasi:cli/exit@", "wasi:cli/stdin@", "wasi:cli/stdout@", "wasi:cli/terminal-"],
        command_line,
    ),
    (&["wasi:sockets/"], network),
];

/// Whether the stores of a component that imports `imports` need a WASI context.
pub fn needs_context(imports: &[String]) -> bool {
    imports.iter().any(|n| n.starts_with("wasi:") && !n.starts_with(IO) && !n.starts_with(STDERR))
}

/// Whether a component that imports `imports` can be called without a fiber: it imports nothing of
/// WASI, whose functions sbx adds as async ones (a read or a sleep may wait); sbx's own never wait.
pub fn imports_none(imports: &[String]) -> bool {
    !imports.iter().any(|n| n.starts_with("wasi:"))
}

/// A linker with the WASI packages added so far (sbx's own interfaces are added by its owner).
pub struct WasiLinker {
    linker: Linker<HostState>,
    added: [bool; PACKAGES.len()],
}

impl WasiLinker {
    pub fn new(linker: Linker<HostState>) -> WasiLinker {
        WasiLinker { linker, added: [false; PACKAGES.len()] }
    }

    /// Adds the packages that `imports` (interface names, as a component imports them) need and
    /// that are not there yet.
    pub fn add_for(&mut self, imports: &[String]) -> wasmtime::Result<()> {
        for (i, (prefixes, add)) in PACKAGES.iter().enumerate() {
            if !self.added[i] && imports.iter().any(|n| prefixes.iter().any(|p| n.starts_with(p))) {
                add(&mut self.linker)?;
                self.added[i] = true;
            }
        }
        Ok(())
    }

    pub fn linker(&self) -> &Linker<HostState> {
        &self.linker
    }
}

fn io(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    wasmtime_wasi_io::add_to_linker_async(l)
}

fn stderr(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    cli::stderr::add_to_linker::<HostState, HasSelf<HostState>>(l, |s| s)
}

fn clock(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    clocks::wall_clock::add_to_linker::<HostState, WasiClocks>(l, HostState::clocks)?;
    clocks::monotonic_clock::add_to_linker::<HostState, WasiClocks>(l, HostState::clocks)
}

fn files(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    filesystem::preopens::add_to_linker::<HostState, WasiFilesystem>(l, HostState::filesystem)?;
    filesystem::types::add_to_linker::<HostState, WasiFilesystem>(l, HostState::filesystem)?;
    super::file_streams::serve(l, WASI_FILESYSTEM)?;
    refuse_symlinks(l)
}

fn randomness(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    random::random::add_to_linker::<HostState, WasiRandom>(l, HostState::random)?;
    random::insecure::add_to_linker::<HostState, WasiRandom>(l, HostState::random)?;
    random::insecure_seed::add_to_linker::<HostState, WasiRandom>(l, HostState::random)
}

fn command_line(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    cli::exit::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::environment::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::stdin::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::stdout::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_input::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_output::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_stdin::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_stdout::add_to_linker::<HostState, WasiCli>(l, HostState::cli)?;
    cli::terminal_stderr::add_to_linker::<HostState, WasiCli>(l, HostState::cli)
}

fn network(l: &mut Linker<HostState>) -> wasmtime::Result<()> {
    let options = sockets::network::LinkOptions::default();
    sockets::tcp_create_socket::add_to_linker::<HostState, WasiSockets>(l, HostState::sockets)?;
    sockets::instance_network::add_to_linker::<HostState, WasiSockets>(l, HostState::sockets)?;
    sockets::network::add_to_linker::<HostState, WasiSockets>(l, &options, HostState::sockets)?;
    sockets::ip_name_lookup::add_to_linker::<HostState, WasiSockets>(l, HostState::sockets)?;
    sockets::tcp::add_to_linker::<HostState, WasiSockets>(l, HostState::sockets)?;
    sockets::udp::add_to_linker::<HostState, WasiSockets>(l, HostState::sockets)?;
    sockets::udp_create_socket::add_to_linker::<HostState, WasiSockets>(l, HostState::sockets)
}

/// The WASI filesystem version wasmtime-wasi serves (components built for any 0.2.x bind to it).
const WASI_FILESYSTEM: &str = "wasi:filesystem/types@0.2.12";

/// A plugin may not make symlinks in a directory it is granted: cap-std keeps the plugin's own
/// lookups inside the directory, but a link pointing out of it would be followed by the host's
/// other programs that read the directory (an audit log's reader, say). Refused with
/// `not-permitted`, as in a read-only grant; files and directories it may make as before.
fn refuse_symlinks(linker: &mut Linker<HostState>) -> wasmtime::Result<()> {
    use wasmtime_wasi::p2::bindings::filesystem::types::ErrorCode;
    linker.allow_shadowing(true);
    let mut fs = linker.instance(WASI_FILESYSTEM)?;
    fs.func_wrap_async("[method]descriptor.symlink-at", |_, (_, _, _): (Resource<Descriptor>, String, String)| {
        Box::new(async { Ok((Err::<(), ErrorCode>(ErrorCode::NotPermitted),)) })
    })?;
    linker.allow_shadowing(false);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_are_added_once_and_only_when_imported() {
        let engine = wasmtime::Engine::default();
        let mut linker = WasiLinker::new(Linker::new(&engine));
        linker.add_for(&["sbx:plugin/types@0.9.0".into(), "wasi:cli/stdout@0.2.6".into()]).unwrap();
        assert_eq!(linker.added, [false, false, false, false, false, true, false]);
        // Again, and with stderr and what it needs: adding a package twice would fail as a duplicate.
        linker.add_for(&["wasi:cli/stderr@0.2.6".into(), "wasi:io/streams@0.2.6".into()]).unwrap();
        assert_eq!(linker.added, [true, true, false, false, false, true, false]);
        linker.add_for(&["wasi:filesystem/types@0.2.9".into(), "wasi:sockets/tcp@0.2.9".into()]).unwrap();
        assert_eq!(linker.added, [true, true, false, true, false, true, true]);
    }

    #[test]
    fn only_components_that_import_more_than_streams_and_stderr_need_a_context() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let policy = names(&["sbx:plugin/host@0.9.0", "wasi:io/streams@0.2.6", "wasi:cli/stderr@0.2.6"]);
        assert!(!needs_context(&policy));
        for other in ["wasi:cli/stdout@0.2.6", "wasi:cli/environment@0.2.0", "wasi:clocks/wall-clock@0.2.0"] {
            assert!(needs_context(&[policy.clone(), names(&[other])].concat()), "{other}");
        }
    }

    #[test]
    fn only_components_that_import_nothing_of_wasi_are_called_without_a_fiber() {
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(imports_none(&names(&["sbx:plugin/types@0.9.0", "sbx:plugin/host@0.9.0"])));
        assert!(imports_none(&[]));
        // Streams and stderr need no context, but their functions are async ones.
        assert!(!imports_none(&names(&["sbx:plugin/host@0.9.0", "wasi:io/streams@0.2.6"])));
    }
}
