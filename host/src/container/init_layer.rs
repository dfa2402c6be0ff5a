//! The init layer: one read-only layer shared by every container of a store, holding the
//! directories sbx mounts /dev, /proc and /sys on. Stacked over an image's layers (as docker's
//! init layer is), it spares each container from making them in its writable layer and removing
//! them again: on this machine's disk each directory removed costs a synchronous discard.
//! Made once, whole, by whichever sbx needs it first.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::RunError;
use crate::image::store::Store;

/// The directories, with the modes an image's own would have.
pub const MOUNT_POINTS: [(&str, u32); 3] = [("dev", 0o755), ("proc", 0o555), ("sys", 0o555)];

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

/// The init layer's directory, made when the store has none yet. It is made in a locked staging
/// directory, so that an sbx killed while making it leaves what the next sweep removes.
pub fn path(store: &Store) -> Result<PathBuf, RunError> {
    let dir = store.root().join("init");
    if dir.is_dir() {
        return Ok(dir);
    }
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunError::ContainerDir { path, source }
    };
    let mut making = store.stage()?;
    let root = making.path().to_path_buf();
    // Staging directories are private; a rootfs's top is not. mkdir's mode is cut by the umask.
    let modes = std::iter::once((root.clone(), 0o755)).chain(MOUNT_POINTS.map(|(name, mode)| (root.join(name), mode)));
    for (p, mode) in modes {
        if p != root {
            fs::create_dir(&p).map_err(err(&p))?;
        }
        fs::set_permissions(&p, PermissionsExt::from_mode(mode)).map_err(err(&p))?;
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
}
