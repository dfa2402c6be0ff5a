//! `sbx run -d` and the hidden `sbx _monitor` it starts (see [`crate::container::monitor`]).

use super::run::{RunArgs, fail_run};
use crate::config::PluginSpec;
use crate::container::create::create;
use crate::container::monitor;
use crate::container::state::ContainerRecord;
use crate::image::Store;
use crate::plugin::PluginSet;
use clap::Args;
use std::fs::File;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Args, Debug)]
pub struct MonitorArgs {
    /// The container's id.
    pub id: String,
    /// The descriptor to report the start on.
    #[arg(long)]
    pub report_fd: i32,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Hook plugins given to `sbx run --hook`.
    #[arg(long = "hook")]
    pub hooks: Vec<PathBuf>,
}

pub fn monitor(store: &Store, args: MonitorArgs, config: Option<&Path>) -> i32 {
    // SAFETY: the sbx that started this monitor left this descriptor open for it alone, and
    // nothing else here owns or closes it.
    let report = unsafe { OwnedFd::from_raw_fd(args.report_fd) };
    let mut specs = match super::config::resolve(config) {
        Ok(c) => c.plugins,
        Err(code) => return code,
    };
    specs.extend(args.hooks.iter().map(|p| PluginSpec::from_path(p)));
    let plugins = PluginSet::new(&crate::plugin::compile::cache_dir(), specs);
    monitor::run(store, &args.id, &plugins, report, args.rm)
}

/// `sbx run -d`: creates the container, then [`start_detached`].
pub fn run_detached(store: &Store, args: RunArgs, config: Option<&Path>) -> i32 {
    let plugins = match args.plugins(config) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (hooks, rm) = (args.hooks.clone(), args.rm);
    let opts = match args.options() {
        Ok(o) => o,
        Err(e) => return super::fail(e),
    };
    match create(store, &opts, &plugins) {
        Ok(record) => match start_detached(store, &record, config, &hooks, rm) {
            Ok(()) => {
                say!("{}", record.id);
                0
            }
            Err(code) => code,
        },
        Err(e) => fail_run(e),
    }
}

/// Starts the monitor of `record`'s container in a session of its own and returns once the
/// container runs; Err(exit code) once the reason it could not start is printed.
pub fn start_detached(
    store: &Store,
    record: &ContainerRecord,
    config: Option<&Path>,
    hooks: &[PathBuf],
    rm: bool,
) -> Result<(), i32> {
    let dir = store.container_dir(&record.id);
    let started = (|| -> std::io::Result<File> {
        let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
        // The write end must survive the monitor's exec.
        nix::fcntl::fcntl(&write, nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::empty()))?;
        let mut cmd = Command::new(std::env::current_exe()?);
        cmd.arg("--root").arg(store.root());
        if let Some(c) = config {
            cmd.arg("--config").arg(c);
        }
        cmd.args(["_monitor", &record.id, "--report-fd", &write.as_raw_fd().to_string()]);
        if rm {
            cmd.arg("--rm");
        }
        for h in hooks {
            cmd.arg("--hook").arg(h);
        }
        let errors = File::create(dir.join("monitor.log"))?;
        cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(errors);
        // Its own session: no terminal signal of the launching shell reaches it.
        // SAFETY: the closure only calls setsid(2), which is async-signal-safe, between fork and
        // exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        cmd.spawn()?;
        drop(write);
        Ok(File::from(read))
    })();
    let report = match started {
        Ok(r) => r,
        Err(e) => return Err(super::fail(format!("cannot start the monitor of {}: {e}", record.name))),
    };
    monitor::read_report(report).map_err(|(code, message)| {
        eprintln!("sbx: {message}");
        code
    })
}
