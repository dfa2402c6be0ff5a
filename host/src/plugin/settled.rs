//! Settings a plugin accepted, remembered. A plugin's settings check (and the check of its exports'
//! types that precedes it) and what its policy then says it wants are functions of the component
//! and its settings: the same component given the same settings under the same limits answers the
//! same. A run that finds the answer here loads the plugin without asking it, and makes its first
//! instance only when a check it wants is called; for a Python or JavaScript plugin the calls and
//! the instance they need cost milliseconds. Only accepted settings are remembered (a refusal is
//! asked again, with its message), and never for a plugin granted directories: its check may read
//! them. The checks of a run are always asked.

use super::bindings::{EntryFilter, Interests, WIT_VERSION};
use crate::config::PluginSpec;
use crate::image::Digest;
use std::path::{Path, PathBuf};

/// Where the answer of `component` (its sha256) to `spec`'s settings is kept; None when it may not
/// be remembered.
pub fn entry(cache_dir: &Path, component: &Digest, spec: &PluginSpec) -> Option<PathBuf> {
    if !spec.preopens.is_empty() {
        return None;
    }
    // The JSON text of the array, as `serde_json::json!` made it, without building its Value.
    let input = (WIT_VERSION, component.hex(), &spec.settings, spec.limits.call_bounds());
    Some(cache_dir.join(format!("settled-{}", Digest::of(&serde_json::to_vec(&input).ok()?).hex())))
}

/// The interests remembered at `entry`; None when nothing is (or what is there does not parse).
pub fn lookup(entry: &Path) -> Option<Interests> {
    decode(&crate::image::store::read_small(entry).ok()?)
}

/// Remembers that the settings were accepted and what the plugin wants. A failed write only costs
/// a later run the calls.
pub fn remember(entry: &Path, wants: &Interests) {
    let _ = crate::image::store::write_atomic_unsynced(entry, encode(wants).as_bytes());
}

fn encode(w: &Interests) -> String {
    let entries = match w.entries {
        EntryFilter::All => "all".to_string(),
        EntryFilter::None => "none".to_string(),
        EntryFilter::WithMode(bits) => format!("mode:{bits}"),
    };
    let flag = |b: bool| u8::from(b);
    format!(
        "{} {} {} {} {entries}",
        flag(w.check_image),
        flag(w.check_layer),
        flag(w.mutate_spec),
        flag(w.validate_spec)
    )
}

fn decode(text: &str) -> Option<Interests> {
    let mut words = text.split_whitespace();
    let mut flag = || match words.next()? {
        "0" => Some(false),
        "1" => Some(true),
        _ => None,
    };
    let (check_image, check_layer, mutate_spec, validate_spec) = (flag()?, flag()?, flag()?, flag()?);
    let entries = match words.next()? {
        "all" => EntryFilter::All,
        "none" => EntryFilter::None,
        other => EntryFilter::WithMode(other.strip_prefix("mode:")?.parse().ok()?),
    };
    words.next().is_none().then_some(Interests { check_image, check_layer, mutate_spec, validate_spec, entries })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interests_read_back_as_written() {
        for entries in [EntryFilter::All, EntryFilter::None, EntryFilter::WithMode(0o6000)] {
            let w =
                Interests { check_image: true, check_layer: false, mutate_spec: true, validate_spec: false, entries };
            let back = decode(&encode(&w)).unwrap();
            assert_eq!(encode(&back), encode(&w));
        }
    }

    #[test]
    fn what_does_not_parse_is_not_remembered() {
        for bad in ["", "1 1 1", "1 1 1 2 all", "1 1 1 1 some", "1 1 1 1 mode:x", "1 1 1 1 all extra"] {
            assert!(decode(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn the_key_is_that_of_older_sbx() {
        let spec = PluginSpec::from_path(Path::new("/p.wasm"));
        let sha = Digest::of(b"component");
        let before = serde_json::json!([WIT_VERSION, sha.hex(), spec.settings, spec.limits.call_bounds()]);
        let name = format!("settled-{}", Digest::of(before.to_string().as_bytes()).hex());
        assert_eq!(entry(Path::new("/c"), &sha, &spec), Some(Path::new("/c").join(name)));
    }

    #[test]
    fn granted_directories_make_settings_unremembered() {
        let mut spec = PluginSpec::from_path(Path::new("/p.wasm"));
        let sha = Digest::of(b"component");
        let plain = entry(Path::new("/c"), &sha, &spec).unwrap();
        spec.settings = "{\"a\": 1}".into();
        assert_ne!(entry(Path::new("/c"), &sha, &spec).unwrap(), plain, "settings are part of the key");
        spec.preopens.push(crate::config::Preopen { host: "/tmp".into(), guest: None, mode: Default::default() });
        assert!(entry(Path::new("/c"), &sha, &spec).is_none());
    }
}
