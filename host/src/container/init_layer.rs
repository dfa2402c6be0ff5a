//! The init layer: one read-only layer shared by every container of a store, holding the
//! directories sbx mounts /dev, /proc and /sys on and, in its second form, the empty files it
//! bind-mounts /etc/hosts, /etc/hostname and /etc/resolv.conf on ([`super::etc_files`]). Stacked
//! over an image's layers (as docker's init layer is), it spares each container from making them
//! in its writable layer and removing them again: on this machine's disk each directory removed
//! costs a synchronous discard, and making /etc's three files copied /etc up first (0.24 ms of a
//! run, 150 pairs). Each form is made once, whole, by whichever sbx needs it first.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use super::RunError;
use super::etc_files;
use crate::image::store::Store;

/// The directories, with the modes an image's own would have.
pub const MOUNT_POINTS: [(&str, u32); 3] = [("dev", 0o755), ("proc", 0o555), ("sys", 0o555)];

/// /etc in the second form, as an image's own is.
const ETC: (&str, u32) = ("etc", 0o755);

/// Whether `name`, at the root of a writable layer, is one of the mount points (containers made
/// before the init layer, or of images with no room for it, have them in their writable layer).
pub fn is_mount_point(name: &str) -> bool {
    MOUNT_POINTS.iter().any(|(n, _)| *n == name)
}

/// Whether the init layer may go over `layers` (bottom first): where they have a mount point, the
/// topmost one's is a directory. Otherwise the container goes without it, and the rootfs plan
/// refuses a symlink there by name (a directory over it would only hide it).
pub fn fits(layers: &[PathBuf]) -> bool {
    MOUNT_POINTS.iter().all(|(name, _)| {
        let topmost = layers.iter().rev().find_map(|l| fs::symlink_metadata(l.join(name)).ok());
        topmost.is_none_or(|m| m.is_dir())
    })
}

/// Whether the second form may go over `layers`: no layer has any of /etc's three files (the
/// empty ones would hide an image's own, where a mount does not cover them), and the topmost
/// /etc, if any, is a directory with the owner and mode of `etc` (the init layer's /etc, which
/// then stands for it in the container). Otherwise the first form, and the files' mount points
/// are made in the writable layer.
pub fn etc_fits(layers: &[PathBuf], etc: &fs::Metadata) -> bool {
    let same = |m: &fs::Metadata| m.is_dir() && (m.mode(), m.uid(), m.gid()) == (etc.mode(), etc.uid(), etc.gid());
    let mut topmost = true;
    for layer in layers.iter().rev() {
        let Ok(here) = fs::symlink_metadata(layer.join(ETC.0)) else { continue };
        if (topmost && !same(&here))
            || etc_files::FILES.iter().any(|(_, at)| fs::symlink_metadata(layer.join(&at[1..])).is_ok())
        {
            return false;
        }
        topmost = false;
    }
    true
}

/// The init layer for a container of `layers`, made when the store has none yet; None where it
/// does not fit them.
pub fn for_layers(store: &Store, layers: &[PathBuf]) -> Result<Option<PathBuf>, RunError> {
    if !fits(layers) {
        return Ok(None);
    }
    let with_etc = path(store, true)?;
    let etc = with_etc.join(ETC.0);
    let etc = fs::symlink_metadata(&etc).map_err(|source| RunError::ContainerDir { path: etc, source })?;
    if etc_fits(layers, &etc) { Ok(Some(with_etc)) } else { path(store, false).map(Some) }
}

/// The init layer's directory (with /etc's files or without), made when the store has none yet.
/// It is made in a locked staging directory, so that an sbx killed while making it leaves what
/// the next sweep removes.
fn path(store: &Store, with_etc: bool) -> Result<PathBuf, RunError> {
    let dir = store.root().join(if with_etc { "init-etc" } else { "init" });
    if dir.is_dir() {
        return Ok(dir);
    }
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunError::ContainerDir { path, source }
    };
    let mut making = store.stage()?;
    let root = making.path().to_path_buf();
    let etc = with_etc.then_some(ETC);
    // Staging directories are private; a rootfs's top is not. mkdir's mode is cut by the umask.
    let dirs = MOUNT_POINTS.iter().chain(&etc).map(|(name, mode)| (root.join(name), *mode));
    for (p, mode) in std::iter::once((root.clone(), 0o755)).chain(dirs) {
        if p != root {
            fs::create_dir(&p).map_err(err(&p))?;
        }
        fs::set_permissions(&p, PermissionsExt::from_mode(mode)).map_err(err(&p))?;
    }
    for (_, at) in etc_files::FILES.iter().filter(|_| with_etc) {
        let p = root.join(&at[1..]);
        fs::write(&p, "").and_then(|()| fs::set_permissions(&p, PermissionsExt::from_mode(0o644))).map_err(err(&p))?;
    }
    match making.place(&dir) {
        Ok(()) => Ok(dir),
        // Another sbx made it first; ours goes when `making` is dropped.
        Err(_) if dir.is_dir() => Ok(dir),
        Err(e) => Err(err(&dir)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_where_the_topmost_entry_of_each_mount_point_is_a_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let layer = |name: &str| {
            let dir = tmp.path().join(name);
            fs::create_dir(&dir).unwrap();
            dir
        };
        let (bottom, top) = (layer("bottom"), layer("top"));
        assert!(fits(&[bottom.clone(), top.clone()]), "no layer has them");
        std::os::unix::fs::symlink("..", bottom.join("proc")).unwrap();
        assert!(!fits(&[bottom.clone(), top.clone()]), "a symlink at /proc");
        fs::create_dir(top.join("proc")).unwrap();
        assert!(fits(&[bottom.clone(), top.clone()]), "a directory over it hides it in the image already");
        fs::write(top.join("dev"), "").unwrap();
        assert!(!fits(&[bottom, top]), "a file at /dev");
    }

    #[test]
    fn etc_fits_where_no_layer_has_the_files_and_the_topmost_etc_is_as_the_init_layers() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = |p: &Path, mode: u32| {
            fs::create_dir_all(p).unwrap();
            fs::set_permissions(p, PermissionsExt::from_mode(mode)).unwrap();
            p.to_path_buf()
        };
        let ours = fs::symlink_metadata(dir(&tmp.path().join("init/etc"), 0o755)).unwrap();
        let (bottom, top) = (dir(&tmp.path().join("bottom"), 0o755), dir(&tmp.path().join("top"), 0o755));
        let layers = [bottom.clone(), top.clone()];
        assert!(etc_fits(&layers, &ours), "no layer has /etc");
        dir(&bottom.join("etc"), 0o755);
        fs::write(bottom.join("etc/passwd"), "root:x:0:0::/:/bin/sh\n").unwrap();
        assert!(etc_fits(&layers, &ours), "an /etc as ours, without the files");
        dir(&top.join("etc"), 0o700);
        assert!(!etc_fits(&layers, &ours), "the topmost /etc has another mode, which ours would hide");
        fs::set_permissions(top.join("etc"), PermissionsExt::from_mode(0o755)).unwrap();
        fs::write(bottom.join("etc/resolv.conf"), "nameserver 10.0.0.1\n").unwrap();
        assert!(!etc_fits(&layers, &ours), "a layer's own resolv.conf, which ours would hide");
        fs::remove_file(bottom.join("etc/resolv.conf")).unwrap();
        std::os::unix::fs::symlink("../run/hosts", top.join("etc/hosts")).unwrap();
        assert!(!etc_fits(&layers, &ours), "a symlink at /etc/hosts");
        fs::remove_file(top.join("etc/hosts")).unwrap();
        fs::remove_dir(top.join("etc")).unwrap();
        std::os::unix::fs::symlink("usr/etc", top.join("etc")).unwrap();
        assert!(!etc_fits(&layers, &ours), "a symlink at /etc");
    }
}
