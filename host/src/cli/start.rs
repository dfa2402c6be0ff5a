//! `sbx start -a [-i] [--rm] CONTAINER`: runs a created or stopped container in the foreground, on
//! its own writable layer, and exits with its exit code. The configured plugins' hooks hear it.

use super::run::fail_run;
use crate::container::start::{StartOptions, start as start_container};
use crate::image::Store;
use crate::plugin::PluginSet;
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach: run in the foreground with its output here, and exit with its exit code.
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
        return super::fail(
            "sbx start without -a (in the background) is not supported yet: containers run in the foreground; use sbx start -a",
        );
    }
    let plugins = match super::config::resolve(config) {
        Ok(c) => PluginSet::new(&store.root().join("plugins"), c.plugins),
        Err(code) => return code,
    };
    let opts = StartOptions { interactive: args.interactive, rm: args.rm, ..Default::default() };
    start_container(store, &args.container, opts, &plugins).unwrap_or_else(fail_run)
}
