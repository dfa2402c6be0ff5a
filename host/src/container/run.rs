//! `sbx run`: [`create`] then [`start`].

use super::create::{self, RunOptions};
use super::error::RunError;
use super::start::{self, StartOptions};
use crate::image::Store;
use crate::isolate::spawn::SpawnError;
use crate::plugin::PluginSet;
use std::os::fd::AsRawFd;

/// Creates the container and runs it to its end; returns its exit code. Without `--rm` it stays,
/// stopped, with its writable layer.
pub fn run(store: &Store, opts: &RunOptions, plugins: &PluginSet) -> Result<i32, RunError> {
    let (record, fresh) = create::create_starting(store, opts, plugins)?;
    let dir = store.container_dir(&record.id);
    // `-a`: the streams not attached go to /dev/null (held open until the container has them).
    let null = match opts.attach_out && opts.attach_err {
        true => None,
        false => Some(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/null")
                .map_err(|e| RunError::Spawn(SpawnError::Start(e)))?,
        ),
    };
    let null_fd = null.as_ref().map(|f| f.as_raw_fd());
    let start = StartOptions {
        interactive: opts.interactive,
        sig_proxy: opts.sig_proxy,
        stdout: if opts.attach_out { None } else { null_fd },
        stderr: if opts.attach_err { None } else { null_fd },
        ..Default::default()
    };
    start::start_record(store, dir, record, start, Some(fresh), plugins)
}
