//! RUN: the step's command runs in a new container of the image so far, made and started as
//! `sbx run` makes and starts one (its isolation, the configured policies on its spec, the hooks'
//! events, with annotations that say which build step it is); its writable layer, committed as
//! `sbx commit` writes one, is the step's layer. The container is removed however the step ends.

use crate::container::commit::{store_layer, write_layer};
use crate::container::create::{self, RunOptions};
use crate::container::start::{self, StartOptions};
use crate::container::{RunError, remove};
use crate::image::store::LayerRef;
use crate::image::{ImageRecord, Store};
use crate::plugin::PluginSet;
use crate::spec::Overrides;

/// What a RUN step runs.
pub struct RunStep<'a> {
    /// The command's whole argv (the shell form through the stage's SHELL).
    pub argv: Vec<String>,
    /// The build arguments in scope, as the command's environment (`K=V`).
    pub env: Vec<String>,
    /// The build's own run settings (its network), and the step's annotations.
    pub overrides: Overrides,
    /// Show the command's output (not with `-q`).
    pub show: bool,
    /// Names the step in errors.
    pub what: &'a str,
}

/// What became of a RUN: its layer, or the command's non-zero exit code.
pub enum Ran {
    Layer(LayerRef),
    Failed(i32),
}

/// Removes the step's container when dropped.
struct Made<'a> {
    store: &'a Store,
    id: String,
    plugins: &'a PluginSet,
}

impl Drop for Made<'_> {
    fn drop(&mut self) {
        let hooks = match self.plugins.may_have_hooks() {
            true => self.plugins.load().unwrap_or_default(),
            false => &[],
        };
        if let Err(e) = remove::remove(self.store, &self.id, true, true, hooks) {
            eprintln!("sbx: warning: the build step's container {} stays: {e}", &self.id[..12]);
        }
    }
}

/// Runs `step` in a container of `image`.
pub fn run(store: &Store, image: &ImageRecord, step: RunStep, plugins: &PluginSet) -> Result<Ran, RunError> {
    let mut overrides = step.overrides;
    overrides.cmd = step.argv;
    overrides.entrypoint = Some(String::new());
    overrides.env.extend(step.env);
    let opts = RunOptions {
        image: image.id.to_string(),
        sig_proxy: true,
        attach_out: step.show,
        attach_err: step.show,
        overrides,
        ..RunOptions::default()
    };
    let (record, fresh) = create::create_starting(store, &opts, plugins)?;
    let made = Made { store, id: record.id.clone(), plugins };
    let dir = store.container_dir(&record.id);
    let idmap = record.idmap;
    let how = StartOptions { sig_proxy: true, shown: [step.show, step.show], ..StartOptions::default() };
    let code = start::start_record(store, dir.clone(), record, how, Some(fresh), plugins)?;
    if code != 0 {
        if !step.show {
            show_log(&dir);
        }
        return Ok(Ran::Failed(code));
    }
    let layer = store_layer(store, step.what, |out| write_layer(&dir.join("upper"), idmap.as_ref(), out))?;
    drop(made);
    Ok(Ran::Layer(layer))
}

/// The output of a failed step that was not shown (`-q`), from its container's log, on stderr.
fn show_log(dir: &std::path::Path) {
    use std::io::Write;
    let text = std::fs::read_to_string(dir.join(crate::container::log::LOG)).unwrap_or_default();
    let mut err = std::io::stderr().lock();
    for line in text.lines().filter_map(|l| serde_json::from_str::<crate::container::log::LogLine>(l).ok()) {
        let _ = err.write_all(line.log.as_bytes());
    }
}
