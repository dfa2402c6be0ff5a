//! Named volumes: directories of the store that outlive the containers mounting them, as docker's
//! local driver keeps them. `volumes/NAME/_data` is what a container mounts (a bind mount of it);
//! `volumes/NAME/volume.json` says when it was made, its labels, and whether it is anonymous (made
//! for an image's VOLUME or `-v /path`, removed with its container by `rm -v` and `--rm`).
//!
//! A volume is made whole in a staging directory and renamed into place, and removed by a rename
//! into staging: a kill at any point leaves a whole volume, or nothing `sbx system check --repair`
//! (or the next staging sweep) does not remove. Which containers use a volume is the containers'
//! business (see `container::volumes`): this module knows only the store.

use crate::image::{Store, StoreError};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Volume {
    pub name: String,
    pub created: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub anonymous: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error(
        "'{0}' is not a valid volume name: use letters, digits, '_', '.' and '-', starting with a letter or digit, at least two characters"
    )]
    BadName(String),
    #[error("no such volume: {0} (see `sbx volume ls`)")]
    NotFound(String),
    #[error("volume {name} is in use by container {containers}: remove that container first")]
    InUse { name: String, containers: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl VolumeError {
    /// What the user asked for cannot be done (docker's exit 1), as against sbx failing (125).
    pub fn is_refusal(&self) -> bool {
        !matches!(self, VolumeError::Store(_))
    }
}

/// docker's rule for a local volume's name: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`. Pure.
pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && name.len() >= 2
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

fn dir(store: &Store) -> PathBuf {
    store.root().join("volumes")
}

/// The directory a container mounts for volume `name`.
pub fn data_dir(store: &Store, name: &str) -> PathBuf {
    dir(store).join(name).join("_data")
}

/// The volume whose data directory `source` (a bind mount's source) is, if it is one. Pure.
pub fn name_of(store_root: &Path, source: &str) -> Option<String> {
    let rest = Path::new(source).strip_prefix(store_root.join("volumes")).ok()?;
    let mut parts = rest.components();
    let name = parts.next()?.as_os_str().to_str()?;
    (parts.as_path() == Path::new("_data") && valid_name(name)).then(|| name.to_string())
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io { path: path.to_path_buf(), source }
}

/// The volume `name`, if the store has it.
pub fn get(store: &Store, name: &str) -> Result<Volume, VolumeError> {
    if !valid_name(name) {
        return Err(VolumeError::NotFound(name.to_string()));
    }
    let path = dir(store).join(name).join("volume.json");
    let text = match fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(VolumeError::NotFound(name.to_string())),
        other => other.map_err(io(&path))?,
    };
    serde_json::from_slice(&text).map_err(|e| StoreError::Damaged { path: path.clone(), message: e.to_string() }.into())
}

/// Every volume of the store, by name.
pub fn list(store: &Store) -> Vec<Volume> {
    let mut names: Vec<String> =
        fs::read_dir(dir(store)).into_iter().flatten().filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    names.sort();
    names.iter().filter_map(|n| get(store, n).ok()).collect()
}

/// Makes volume `name` (an empty `_data`, 0755 root's, as docker's), or finds it if it exists.
/// Returns the volume and whether this call made it.
pub fn create(
    store: &Store,
    name: &str,
    labels: BTreeMap<String, String>,
    anonymous: bool,
) -> Result<(Volume, bool), VolumeError> {
    if !valid_name(name) {
        return Err(VolumeError::BadName(name.to_string()));
    }
    match get(store, name) {
        Err(VolumeError::NotFound(_)) => {}
        found => return found.map(|v| (v, false)),
    }
    let parent = dir(store);
    fs::DirBuilder::new().mode(0o700).recursive(true).create(&parent).map_err(io(&parent))?;
    let mut staging = store.stage()?;
    let data = staging.path().join("_data");
    fs::DirBuilder::new().mode(0o755).create(&data).map_err(io(&data))?;
    fs::set_permissions(&data, std::os::unix::fs::PermissionsExt::from_mode(0o755)).map_err(io(&data))?;
    let volume = Volume { name: name.to_string(), created: crate::time::now_rfc3339(), labels, anonymous };
    let meta = staging.path().join("volume.json");
    let json = serde_json::to_vec_pretty(&volume).expect("a volume serializes");
    crate::image::store::write_atomic(&meta, &json)?;
    let dest = parent.join(name);
    match staging.place(&dest) {
        Ok(()) => {
            journal(store, "create", name);
            Ok((volume, true))
        }
        // Made meanwhile by another sbx: that one is the volume.
        Err(e) if dest.exists() => get(store, name).map(|v| (v, false)).map_err(|_| io(&dest)(e).into()),
        Err(e) => Err(io(&dest)(e).into()),
    }
}

/// Removes volume `name` and its data (whoever uses it: the caller checks).
pub fn remove(store: &Store, name: &str) -> Result<(), VolumeError> {
    get(store, name)?;
    let staging = store.stage()?;
    let path = dir(store).join(name);
    // Out of every listing at once; the files go with the staging directory.
    fs::rename(&path, staging.path().join("volume")).map_err(io(&path))?;
    drop(staging);
    journal(store, "destroy", name);
    Ok(())
}

fn journal(store: &Store, action: &str, name: &str) {
    crate::journal::record(store.root(), &crate::journal::Event::new("volume", action, name, &[("driver", "local")]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_dockers_rule() {
        for ok in ["db", "my-vol_1.2", "0a"] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "a", "-x", ".x", "a/b", "..", "a b", "ü1"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn a_volume_is_known_by_its_data_directory_only() {
        let root = Path::new("/var/lib/sbx");
        assert_eq!(name_of(root, "/var/lib/sbx/volumes/db/_data"), Some("db".into()));
        assert_eq!(name_of(root, "/var/lib/sbx/volumes/db"), None);
        assert_eq!(name_of(root, "/var/lib/sbx/volumes/db/_data/sub"), None);
        assert_eq!(name_of(root, "/srv/volumes/db/_data"), None);
        assert_eq!(name_of(root, "/var/lib/sbx/volumes/../x/_data"), None);
    }

    #[test]
    fn create_makes_once_and_remove_takes_it_all() {
        let tmp = tempfile::tempdir().unwrap();
        let store = Store::open(tmp.path()).unwrap();
        let (v, made) = create(&store, "data", BTreeMap::new(), false).unwrap();
        assert!(made && !v.anonymous);
        fs::write(data_dir(&store, "data").join("f"), b"x").unwrap();
        let (again, made) = create(&store, "data", BTreeMap::new(), true).unwrap();
        assert!(!made && again == v, "an existing volume is found, not made again");
        assert_eq!(list(&store).iter().map(|v| v.name.as_str()).collect::<Vec<_>>(), ["data"]);
        remove(&store, "data").unwrap();
        assert!(list(&store).is_empty() && !dir(&store).join("data").exists());
        assert!(matches!(remove(&store, "data"), Err(VolumeError::NotFound(_))));
        assert!(matches!(create(&store, "a/b", BTreeMap::new(), false), Err(VolumeError::BadName(_))));
        assert!(fs::read_dir(tmp.path().join("tmp")).unwrap().next().is_none(), "no staging left");
    }
}
