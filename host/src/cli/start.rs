//! `sbx start [-a] [-i] [--rm] CONTAINER`: runs a created or stopped container on its own writable
//! layer: with -a in the foreground, exiting with its exit code; without, in the background under a
//! monitor (printing its id, as docker prints the name). The configured plugins' hooks hear it.

use super::run::fail_run;
use crate::container::start::{StartOptions, start as start_container};
use crate::container::state;
use crate::image::Store;
use crate::plugin::PluginSet;
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach: run in the foreground with its output here, and exit with its exit code (without:
    /// in the background; see `sbx logs`).
    #[arg(short, long)]
    pub attach: bool,
    /// Keep stdin open (otherwise the container reads /dev/null).
    #[arg(short, long)]
    pub interactive: bool,
    /// Remove the container when it exits.
    #[arg(long)]
    pub rm: bool,
    /// The container: its name or an id prefix.
    pub container: String,
}

pub fn start(store: &Store, args: StartArgs, config: Option<&Path>) -> i32 {
    if !args.attach {
        // In the background, under a monitor, as `sbx run -d`; the container must not run already.
        return match state::find(store, &args.container) {
            Ok((dir, _)) if state::is_running(&dir) => {
                say!("{}", args.container); // started already, as docker says
                0
            }
            Ok((_, record)) => match super::monitor::start_detached(store, &record, config, &[], args.rm) {
                Ok(()) => {
                    say!("{}", args.container); // the name it was given, as docker's
                    0
                }
                Err(code) => code,
            },
            Err(e) => super::refuse_or_fail(&e, e.is_refusal()),
        };
    }
    let found = state::find(store, &args.container).ok();
    let tty = found.and_then(|(dir, _)| state::load_spec(&dir)).is_some_and(|s| s.terminal);
    if let Err(e) = super::check_terminal_input(args.interactive, tty) {
        return super::fail(e);
    }
    let plugins = match super::config::resolve(config) {
        Ok(c) => PluginSet::new(&crate::plugin::compile::cache_dir(), c.plugins),
        Err(code) => return code,
    };
    let opts = StartOptions { interactive: args.interactive, rm: args.rm, ..Default::default() };
    start_container(store, &args.container, opts, &plugins).unwrap_or_else(fail_run)
}

/// Stops each container (if it runs, as `stop` with the same -t and -s) and starts it again in the
/// background, on the same writable layer; prints each name. Goes on past an error, as docker's.
pub fn restart(store: &Store, args: super::control::StopArgs, config: Option<&Path>) -> i32 {
    use crate::container::control;
    let signal = match super::control::signal_of(&args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let grace = args.time.map(std::time::Duration::from_secs);
    let mut code = 0;
    for c in &args.containers {
        if let Err(e) = control::stop(store, c, grace, signal) {
            code = code.max(super::refuse_or_fail(&e, e.is_refusal()));
            continue;
        }
        // Found again: a --rm container is gone once stopped.
        let started = match state::find(store, c) {
            Ok((_, record)) => super::monitor::start_detached(store, &record, config, &[], record.auto_remove),
            Err(e) => Err(super::refuse_or_fail(&e, e.is_refusal())),
        };
        match started {
            Ok(()) => say!("{c}"),
            Err(e) => code = code.max(e),
        }
    }
    code
}
