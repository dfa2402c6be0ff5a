//! What a plugin costs, for `sbx plugin bench` and bench/run.sh: compiling it, loading it from the
//! compile cache, one call (validate-settings, the cheapest call there is) in a fresh instance and
//! in the instance an admission's calls share, a layer check over many entries, a spec check, and
//! a hook call in the instance a process's hook calls share. The layer and spec checks are timed
//! whole (every entry, both calls), and what a run asks of the plugin is said below them.
//! The plugin is loaded as its spec says (settings, directories, limits): a hook that writes into a
//! directory it was not given times its failure, and the costs say so.

use super::bindings::{Entry, EntryKind, Event, Interests, Layer, Status, Verdict};
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
    pub policy: Option<Policy>,
    pub hook: Option<Hook>,
}

#[derive(Debug)]
pub struct Policy {
    /// A layer check over every entry of a layer of this many.
    pub layer_check: (usize, Duration),
    /// Both calls of a spec's admission.
    pub spec_check: Duration,
    /// What it wants to be asked: all a run asks of it, where the checks above time every entry
    /// and both calls.
    pub wants: Interests,
}

#[derive(Debug)]
pub struct Hook {
    /// Median of the calls in the instance a process's hook calls share.
    pub call: Duration,
    /// The reason of the last call's denial, when it denied: the time is of that path.
    pub denied: Option<String>,
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

/// Measures the plugin `spec` names; `scratch` is an empty directory for the uncached compile.
pub fn measure(spec: &PluginSpec, scratch: &Path, calls: usize, entries: usize) -> Result<Costs, PluginError> {
    let fuel = spec.limits.fuel.is_some();
    let (compile, plugin) = time(|| Plugin::load(&Engine::new(scratch, fuel)?, spec));
    plugin?;
    let engine = Engine::new(scratch, fuel)?;
    let (cached_load, plugin) = time(|| Plugin::load(&engine, spec));
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
    let policy = if plugin.has_policy() {
        let layer = synthetic_layer(entries);
        let (t, r) = time(|| plugin.check_layer(&image, &layer));
        r?;
        // Both phases of a spec's admission.
        let (s, r) = time(|| plugin.mutate_spec(&wit_spec).and_then(|_| plugin.validate_spec(&wit_spec)));
        r?;
        Some(Policy { layer_check: (entries, t), spec_check: s, wants: *plugin.wants() })
    } else {
        None
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
        let mut denied = None;
        for _ in 0..calls.max(1) {
            let (t, r) = time(|| plugin.on_event(Event::Poststart, &container, &spec));
            denied = match r? {
                Verdict::Allow => None,
                Verdict::Deny(reason) => Some(reason),
            };
            samples.push(t);
        }
        Some(Hook { call: median(samples), denied })
    } else {
        None
    };
    Ok(Costs { compile, cached_load, fresh_call, call, policy, hook })
}
