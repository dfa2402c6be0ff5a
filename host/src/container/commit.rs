//! `sbx commit`: a container's writable layer becomes a new image layer on top of the layers it
//! mounts: the layer is written as an OCI tarball (deletions as `.wh.` files, opaque directories as
//! `.wh..wh..opq`), unpacked into the store like any loaded layer, and the image's config gets its
//! diff id, a history step, and the container's command and environment. The policies check the
//! new image and its layers before it is stored. The writable layer is read without following
//! symlinks.

use super::admission;
use super::error::RunError;
use super::etc_files;
use super::init_layer;
use super::state::{self, ContainerRecord};
use crate::image::digest::Hashing;
use crate::image::reference;
use crate::image::store::{LayerMeta, LayerRef};
use crate::image::{Digest, ImageRecord, Store};
use crate::isolate::userns::IdMap;
use crate::layer::{self, fsops};
use crate::plugin::PluginSet;
use crate::spec::ContainerSpec;
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{Mode, SFlag, fstatat};
use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

fn io(e: Errno) -> std::io::Error {
    std::io::Error::from_raw_os_error(e as i32)
}

/// A running container changed `path` between the listing of its directory and its reading.
fn changed(path: &str) -> std::io::Error {
    std::io::Error::other(format!(
        "/{path} changed while it was read; commit the container when it is stopped, or try again"
    ))
}

/// What an error met on `path` of a running container's layer means: gone since its directory was
/// listed (skipped: it is not part of the layer any more), replaced, or a real error.
fn vanished(path: &str, e: Errno) -> Result<(), std::io::Error> {
    match e {
        Errno::ENOENT => Ok(()),
        Errno::ENOTDIR | Errno::ELOOP | Errno::EINVAL => Err(changed(path)),
        e => Err(io(e)),
    }
}

/// How a tree is read: the owners of a container with its own ids are host ids of its range,
/// written back as the container's; overlayfs marked its opaque directories with the `user.`
/// xattr there.
#[derive(Clone, Copy)]
struct Upper<'a> {
    map: Option<&'a IdMap>,
    tree: Tree,
    copy: CopyAs<'a>,
}

/// Asked of each entry of a copy, with the path written and whether it is a directory: true
/// leaves it out.
pub type Exclude<'a> = dyn Fn(&str, bool) -> bool + Sync + 'a;

/// How a copy (`sbx cp`, a build's COPY) writes what it copies.
#[derive(Clone, Copy, Default)]
pub struct CopyAs<'a> {
    /// Every entry's owner, instead of the files' own (`sbx cp` without `-a`, `COPY --chown`).
    pub owner: Option<(u32, u32)>,
    /// Every entry's permission bits (`COPY --chmod`).
    pub mode: Option<u32>,
    /// Entries left out (`.dockerignore`), asked with the path written and whether it is a
    /// directory (one left out goes with what is below it).
    pub exclude: Option<&'a Exclude<'a>>,
    /// Every entry's modification time, instead of the files' own (the build cache's digest of
    /// what a COPY copies: as docker's, it does not change when only times do).
    pub mtime: Option<u64>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tree {
    /// A writable layer (`commit`): an id outside the range is written as nobody, as the container
    /// saw it; the mount points at its top (made there by older sbx) are left out.
    Writable,
    /// A container's merged filesystem (`export`): ids outside the range are the image layers'
    /// own (they are not idmapped) and stay; the mount points are its directories.
    Merged,
    /// What `sbx cp` copies: a char device 0/0 is one (not a whiteout); no opaque markers.
    Copy,
}

const NOBODY: u32 = 65534;

impl Upper<'_> {
    fn owners(&self, st: &nix::sys::stat::FileStat) -> (u32, u32) {
        if let Some(owner) = self.copy.owner {
            return owner;
        }
        let Some(m) = self.map else { return (st.st_uid, st.st_gid) };
        let or = |id: Option<u32>, host: u32| id.unwrap_or(if self.tree == Tree::Merged { host } else { NOBODY });
        (or(m.container_uid(st.st_uid), st.st_uid), or(m.container_gid(st.st_gid), st.st_gid))
    }

    fn opaque_xattr(&self) -> &'static std::ffi::CStr {
        if self.map.is_some() { c"user.overlay.opaque" } else { c"trusted.overlay.opaque" }
    }

    fn header(&self, kind: tar::EntryType, st: &nix::sys::stat::FileStat, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_mode(self.copy.mode.unwrap_or(st.st_mode & 0o7777));
        let (uid, gid) = self.owners(st);
        h.set_uid(u64::from(uid));
        h.set_gid(u64::from(gid));
        h.set_mtime(self.copy.mtime.unwrap_or(st.st_mtime.max(0) as u64));
        h.set_size(size);
        h
    }
}

/// Appends the tree of the open directory `fd` (as `prefix`) to `tar`, without following links.
fn append_dir<W: Write>(tar: &mut tar::Builder<W>, upper: Upper, fd: OwnedFd, prefix: &str) -> std::io::Result<()> {
    let mut dir = Dir::from_fd(fd).map_err(io)?;
    // The directory's descriptor for the *at calls, beside the listing that holds the original.
    let at_fd = dir.as_fd().try_clone_to_owned()?;
    let at = at_fd.as_fd();
    let mut names: Vec<std::ffi::CString> = dir
        .iter()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    names.sort();
    for name in names {
        let text = name.to_string_lossy().into_owned();
        if upper.tree == Tree::Writable && prefix.is_empty() && init_layer::is_mount_point(&text) {
            continue;
        }
        append_entry(tar, upper, at, &name, &format!("{prefix}{text}"))?;
    }
    Ok(())
}

/// Appends entry `name` of the open directory `at` to `tar` as `path` (with what is below it, for
/// a directory), without following it if it is a link.
fn append_entry<W: Write>(
    tar: &mut tar::Builder<W>,
    upper: Upper,
    at: std::os::fd::BorrowedFd,
    name: &std::ffi::CStr,
    path: &str,
) -> std::io::Result<()> {
    let st = match fstatat(at, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => st,
        Err(e) => return vanished(path, e),
    };
    let fmt = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    if let Some(exclude) = upper.copy.exclude
        && exclude(path, fmt == SFlag::S_IFDIR)
    {
        return Ok(());
    }
    match fmt {
        SFlag::S_IFDIR => {
            let sub = match fsops::open_subdir(at, std::ffi::OsStr::from_bytes(name.to_bytes())) {
                Ok(fd) => fd,
                Err(e) => return vanished(path, e),
            };
            tar.append_data(
                &mut upper.header(tar::EntryType::Directory, &st, 0),
                format!("{path}/"),
                std::io::empty(),
            )?;
            let mut opaque = [0u8; 1];
            let n = rustix::fs::fgetxattr(&sub, upper.opaque_xattr(), &mut opaque);
            if upper.tree != Tree::Copy && n == Ok(1) && opaque[0] == b'y' {
                tar.append_data(
                    &mut upper.header(tar::EntryType::Regular, &st, 0),
                    format!("{path}/.wh..wh..opq"),
                    std::io::empty(),
                )?;
            }
            append_dir(tar, upper, sub, &format!("{path}/"))?;
        }
        SFlag::S_IFCHR if st.st_rdev == 0 && upper.tree != Tree::Copy => {
            let wh = match path.rsplit_once('/') {
                Some((dir, base)) => format!("{dir}/.wh.{base}"),
                None => format!(".wh.{path}"),
            };
            tar.append_data(&mut upper.header(tar::EntryType::Regular, &st, 0), wh, std::io::empty())?;
        }
        SFlag::S_IFREG => {
            // A running container may swap the file for a FIFO (which would block) or change
            // its size meanwhile: what was opened is checked, and exactly its size is taken.
            let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC;
            let file = match openat(at, name, flags, Mode::empty()) {
                Ok(fd) => File::from(fd),
                Err(e) => return vanished(path, e),
            };
            let st = nix::sys::stat::fstat(&file).map_err(io)?;
            if SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) != SFlag::S_IFREG {
                return Err(changed(path));
            }
            let size = st.st_size as u64;
            // The mount point of the container's own /etc/hosts (...), made empty for it.
            if upper.tree == Tree::Writable && size == 0 && etc_files::is_mount_point(path) {
                return Ok(());
            }
            let data = std::io::Read::chain(file, std::io::repeat(0));
            tar.append_data(&mut upper.header(tar::EntryType::Regular, &st, size), path, data.take(size))?;
        }
        SFlag::S_IFLNK => {
            let target = match nix::fcntl::readlinkat(at, name) {
                Ok(t) => t,
                Err(e) => return vanished(path, e),
            };
            let mut h = upper.header(tar::EntryType::Symlink, &st, 0);
            tar.append_link(&mut h, path, target)?;
        }
        SFlag::S_IFCHR | SFlag::S_IFBLK | SFlag::S_IFIFO => {
            let kind = match fmt {
                SFlag::S_IFCHR => tar::EntryType::Char,
                SFlag::S_IFBLK => tar::EntryType::Block,
                _ => tar::EntryType::Fifo,
            };
            let mut h = upper.header(kind, &st, 0);
            h.set_device_major(nix::sys::stat::major(st.st_rdev) as u32)?;
            h.set_device_minor(nix::sys::stat::minor(st.st_rdev) as u32)?;
            tar.append_data(&mut h, path, std::io::empty())?;
        }
        // Sockets do not go into images.
        _ => {}
    }
    Ok(())
}

/// Writes the writable layer `upper` as an OCI layer tarball to `out`; `idmap` is the container's
/// range when it has ids of its own.
pub fn write_layer(upper: &Path, idmap: Option<&IdMap>, out: impl Write) -> std::io::Result<()> {
    write_tree(open_root(upper)?, Upper { map: idmap, tree: Tree::Writable, copy: CopyAs::default() }, out)
}

/// Writes the merged tree of a container mounted at `merged` as a tarball to `out` (`sbx export`);
/// `idmap` is the container's range when it has ids of its own.
pub fn write_merged(merged: &Path, idmap: Option<&IdMap>, out: impl Write) -> std::io::Result<()> {
    write_merged_at(open_root(merged)?, idmap, out)
}

/// [`write_merged`] of the open directory `dir` of a merged tree: what is below it, as paths
/// relative to it.
pub fn write_merged_at(dir: OwnedFd, idmap: Option<&IdMap>, out: impl Write) -> std::io::Result<()> {
    write_tree(dir, Upper { map: idmap, tree: Tree::Merged, copy: CopyAs::default() }, out)
}

/// What `sbx cp` sends: entry `item` of the open directory `dir` as `top` (and what is below it),
/// or with no item, what `dir` holds, under `top/` when `top` is not empty. Links are copied as
/// links; `copy` says whose entries are and what is left out.
pub fn write_copy(
    dir: OwnedFd,
    item: Option<&std::ffi::CStr>,
    top: &str,
    copy: CopyAs,
    out: impl Write,
) -> std::io::Result<()> {
    let how = Upper { map: None, tree: Tree::Copy, copy };
    let mut tar = tar::Builder::new(out);
    match item {
        Some(name) => append_entry(&mut tar, how, dir.as_fd(), name, top)?,
        None if top.is_empty() => append_dir(&mut tar, how, dir, "")?,
        None => {
            let st = nix::sys::stat::fstat(&dir).map_err(io)?;
            tar.append_data(&mut how.header(tar::EntryType::Directory, &st, 0), format!("{top}/"), std::io::empty())?;
            append_dir(&mut tar, how, dir, &format!("{top}/"))?;
        }
    }
    tar.into_inner()?.flush()
}

fn open_root(dir: &Path) -> std::io::Result<OwnedFd> {
    nix::fcntl::open(dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()).map_err(io)
}

fn write_tree(root: OwnedFd, how: Upper, out: impl Write) -> std::io::Result<()> {
    let mut tar = tar::Builder::new(out);
    append_dir(&mut tar, how, root, "")?;
    tar.into_inner()?.flush()
}

/// A running container frozen while its writable layer is read, so the layer is one moment's;
/// thawed when dropped. None for a container that does not run, has no cgroup (rootless) or is
/// paused already (it stays so).
struct Paused(Vec<std::path::PathBuf>);

impl Paused {
    fn freeze(id: &str, running: bool) -> Option<Paused> {
        use crate::isolate::cgroup;
        let dirs = cgroup::existing(id);
        if !running || dirs.is_empty() || cgroup::frozen(&dirs) {
            return None;
        }
        cgroup::set_frozen(&dirs, true).ok().map(|()| Paused(dirs))
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        let _ = crate::isolate::cgroup::set_frozen(&self.0, false);
    }
}

/// Stores the layer tarball that `write` writes (to a file of the store's staging area): unpacked
/// into the store with the checks of any loaded layer while its digest is taken, the tarball kept
/// as its blob. `what` names its source in errors. Returns it as an image's layer.
pub fn store_layer(
    store: &Store,
    what: &str,
    write: impl FnOnce(BufWriter<File>) -> std::io::Result<()>,
) -> Result<LayerRef, RunError> {
    let fail = |message: String| RunError::Layer { what: what.to_string(), message };
    let staging = store.stage()?;
    let tar_path = staging.path().join("layer.tar");
    let out = File::create(&tar_path).map_err(|e| fail(e.to_string()))?;
    write(BufWriter::new(out)).map_err(|e| fail(e.to_string()))?;
    let size = std::fs::metadata(&tar_path).map_err(|e| fail(e.to_string()))?.len();
    let layer_staging = store.stage_layer()?;
    let mut reader = Hashing::new(File::open(&tar_path).map_err(|e| fail(e.to_string()))?);
    let index = Store::staged_index(&layer_staging);
    let report = layer::unpack(&mut reader, &layer_staging.path().join("diff"), &index, store.layer_limits.entries)
        .map_err(|e| fail(e.to_string()))?;
    let (diff_id, _) = reader.finish().map_err(|e| fail(e.to_string()))?;
    store.keep_blob(&tar_path, &diff_id)?;
    if !store.has_layer(&diff_id) {
        let meta = LayerMeta {
            diff_id: diff_id.clone(),
            unpacked_size: report.unpacked_size,
            entries: report.entries,
            blob: Some(diff_id.clone()),
        };
        store.commit_layer(layer_staging, &meta)?;
    }
    Ok(LayerRef { digest: diff_id.clone(), diff_id, media_type: "application/vnd.oci.image.layer.v1.tar".into(), size })
}

/// What `commit` adds beyond the layer: docker's `-m`, `-a`, `-c` and `-p`.
#[derive(Debug, Default)]
pub struct CommitOptions {
    /// The new image's name.
    pub name: Option<String>,
    /// `-m`: the history step's comment.
    pub message: Option<String>,
    /// `-a`: the image's author.
    pub author: Option<String>,
    /// `-c`: Dockerfile instructions applied to its config (see [`super::changes`]).
    pub changes: Vec<String>,
    /// `-p`: freeze a running container while its layer is read (docker's default).
    pub pause: bool,
}

/// The new image's config: the base's, with the layers the container mounts plus the new one, a
/// history step, the container's command and environment, then the options' changes.
fn new_config(
    base: &[u8],
    diff_ids: &[Digest],
    spec: &ContainerSpec,
    how: &str,
    opts: &CommitOptions,
) -> Result<Vec<u8>, String> {
    let mut c: serde_json::Value = serde_json::from_slice(base).map_err(|e| e.to_string())?;
    let now = crate::time::now_rfc3339();
    c["created"] = now.clone().into();
    c["rootfs"] = serde_json::json!({ "type": "layers", "diff_ids": diff_ids.iter().map(ToString::to_string).collect::<Vec<_>>() });
    let mut step = serde_json::json!({ "created": now, "created_by": how });
    if let Some(m) = &opts.message {
        step["comment"] = m.clone().into();
    }
    if let Some(a) = &opts.author {
        step["author"] = a.clone().into();
        c["author"] = a.clone().into();
    }
    match c["history"].as_array_mut() {
        Some(h) => h.push(step),
        None => c["history"] = serde_json::json!([step]),
    }
    let env: Vec<&String> = spec.env.iter().filter(|e| !e.starts_with("HOSTNAME=")).collect();
    if !c["config"].is_object() {
        c["config"] = serde_json::json!({});
    }
    c["config"]["Cmd"] = serde_json::json!(spec.args);
    c["config"]["Entrypoint"] = serde_json::Value::Null;
    c["config"]["Env"] = serde_json::json!(env);
    c["config"]["User"] = if spec.user.is_empty() { serde_json::Value::Null } else { spec.user.clone().into() };
    super::changes::apply(&mut c["config"], &opts.changes)?;
    serde_json::to_vec(&c).map_err(|e| e.to_string())
}

/// Commits the container `query` names as a new image, as `opts` say; returns it.
pub fn commit(store: &Store, query: &str, opts: &CommitOptions, plugins: &PluginSet) -> Result<ImageRecord, RunError> {
    let name = opts.name.as_deref();
    let (dir, record): (_, ContainerRecord) = state::find(store, query)?;
    let spec = state::load_spec(&dir).ok_or_else(|| RunError::NoSpec(record.name.clone()))?;
    let base = store.find_image(record.image_id.hex())?;
    // The changes are checked before any work (they are applied to the config at the end).
    super::changes::apply(&mut serde_json::json!({}), &opts.changes).map_err(RunError::BadChange)?;
    let names = match name {
        Some(n) => vec![
            reference::normalize_name(n).map_err(|e| RunError::Config { image: n.into(), message: e.to_string() })?,
        ],
        None => Vec::new(),
    };
    let paused = opts.pause.then(|| Paused::freeze(&record.id, state::is_running(&dir))).flatten();
    let layer = store_layer(store, &record.name, |out| {
        let written = write_layer(&dir.join("upper"), record.idmap.as_ref(), out);
        drop(paused);
        written
    })?;

    let mut layers: Vec<LayerRef> = record
        .mounted_layers(store)?
        .iter()
        .filter_map(|d| base.layers.iter().find(|l| l.diff_id == *d).cloned())
        .collect();
    layers.push(layer);
    let diff_ids: Vec<Digest> = layers.iter().map(|l| l.diff_id.clone()).collect();
    let how = format!("sbx commit {}", record.name);
    let config_bytes = new_config(&store.blob(&base.id)?, &diff_ids, &spec, &how, opts)
        .map_err(|message| RunError::Config { image: base.id.to_string(), message })?;
    let id = store.put_blob(&config_bytes)?;
    let unpacked: u64 = diff_ids.iter().filter_map(|d| store.layer_meta(d).ok()).map(|m| m.unpacked_size).sum();
    let image = ImageRecord {
        id,
        names,
        manifest_digest: None,
        layers,
        created: Some(crate::time::now_rfc3339()),
        size: unpacked,
        parent: None,
    };

    // The policies see the new image and its new layer before it is stored.
    admission::check_new_image(store, name.unwrap_or(&how), &image, plugins)?;
    Ok(store.save_image(image)?)
}
