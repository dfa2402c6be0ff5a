//! What a plugin costs, for `sbx plugin bench` and bench/run.sh: compiling it, loading it from the
//! compile cache, one call (validate-settings, the cheapest call there is) in a fresh instance and
//! in the instance an admission's calls share, a layer check over many entries, a spec check, and
//! a hook call in the instance a process's hook calls share.

use super::bindings::{Entry, EntryKind, Event, Layer, Status};
use super::chain::PolicyCheck;
use super::convert::{self, ContainerView};
use super::engine::{Engine, PluginError};
use super::instance::Plugin;
use crate::config::PluginSpec;
use crate::spec::{Overrides, build};
use std::path::Path;
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Costs {
    pub compile: Duration,
    pub cached_load: Duration,
    /// Median of `calls` calls, each in a fresh instance.
    pub fresh_call: Duration,
    /// Median of `calls` calls in one instance, as an admission makes them.
    pub call: Duration,
    pub layer_check: Option<(usize, Duration)>,
    pub spec_check: Option<Duration>,
    pub hook: Option<Duration>,
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn time<R>(f: impl FnOnce() -> R) -> (Duration, R) {
    let start = Instant::now();
    let r = f();
    (start.elapsed(), r)
}

/// A layer of `n` regular files, as a big image layer would look to a policy.
pub fn synthetic_layer(n: usize) -> Layer {
    Layer {
        index: 0,
        digest: "sha256:0".into(),
        diff_id: "sha256:0".into(),
        media_type: "application/vnd.oci.image.layer.v1.tar".into(),
        size: 0,
        unpacked_size: n as u64 * 1000,
        created_by: None,
        entries: (0..n)
            .map(|i| Entry {
                path: format!("usr/share/data/{:03}/file-{i}.txt", i % 1000),
                kind: EntryKind::File,
                mode: 0o644,
                uid: 0,
                gid: 0,
                size: 1000,
                link_target: None,
            })
            .collect(),
    }
}

/// Measures the plugin at `path`; `scratch` is an empty directory for the uncached compile.
pub fn measure(path: &Path, scratch: &Path, calls: usize, entries: usize) -> Result<Costs, PluginError> {
    let spec = PluginSpec::from_path(path);
    let (compile, plugin) = time(|| Plugin::load(&Engine::new(scratch, false)?, &spec));
    plugin?;
    let engine = Engine::new(scratch, false)?;
    let (cached_load, plugin) = time(|| Plugin::load(&engine, &spec));
    let plugin = plugin?;
    let fresh = (0..calls.max(1)).map(|_| {
        plugin.end_session();
        plugin.end_hook_session();
        time(|| plugin.validate_settings()).0
    });
    let fresh_call = median(fresh.collect());
    let call = median((0..calls.max(1)).map(|_| time(|| plugin.validate_settings()).0).collect());
    let image = convert::bare_image("bench");
    let container_spec =
        build("bench", None, &Overrides { cmd: vec!["true".into()], ..Default::default() }, "bench", |_| None)
            .expect("a valid spec");
    let wit_spec = convert::spec(&image, &container_spec, &Default::default());
    let (layer_check, spec_check) = if plugin.has_policy() {
        let layer = synthetic_layer(entries);
        let (t, r) = time(|| plugin.check_layer(&image, &layer));
        r?;
        // Both phases of a spec's admission.
        let (s, r) = time(|| plugin.mutate_spec(&wit_spec).and_then(|_| plugin.validate_spec(&wit_spec)));
        r?;
        (Some((entries, t)), Some(s))
    } else {
        (None, None)
    };
    let hook = if plugin.has_hooks() {
        let container = convert::container(ContainerView {
            id: "bench",
            name: "bench",
            spec: &wit_spec,
            status: Status::Running,
            pid: Some(1),
            exit_code: None,
            signal: None,
            oom_killed: false,
        });
        let spec = std::sync::Arc::new(wit_spec);
        // An event a plugin is least likely to act on with side effects; the first call makes the
        // hooks' instance, the median is of calls in it, as a process's events after the first.
        let mut samples = Vec::new();
        for _ in 0..calls.max(1) {
            let (t, r) = time(|| plugin.on_event(Event::Poststart, &container, &spec));
            r?;
            samples.push(t);
        }
        Some(median(samples))
    } else {
        None
    };
    Ok(Costs { compile, cached_load, fresh_call, call, layer_check, spec_check, hook })
}
