//! `sbx system check`: is the store whole? Every image's config and layers present, no layer half
//! there, every container directory with its record and every record with its directory, and
//! nothing a killed sbx left behind (staging, a container half made or half removed, a stopped
//! container's cgroup, a mount of the store). Damage is what should never be seen, whatever was
//! killed when; leftovers are what a kill may leave and `--repair` removes. With `--repair`, damage
//! that only costs what is already lost goes too: an image whose layers are gone is removed, and
//! a layer that is not whole.

use crate::container::state::{self, ContainerRecord};
use crate::image::{Digest, Store};
use crate::isolate::cgroup;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The store is not whole: something that must never be seen.
    Damage,
    /// What a killed sbx leaves; harmless, and removed by `--repair`.
    Leftover,
}

/// How `--repair` deals with a problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fix {
    /// Remove this file or tree.
    Remove(PathBuf),
    /// Remove these cgroup directories.
    Cgroups(Vec<PathBuf>),
    /// Detach this mount.
    Unmount(PathBuf),
    /// Sweep the staging area (what no running sbx holds).
    Sweep,
    /// Nothing sbx may do without losing what the user has: say what to do.
    Tell(&'static str),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: Kind,
    pub what: String,
    pub fix: Fix,
}

fn damage(what: String, fix: Fix) -> Problem {
    Problem { kind: Kind::Damage, what, fix }
}

fn leftover(what: String, fix: Fix) -> Problem {
    Problem { kind: Kind::Leftover, what, fix }
}

fn entries(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> =
        std::fs::read_dir(dir).map(|d| d.flatten().map(|e| e.path()).collect()).unwrap_or_default();
    out.sort();
    out
}

fn name(p: &Path) -> String {
    p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// The problems of the layers: each must be whole (its metadata, index and tree) under its own
/// digest. Returns the whole ones.
fn layers(store: &Store, problems: &mut Vec<Problem>) -> Vec<Digest> {
    let mut whole = Vec::new();
    for dir in entries(&store.root().join("layers")) {
        let id = name(&dir);
        let why = match Digest::from_hex(&id) {
            Err(_) => Some("its name is not a digest".to_string()),
            Ok(digest) => match store.layer_meta(&digest) {
                Err(e) => Some(format!("its metadata cannot be read ({e})")),
                Ok(meta) if meta.diff_id != digest => Some(format!("its metadata names {}", meta.diff_id)),
                Ok(_) if let Err(e) = store.layer_index(&digest) => {
                    Some(format!("its entry index cannot be read ({e})"))
                }
                Ok(_) if !dir.join("diff").is_dir() => Some("its files are missing".into()),
                Ok(_) => {
                    whole.push(digest);
                    None
                }
            },
        };
        if let Some(why) = why {
            problems.push(damage(format!("layer {id} is not whole: {why}"), Fix::Remove(dir)));
        }
    }
    whole
}

fn images(store: &Store, whole: &[Digest], problems: &mut Vec<Problem>) {
    for path in entries(&store.root().join("images")) {
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let record: Result<crate::image::ImageRecord, _> = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()));
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                problems
                    .push(damage(format!("image record {} cannot be read: {e}", path.display()), Fix::Remove(path)));
                continue;
            }
        };
        let shown = record.names.first().cloned().unwrap_or_else(|| record.id.short().to_string());
        let missing: Vec<String> = record
            .layers
            .iter()
            .filter(|l| !whole.contains(&l.diff_id))
            .map(|l| l.diff_id.short().to_string())
            .collect();
        if !store.blob_path(&record.id).is_file() {
            problems
                .push(damage(format!("image {shown}: its config {} is missing", record.id.short()), Fix::Remove(path)));
        } else if !missing.is_empty() {
            let what = format!("image {shown}: layers {} are missing or not whole", missing.join(", "));
            problems.push(damage(what, Fix::Remove(path)));
        }
    }
}

fn containers(store: &Store, whole: &[Digest], problems: &mut Vec<Problem>) -> Vec<(PathBuf, ContainerRecord)> {
    let mut found = Vec::new();
    for dir in entries(&store.root().join("containers")) {
        let id = name(&dir);
        if id.starts_with(state::NEW) || id.starts_with(state::GONE) {
            let what = format!("container directory {id}, left by a create or rm that was stopped");
            problems.push(leftover(what, Fix::Remove(dir)));
            continue;
        }
        let Some(record) = ContainerRecord::load(&dir) else {
            problems.push(damage(format!("container directory {id} has no record"), Fix::Remove(dir)));
            continue;
        };
        if state::load_spec(&dir).is_none() {
            let what = format!("container {} has no spec", record.name);
            problems.push(damage(what, Fix::Tell("remove it with sbx rm -f and create it again")));
        }
        let gone: Vec<String> =
            record.layers.iter().filter(|l| !whole.contains(l)).map(|l| l.short().to_string()).collect();
        if !gone.is_empty() {
            let what = format!("container {} mounts layers that are missing: {}", record.name, gone.join(", "));
            problems.push(damage(what, Fix::Tell("remove it with sbx rm -f")));
        }
        if !state::is_running(&dir) {
            let left = cgroup::existing(&record.id);
            if !left.is_empty() {
                problems.push(leftover(format!("the cgroup of stopped container {}", record.name), Fix::Cgroups(left)));
            }
        }
        found.push((dir, record));
    }
    found
}

fn staging(store: &Store, problems: &mut Vec<Problem>) {
    for path in store.stale_staging() {
        let what = format!("staging {}, left by a load or commit that was stopped", name(&path));
        problems.push(leftover(what, Fix::Sweep));
    }
}

/// Mounts of this store seen here: a container's mounts live in its own mount namespace, so one
/// in sbx's is left over.
fn mounts(store: &Store, problems: &mut Vec<Problem>) {
    let root = store.root().to_string_lossy().into_owned();
    let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    for line in info.lines() {
        let Some(point) = line.split(' ').nth(4) else { continue };
        if point == root || point.starts_with(&format!("{root}/")) {
            problems.push(leftover(format!("a mount on {point}"), Fix::Unmount(point.into())));
        }
    }
}

/// Every problem of the store.
pub fn check(store: &Store) -> Vec<Problem> {
    let mut problems = Vec::new();
    let whole = layers(store, &mut problems);
    images(store, &whole, &mut problems);
    containers(store, &whole, &mut problems);
    staging(store, &mut problems);
    mounts(store, &mut problems);
    problems
}

/// Applies the fix of `problem`; Err says why it could not.
pub fn repair(store: &Store, problem: &Problem) -> Result<(), String> {
    match &problem.fix {
        Fix::Sweep => {
            store.sweep_staging();
            Ok(())
        }
        Fix::Remove(path) if path.is_dir() => crate::layer::fsops::remove_tree(path).map_err(|e| e.to_string()),
        Fix::Remove(path) => match std::fs::remove_file(path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
            _ => Ok(()),
        },
        Fix::Cgroups(dirs) => cgroup::remove_dirs(dirs.clone()).map_err(|e| e.to_string()),
        Fix::Unmount(point) => nix::mount::umount2(point, nix::mount::MntFlags::MNT_DETACH).map_err(|e| e.to_string()),
        Fix::Tell(what) => Err(format!("not repaired: {what}")),
    }
}
