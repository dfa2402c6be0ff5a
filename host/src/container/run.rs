//! `sbx run`: [`create`] then [`start`].

use super::create::{self, RunOptions};
use super::error::RunError;
use super::start::{self, StartOptions};
use crate::image::Store;
use crate::plugin::PluginSet;

/// Creates the container and runs it to its end; returns its exit code. Without `--rm` it stays,
/// stopped, with its writable layer.
pub fn run(store: &Store, opts: &RunOptions, plugins: &PluginSet) -> Result<i32, RunError> {
    let (record, fresh) = create::create_starting(store, opts, plugins)?;
    let dir = store.container_dir(&record.id);
    let start = StartOptions {
        interactive: opts.interactive,
        sig_proxy: opts.sig_proxy,
        shown: [opts.attach_out, opts.attach_err],
        ..Default::default()
    };
    start::start_record(store, dir, record, start, Some(fresh), plugins)
}
