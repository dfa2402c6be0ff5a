//! `sbx rm [-f] [-v] CONTAINER...`; the configured plugins' hooks hear of each removal.

use crate::container::remove::remove;
use crate::image::Store;
use crate::plugin::load_all;
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Kill a running container first.
    #[arg(short, long)]
    pub force: bool,
    /// Also remove the container's anonymous volumes. Accepted as docker's flag; sbx makes no
    /// anonymous volumes (an image's VOLUME paths are part of the writable layer), so rm always
    /// removes everything the container wrote.
    #[arg(short, long)]
    pub volumes: bool,
    /// Names or id prefixes.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Like docker: removes what it can, prints each name, and fails if any could not be removed.
pub fn rm(store: &Store, args: RmArgs, config: Option<&Path>) -> i32 {
    let specs = match super::config::resolve(config) {
        Ok(c) => c.plugins,
        Err(code) => return code,
    };
    let plugins = match load_all(&crate::plugin::compile::cache_dir(), &specs) {
        Ok(p) => p,
        Err(e) => return super::fail(e),
    };
    let mut code = 0;
    for c in &args.containers {
        match remove(store, c, args.force, &plugins) {
            Ok(_) => say!("{c}"),
            Err(e) => code = code.max(super::refuse_or_fail(&e, e.is_refusal())),
        }
    }
    // A dead container's sbx may have been killed while it staged something (the init layer):
    // what no running sbx holds goes too.
    store.sweep_staging();
    code
}
