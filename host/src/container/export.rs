//! `sbx export`: a container's merged filesystem (its image's layers under its writable layer) as
//! one tarball, as `docker export` writes it. The layers are mounted as a read-only overlay in a
//! mount namespace of this process's own, which goes with it: nothing stays mounted on the host,
//! whatever happens to sbx.

use super::commit::write_merged;
use super::init_layer;
use super::state::{self, ContainerRecord};
use crate::image::Store;
use crate::isolate::rootless;
use nix::mount::{MntFlags, MsFlags};
use std::io::Write;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Find(#[from] state::FindError),
    #[error(transparent)]
    Store(#[from] crate::image::StoreError),
    #[error(transparent)]
    Init(Box<super::error::RunError>),
    #[error("cannot mount container {name}'s layers to export them: {what}: {errno}")]
    Mount { name: String, what: &'static str, errno: nix::errno::Errno },
    #[error("container {name} has {layers} layers, more than one mount of this kernel takes (a page of paths)")]
    TooManyLayers { name: String, layers: usize },
    #[error("cannot write the tarball of container {name}: {source}")]
    Write { name: String, source: std::io::Error },
}

/// overlayfs's mount options for a read-only view of `lowers` (top first): its own xattrs in the
/// `user.` namespace for a container with its own ids or of a rootless sbx, as they were written.
/// None if they do not fit in a page. Pure.
pub fn overlay_options(lowers: &[PathBuf], user_xattrs: bool) -> Option<String> {
    let paths: Vec<String> = lowers.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if paths.iter().any(|p| p.contains([',', ':'])) {
        return None;
    }
    let mut data = format!("lowerdir={}", paths.join(":"));
    if user_xattrs {
        data.push_str(",userxattr");
    }
    (data.len() < 4096).then_some(data)
}

/// A container's merged filesystem mounted read-only in this process's own mount namespace;
/// unmounted before its directory goes.
pub struct View {
    target: PathBuf,
    _staging: crate::image::store::Staging,
}

impl View {
    /// Mounts the view of the container of `record` (in `dir`), read-only. Call it while sbx is
    /// single-threaded (it makes a mount namespace of its own).
    pub fn mount(store: &Store, dir: &Path, record: &ContainerRecord) -> Result<View, ExportError> {
        View::mount_as(store, dir, record, false)
    }

    /// [`View::mount`] with the container's writable layer as the overlay's upper layer, so what
    /// is written lands there (`sbx cp` into a stopped container, which must stay stopped).
    pub fn mount_writable(store: &Store, dir: &Path, record: &ContainerRecord) -> Result<View, ExportError> {
        View::mount_as(store, dir, record, true)
    }

    fn mount_as(store: &Store, dir: &Path, record: &ContainerRecord, writable: bool) -> Result<View, ExportError> {
        let name = record.name.clone();
        let layers: Vec<PathBuf> = record.mounted_layers(store)?.iter().map(|d| store.layer_diff(d)).collect();
        let mut lowers = if writable { Vec::new() } else { vec![dir.join("upper")] };
        // /dev, /proc and /sys as the container has them: the init layer's directories, as docker's
        // export has them.
        if let Some(init) = init_layer::for_layers(store, &layers).map_err(|e| ExportError::Init(Box::new(e)))? {
            lowers.push(init);
        }
        lowers.extend(layers.into_iter().rev());
        let mut options = overlay_options(&lowers, record.idmap.is_some() || rootless::is_active())
            .ok_or(ExportError::TooManyLayers { name: name.clone(), layers: lowers.len() })?;
        if writable {
            let (upper, work) = (dir.join("upper"), dir.join("work"));
            options.push_str(&format!(",upperdir={},workdir={}", upper.display(), work.display()));
        }
        let fail = |what: &'static str| {
            let name = name.clone();
            move |errno| ExportError::Mount { name, what, errno }
        };
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).map_err(fail("a mount namespace"))?;
        nix::mount::mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>)
            .map_err(fail("making its mounts private"))?;
        let staging = store.stage()?;
        let target = staging.path().join("merged");
        nix::unistd::mkdir(&target, nix::sys::stat::Mode::S_IRWXU).map_err(fail("its mount point"))?;
        let flags = if writable { MsFlags::empty() } else { MsFlags::MS_RDONLY };
        nix::mount::mount(Some("overlay"), &target, Some("overlay"), flags, Some(options.as_str()))
            .map_err(fail("overlayfs"))?;
        Ok(View { target, _staging: staging })
    }

    pub fn path(&self) -> &Path {
        &self.target
    }
}

impl Drop for View {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.target, MntFlags::MNT_DETACH);
    }
}

/// Writes the merged filesystem of the container `query` names to `out`. Call it while sbx is
/// single-threaded (it makes a mount namespace of its own).
pub fn export(store: &Store, query: &str, out: impl Write) -> Result<(), ExportError> {
    let (dir, record) = state::find(store, query)?;
    let view = View::mount(store, &dir, &record)?;
    write_merged(view.path(), record.idmap.as_ref(), out)
        .map_err(|source| ExportError::Write { name: record.name.clone(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_view_is_the_writable_layer_over_the_image_layers_top_first() {
        let lowers: Vec<PathBuf> = ["/c/upper", "/l/2/diff", "/l/1/diff"].iter().map(PathBuf::from).collect();
        assert_eq!(overlay_options(&lowers, false).unwrap(), "lowerdir=/c/upper:/l/2/diff:/l/1/diff");
        assert!(overlay_options(&lowers, true).unwrap().ends_with(",userxattr"));
        assert_eq!(overlay_options(&[PathBuf::from("/a:b")], false), None);
        let many: Vec<PathBuf> = (0..200).map(|i| PathBuf::from(format!("/var/lib/sbx/layers/{i:064}/diff"))).collect();
        assert_eq!(overlay_options(&many, false), None);
    }
}
