//! `sbx rm [-f] [-v] CONTAINER...` and `sbx container prune [-f]`; the configured plugins' hooks
//! hear of each removal.

use crate::container::remove::remove;
use crate::container::state;
use crate::image::Store;
use crate::plugin::load_all;
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Kill a running container first.
    #[arg(short, long)]
    pub force: bool,
    /// Also remove the container's anonymous volumes (not those another container mounts too).
    #[arg(short, long)]
    pub volumes: bool,
    /// Names or id prefixes.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

/// The configured plugins (their hooks hear of removals); Err(exit code) when they cannot load.
pub fn hooks(config: Option<&Path>) -> Result<Vec<crate::plugin::Plugin>, i32> {
    let specs = super::config::resolve(config)?.plugins;
    load_all(&crate::plugin::compile::cache_dir(), &specs).map_err(super::fail)
}

/// Removes every container that does not run; prints their ids and the space given back.
pub fn prune(store: &Store, args: PruneArgs, config: Option<&Path>) -> i32 {
    if !args.force && !super::confirm("all stopped containers") {
        return 0;
    }
    let plugins = match hooks(config) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let (code, reclaimed) = prune_stopped(store, &plugins);
    say!("Total reclaimed space: {}", super::images::human_size(reclaimed));
    code
}

/// Removes the containers that do not run, printing their ids: (exit code, bytes their writable
/// layers held).
pub fn prune_stopped(store: &Store, plugins: &[crate::plugin::Plugin]) -> (i32, u64) {
    let (mut code, mut removed, mut reclaimed) = (0, Vec::new(), 0);
    for (dir, record) in state::list(store).into_iter().filter(|(d, _)| !state::is_running(d)) {
        let size = crate::container::diff::size(&dir.join("upper"));
        match remove(store, &record.id, false, false, plugins) {
            Ok(_) => {
                removed.push(record.id);
                reclaimed += size;
            }
            // Started meanwhile: no longer stopped, so not pruned.
            Err(crate::container::remove::RemoveError::Running(_)) => {}
            Err(e) => code = code.max(super::refuse_or_fail(&e, e.is_refusal())),
        }
    }
    store.sweep_staging();
    if !removed.is_empty() {
        say!("Deleted Containers:");
        for id in &removed {
            say!("{id}");
        }
        say!("");
    }
    (code, reclaimed)
}

/// Like docker: removes what it can, prints each name, and fails if any could not be removed.
pub fn rm(store: &Store, args: RmArgs, config: Option<&Path>) -> i32 {
    let plugins = match hooks(config) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let mut code = 0;
    for c in &args.containers {
        match remove(store, c, args.force, args.volumes, &plugins) {
            Ok(_) => say!("{c}"),
            Err(e) => code = code.max(super::refuse_or_fail(&e, e.is_refusal())),
        }
    }
    // A dead container's sbx may have been killed while it staged something (the init layer):
    // what no running sbx holds goes too.
    store.sweep_staging();
    code
}
