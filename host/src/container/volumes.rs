//! A container's volumes: what its `-v` and `--mount` flags and its image's VOLUME entries ask for,
//! made in the store when it is created (after the policies allowed it, under the store lock, so
//! `volume rm` sees the container that uses them), filled from the image when new, as docker fills
//! them, and removed with the container when anonymous (`rm -v`, `--rm`).
//!
//! A volume reaches the spec, and the policies, as a bind mount of its data directory in the store
//! (`<root>/volumes/NAME/_data`): the plugin interface has no volume kind of mount yet.

use super::commit::write_merged_at;
use super::error::RunError;
use super::export::View;
use super::state;
use crate::image::Store;
use crate::spec::volume_flag::{VolumeArg, volume_arg};
use crate::spec::{self, ContainerSpec, MountKind, Overrides, SpecError, Userns};
use crate::volume::{self, VolumeError};
use std::collections::{BTreeMap, BTreeSet};
use std::os::fd::OwnedFd;
use std::path::Path;

/// A volume a container's flags or image ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub name: String,
    pub anonymous: bool,
    /// Filled from the image's content at its destination when it is made (not `nocopy`).
    pub copy: bool,
}

/// The `-v` arguments (and `--mount`s, already in that form) with each volume as a bind mount of
/// its data directory (`data_dir`), followed by an anonymous volume for each of the image's VOLUME
/// paths that nothing else mounts (named by `fresh`). Pure.
pub fn plan(
    volumes: &[String],
    tmpfs: &[String],
    image_volumes: &[String],
    data_dir: impl Fn(&str) -> String,
    mut fresh: impl FnMut() -> String,
) -> Result<(Vec<String>, Vec<Planned>), SpecError> {
    let (mut binds, mut planned) = (Vec::new(), Vec::new());
    let mut covered: BTreeSet<String> = tmpfs.iter().map(|t| t.split(':').next().unwrap_or(t)).map(trim).collect();
    let mut add = |p: Planned, destination: &str, read_only: bool, binds: &mut Vec<String>| {
        binds.push(format!("{}:{destination}{}", data_dir(&p.name), if read_only { ":ro" } else { "" }));
        planned.push(p);
    };
    for v in volumes {
        match volume_arg(v)? {
            VolumeArg::Host(h) => {
                covered.insert(trim(h.split(':').nth(1).unwrap_or_default()));
                binds.push(h);
            }
            VolumeArg::Named { name, destination, read_only, copy } => {
                covered.insert(destination.clone());
                add(Planned { name, anonymous: false, copy }, &destination, read_only, &mut binds);
            }
            VolumeArg::Anonymous { destination, read_only, copy } => {
                covered.insert(destination.clone());
                add(Planned { name: fresh(), anonymous: true, copy }, &destination, read_only, &mut binds);
            }
        }
    }
    for path in image_volumes {
        let destination = spec::check_destination(path)?;
        if covered.insert(destination.clone()) {
            add(Planned { name: fresh(), anonymous: true, copy: true }, &destination, false, &mut binds);
        }
    }
    Ok((binds, planned))
}

fn trim(path: &str) -> String {
    path.trim_end_matches('/').to_string()
}

/// [`plan`] for a container of this store: the overrides to build its spec from, and its volumes.
/// A container with its own ids (`--userns=auto`) gets none: their files would not be its ids'
/// (its image's VOLUME paths stay in its writable layer).
pub fn prepare(
    store: &Store,
    o: &Overrides,
    config: Option<&oci_spec::image::Config>,
) -> Result<(Overrides, Vec<Planned>), SpecError> {
    let auto = o.userns == Userns::Auto;
    // In the order of their paths (the config's is a JSON object's), so that which of two
    // volumes that meet through an image's symlink is on top does not change from run to run.
    let mut image_volumes = match config.and_then(|c| c.volumes().clone()) {
        Some(v) if !auto => v,
        _ => Vec::new(),
    };
    image_volumes.sort();
    let data_dir = |name: &str| volume::data_dir(store, name).to_string_lossy().into_owned();
    let (volumes, planned) = plan(&o.volumes, &o.tmpfs, &image_volumes, data_dir, || crate::random::hex(32))?;
    if auto && let Some(p) = planned.first() {
        return Err(SpecError::VolumeWithUserns(p.name.clone()));
    }
    Ok((Overrides { volumes, ..o.clone() }, planned))
}

/// The volumes of `spec`, by name, with where they are mounted.
pub fn of_spec<'a>(store: &Store, spec: &'a ContainerSpec) -> Vec<(String, &'a str)> {
    spec.mounts
        .iter()
        .filter(|m| m.kind == MountKind::Bind)
        .filter_map(|m| Some((volume::name_of(store.root(), &m.source)?, m.destination.as_str())))
        .collect()
}

/// The volumes a create made: removed when dropped unless kept (a create that fails after them).
pub struct Made<'a> {
    store: &'a Store,
    /// (name, destination, fill from the image).
    made: Vec<(String, String, bool)>,
}

impl Made<'_> {
    pub fn keep(mut self) {
        self.made.clear();
    }
}

impl Drop for Made<'_> {
    fn drop(&mut self) {
        for (name, _, _) in &self.made {
            let _ = volume::remove(self.store, name);
        }
    }
}

/// Makes the volumes the final `spec` mounts that the store lacks (call under the store lock).
/// One a policy added is made as named and not filled.
pub fn make<'a>(store: &'a Store, spec: &ContainerSpec, planned: &[Planned]) -> Result<Made<'a>, VolumeError> {
    let mut made = Made { store, made: Vec::new() };
    for (name, destination) in of_spec(store, spec) {
        let p = planned.iter().find(|p| p.name == name);
        let (_, new) = volume::create(store, &name, BTreeMap::new(), p.is_some_and(|p| p.anonymous))?;
        if new {
            made.made.push((name, destination.to_string(), p.is_some_and(|p| p.copy)));
        }
    }
    Ok(made)
}

/// Fills each new volume of `made` from what the image of container `id` has at its destination,
/// in a process of sbx's own (the image is mounted in a mount namespace that goes with it).
pub fn fill(store: &Store, id: &str, made: &Made) -> Result<(), RunError> {
    for (name, destination, _) in made.made.iter().filter(|(_, _, copy)| *copy) {
        let fail =
            |message: String| RunError::VolumeFill { name: name.clone(), destination: destination.clone(), message };
        let exe = std::env::current_exe().map_err(|e| fail(format!("cannot find sbx itself: {e}")))?;
        let out = std::process::Command::new(exe)
            .arg("--root")
            .arg(store.root())
            .args(["_fill-volume", id, name, destination])
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| fail(e.to_string()))?;
        if !out.status.success() {
            let text = String::from_utf8_lossy(&out.stderr);
            return Err(fail(text.trim().trim_start_matches("sbx: ").to_string()));
        }
    }
    Ok(())
}

/// `_fill-volume`: copies what container `id`'s image has at `destination` (followed as a path
/// of the container, never out of its root) into volume `name`, which must be empty, with its
/// owner and mode, as docker fills a new volume. Nothing there, or not a directory: nothing to copy.
/// Call it while sbx is single-threaded.
pub fn fill_from_image(store: &Store, id: &str, name: &str, destination: &str) -> Result<(), String> {
    use rustix::fs::{Mode, OFlags, ResolveFlags};
    let (dir, record) = state::find(store, id).map_err(|e| e.to_string())?;
    let view = View::mount(store, &dir, &record).map_err(|e| e.to_string())?;
    let root = rustix::fs::open(view.path(), OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| format!("{}: {e}", view.path().display()))?;
    let how = ResolveFlags::IN_ROOT | ResolveFlags::NO_MAGICLINKS;
    let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let src: OwnedFd = match rustix::fs::openat2(&root, destination.trim_start_matches('/'), flags, Mode::empty(), how)
    {
        Ok(fd) => fd,
        Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => return Ok(()),
        Err(e) => return Err(format!("{destination} in the image: {e}")),
    };
    let st = rustix::fs::fstat(&src).map_err(|e| e.to_string())?;
    let data = volume::data_dir(store, name);
    let staging = store.stage().map_err(|e| e.to_string())?;
    let index = staging.path().join(crate::layer::index::FILE);
    let (read, write) = std::io::pipe().map_err(|e| e.to_string())?;
    let limit = store.layer_limits.entries;
    std::thread::scope(|s| {
        let writer = s.spawn(move || write_merged_at(src, None, write));
        let unpacked = crate::layer::unpack(read, &data, &index, limit).map_err(|e| e.to_string());
        let written = writer.join().map_err(|_| "the copy's writer panicked".to_string())?;
        unpacked?;
        written.map_err(|e| format!("reading {destination}: {e}"))
    })?;
    std::os::unix::fs::lchown(&data, Some(st.st_uid), Some(st.st_gid)).map_err(|e| e.to_string())?;
    let mode: std::fs::Permissions = std::os::unix::fs::PermissionsExt::from_mode(st.st_mode & 0o7777);
    std::fs::set_permissions(&data, mode).map_err(|e| e.to_string())
}

/// Which containers mount each volume, by volume name.
pub fn users(store: &Store) -> BTreeMap<String, Vec<String>> {
    let mut users: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (dir, record) in state::list(store) {
        let Some(spec) = state::load_spec(&dir) else { continue };
        for (name, _) in of_spec(store, &spec) {
            users.entry(name).or_default().push(record.name.clone());
        }
    }
    users
}

/// Removes volume `name` unless a container uses it (call under the store lock).
pub fn remove_unused(store: &Store, users: &BTreeMap<String, Vec<String>>, name: &str) -> Result<(), VolumeError> {
    match users.get(name) {
        Some(names) => Err(VolumeError::InUse { name: name.to_string(), containers: names.join(", ") }),
        None => volume::remove(store, name),
    }
}

/// The anonymous volumes among `names` (those of a container being removed).
pub fn anonymous(store: &Store, spec: &ContainerSpec) -> Vec<String> {
    of_spec(store, spec)
        .into_iter()
        .map(|(n, _)| n)
        .filter(|n| volume::get(store, n).is_ok_and(|v| v.anonymous))
        .collect()
}

/// Removes the anonymous volumes `names` of a container that is gone, but not one another
/// container mounts too; a failure is a warning (the container is gone already).
pub fn remove_anonymous(store: &Store, names: &[String]) {
    if names.is_empty() {
        return;
    }
    let _lock = store.lock();
    let users = users(store);
    for name in names {
        match remove_unused(store, &users, name) {
            Ok(()) | Err(VolumeError::InUse { .. }) | Err(VolumeError::NotFound(_)) => {}
            Err(e) => eprintln!("sbx: warning: volume {name}: {e}"),
        }
    }
}

/// A `--rm` container's anonymous volumes, removed when dropped (after its directory).
pub struct AnonymousOnDrop<'a>(pub Option<(&'a Store, Vec<String>)>);

impl Drop for AnonymousOnDrop<'_> {
    fn drop(&mut self) {
        if let Some((store, names)) = &self.0 {
            remove_anonymous(store, names);
        }
    }
}

/// Whether `path` is a volume's data directory in `store` (a bind source made at create).
pub fn is_volume(store: &Store, path: &Path) -> bool {
    volume::name_of(store.root(), &path.to_string_lossy()).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_plan(volumes: &[&str], tmpfs: &[&str], image: &[&str]) -> Result<(Vec<String>, Vec<Planned>), SpecError> {
        let own = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut n = 0;
        plan(
            &own(volumes),
            &own(tmpfs),
            &own(image),
            |name| format!("/s/volumes/{name}/_data"),
            || {
                n += 1;
                format!("anon{n}")
            },
        )
    }

    #[test]
    fn volumes_become_binds_of_their_data_and_the_image_volumes_not_mounted_otherwise_are_anonymous() {
        let (binds, planned) = run_plan(
            &["/srv:/srv", "db:/var/lib/db:ro,nocopy", "/cache"],
            &["/tmp"],
            &["/data", "/var/lib/db/", "/tmp"],
        )
        .unwrap();
        assert_eq!(
            binds,
            [
                "/srv:/srv",
                "/s/volumes/db/_data:/var/lib/db:ro",
                "/s/volumes/anon1/_data:/cache",
                "/s/volumes/anon2/_data:/data"
            ]
        );
        let p = |name: &str, anonymous, copy| Planned { name: name.into(), anonymous, copy };
        assert_eq!(planned, [p("db", false, false), p("anon1", true, true), p("anon2", true, true)]);
        assert!(run_plan(&[], &[], &["relative"]).is_err(), "an image's VOLUME must be absolute");
        assert!(run_plan(&["bad name:/d"], &[], &[]).is_err());
    }
}
