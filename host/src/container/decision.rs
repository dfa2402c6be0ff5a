//! A run's policy decision, cached: the layers to leave out, the adjusted spec and the notes. Policy
//! checks are functions of their input (their clocks stand still, they are granted no directory),
//! so the same plugins with the same settings deciding on the same image and spec decide the same
//! way; a repeated run reads the decision instead of loading any plugin. Only allowed runs are
//! cached; denials are evaluated again, with every message. Plugins with hooks or granted
//! directories make a run uncacheable. What differs on every run ([`Varying`]: the default hostname,
//! the container's id; the names of its new anonymous volumes) stands in the key and the cache as
//! placeholders. `SBX_POLICY_CACHE=off` turns the
//! cache off (to measure the plugins, or while developing one).

use crate::config::Weakening;
use crate::image::{Digest, ImageRecord, Store};
use crate::plugin::PluginSet;
use crate::plugin::bindings::WIT_VERSION;
use crate::spec::{ContainerSpec, get_env, set_env};
use serde::{Deserialize, Serialize};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Stands for the default hostname in cached specs.
const DEFAULT_HOSTNAME: &str = "{container-id}";

/// What is new on every run: the default hostname (None when the user named one) and the names of
/// the anonymous volumes made for this container, in order.
#[derive(Debug, Clone, Copy, Default)]
pub struct Varying<'a> {
    pub hostname: Option<&'a str>,
    pub volumes: &'a [String],
}

/// Stands for the `i`th anonymous volume's name in cached specs.
fn volume_placeholder(i: usize) -> String {
    format!("{{anonymous-volume-{i}}}")
}

/// Replaces, in the mounts' sources, each name of `from` by the name of `to` at its place.
fn swap_volumes(spec: &mut ContainerSpec, from: &[String], to: &[String]) {
    for m in &mut spec.mounts {
        let Some(dir) = std::path::Path::new(&m.source).parent() else { continue };
        let Some(name) = dir.file_name().and_then(|n| n.to_str()) else { continue };
        if let Some(i) = from.iter().position(|f| f == name) {
            m.source = dir.with_file_name(&to[i]).join("_data").to_string_lossy().into_owned();
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub skipped: Vec<usize>,
    pub spec: ContainerSpec,
    /// The notes of the plugins when the decision was made, shown again.
    pub notes: Vec<crate::plugin::chain::Note>,
}

/// Replaces `from` by `to` as the hostname and HOSTNAME.
fn swap_hostname(spec: &mut ContainerSpec, from: &str, to: &str) {
    if spec.hostname == from {
        spec.hostname = to.to_string();
    }
    if get_env(&spec.env, "HOSTNAME") == Some(from) {
        set_env(&mut spec.env, "HOSTNAME", to);
    }
}

/// The spec as it is keyed and cached: what varies replaced by placeholders.
pub fn neutral(spec: &ContainerSpec, varying: Varying) -> ContainerSpec {
    let mut s = spec.clone();
    if let Some(h) = varying.hostname {
        swap_hostname(&mut s, h, DEFAULT_HOSTNAME);
    }
    let placeholders: Vec<String> = (0..varying.volumes.len()).map(volume_placeholder).collect();
    swap_volumes(&mut s, varying.volumes, &placeholders);
    s
}

/// A cached spec for the container whose own names are `varying`.
pub fn restore(mut spec: ContainerSpec, varying: Varying) -> ContainerSpec {
    if let Some(h) = varying.hostname {
        swap_hostname(&mut spec, DEFAULT_HOSTNAME, h);
    }
    let placeholders: Vec<String> = (0..varying.volumes.len()).map(volume_placeholder).collect();
    swap_volumes(&mut spec, &placeholders, varying.volumes);
    spec
}

/// Everything the decision depends on, hashed; None when it may not be cached.
pub fn key(
    plugins: &PluginSet,
    reference: &str,
    image: &ImageRecord,
    spec: &ContainerSpec,
    varying: Varying,
) -> Option<String> {
    #[derive(Serialize)]
    struct Run<'a> {
        reference: &'a str,
        image: &'a str,
        names: &'a [String],
        layers: Vec<&'a str>,
        spec: ContainerSpec,
    }
    hash(plugins, || Run {
        reference,
        image: image.id.hex(),
        names: &image.names,
        layers: image.layers.iter().map(|l| l.diff_id.hex()).collect(),
        spec: neutral(spec, varying),
    })
}

/// The key of a bundle's decision (the runtime CLI): its spec and its process's ids are all the
/// spec checks see of it (its image is only a name there).
pub fn bundle_key(plugins: &PluginSet, spec: &ContainerSpec, ids: (u32, u32, &[u32])) -> Option<String> {
    #[derive(Serialize)]
    struct Bundle<'a> {
        bundle_spec: &'a ContainerSpec,
        ids: (u32, u32, &'a [u32]),
    }
    hash(plugins, || Bundle { bundle_spec: spec, ids })
}

/// `input` with sbx's identity and the plugins', hashed; None when the decision may not be cached
/// (then `input` is not made: it holds the whole spec). Serialized straight to JSON text, not
/// through a `serde_json::Value` (each of whose fields is a map entry of its own to build and drop).
fn hash<T: Serialize>(plugins: &PluginSet, input: impl FnOnce() -> T) -> Option<String> {
    #[derive(Serialize)]
    struct Key<'a, T> {
        sbx: (u64, u64, u64, i64, i64),
        wit: &'a str,
        plugins: Vec<Plugin<'a>>,
        input: T,
    }
    #[derive(Serialize)]
    struct Plugin<'a> {
        sha256: &'a str,
        name: &'a str,
        mode: String,
        settings: &'a str,
        bounds: [u64; 3],
        may_weaken: &'a [Weakening],
    }
    if std::env::var_os("SBX_POLICY_CACHE").is_some_and(|v| v == "off") {
        return None;
    }
    let known = plugins.known()?;
    if known.iter().any(|k| k.hooks) || plugins.specs().iter().any(|s| !s.preopens.is_empty()) {
        return None;
    }
    // A rebuilt sbx may ask or apply differently: its own identity is part of the key.
    let exe = std::fs::metadata("/proc/self/exe").ok()?;
    let key = Key {
        sbx: (exe.dev(), exe.ino(), exe.size(), exe.mtime(), exe.mtime_nsec()),
        wit: WIT_VERSION,
        plugins: plugins
            .specs()
            .iter()
            .zip(known)
            .map(|(s, k)| Plugin {
                sha256: k.sha256.hex(),
                name: &s.name,
                mode: format!("{:?} {:?}", s.mode, s.on_error),
                settings: &s.settings,
                bounds: s.limits.call_bounds(),
                may_weaken: &s.may_weaken,
            })
            .collect(),
        input: input(),
    };
    Some(Digest::of(&serde_json::to_vec(&key).ok()?).hex().to_string())
}

/// Where a store keeps its decisions.
pub fn dir(store: &Store) -> PathBuf {
    store.root().join("plugins").join("decisions")
}

pub fn load(dir: &Path, key: &str) -> Option<Decision> {
    serde_json::from_slice(&std::fs::read(dir.join(format!("{key}.json"))).ok()?).ok()
}

/// Saves a decision (its spec already neutral) in `dir`; a cache that cannot be written only costs
/// the next run the plugins.
pub fn save(dir: &Path, key: &str, decision: &Decision) {
    let p = dir.join(format!("{key}.json"));
    if let Some(dir) = p.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = crate::image::store::write_atomic_unsynced(&p, &serde_json::to_vec(decision).expect("serializable"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::{Overrides, build};

    #[test]
    fn what_is_new_on_every_run_is_a_placeholder_in_the_cache() {
        let o = Overrides {
            cmd: vec!["sh".into()],
            volumes: vec!["/s/volumes/aaa/_data:/data".into(), "/s/volumes/named/_data:/n".into()],
            ..Default::default()
        };
        let spec = build("img", None, &o, "abc123", |_| None).unwrap();
        let fresh = ["aaa".to_string()];
        let n = neutral(&spec, Varying { hostname: Some("abc123"), volumes: &fresh });
        assert_eq!(n.hostname, DEFAULT_HOSTNAME);
        assert_eq!(get_env(&n.env, "HOSTNAME"), Some(DEFAULT_HOSTNAME));
        assert_eq!(n.mounts[0].source, "/s/volumes/{anonymous-volume-0}/_data");
        assert_eq!(n.mounts[1].source, "/s/volumes/named/_data", "a named volume is part of the key");
        let next = ["bbb".to_string()];
        let other = restore(n.clone(), Varying { hostname: Some("def456"), volumes: &next });
        assert_eq!((other.hostname.as_str(), get_env(&other.env, "HOSTNAME")), ("def456", Some("def456")));
        assert_eq!(other.mounts[0].source, "/s/volumes/bbb/_data");
        assert_eq!(neutral(&spec, Varying::default()), spec, "a hostname the user gave is part of the key");
    }
}
