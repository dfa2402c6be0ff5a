//! Carries out a mount plan through the [`Syscall`] seam. Runs in the child between clone and
//! exec: no allocation, no printing; the first failure returns its index and errno.

use super::plan::MountOp;
use crate::sys::Syscall;
use nix::errno::Errno;

pub fn apply(
    ops: &[MountOp],
    sys: &dyn Syscall,
    at_pause: &dyn Fn() -> Result<(), Errno>,
) -> Result<(), (usize, Errno)> {
    // The overlay's root, once it is mounted: where every target resolves.
    let mut root = None;
    for (i, op) in ops.iter().enumerate() {
        if *op == MountOp::Pause {
            at_pause().map_err(|e| (i, e))?;
        }
        apply_one(op, &mut root, sys).map_err(|e| (i, e))?;
    }
    Ok(())
}

fn apply_one(op: &MountOp, root: &mut Option<i32>, sys: &dyn Syscall) -> Result<(), Errno> {
    // A plan mounts the overlay before anything in it.
    let mounted = *root;
    let inside = || mounted.ok_or(Errno::EINVAL);
    match op {
        MountOp::Umask(mask) => {
            sys.umask(*mask);
            Ok(())
        }
        MountOp::MakeRootPrivate => sys.make_root_private(),
        MountOp::Pause => Ok(()),
        MountOp::AttachLayer { fd, path } => sys.move_mount(*fd, path),
        MountOp::EnterUsernsRoot { dir } => {
            sys.chdir(dir)?;
            sys.set_ids(0, 0, &[])
        }
        MountOp::Overlay { lowers, upper, work, target, flags } => {
            *root = Some(sys.mount_overlay(lowers, upper, work, target, flags)?);
            Ok(())
        }
        MountOp::BindRoot { dir } => {
            *root = Some(sys.bind_root(dir)?);
            Ok(())
        }
        MountOp::LegacyOverlay { data, target } => {
            *root = Some(sys.mount_overlay_legacy(data, target)?);
            Ok(())
        }
        MountOp::Mkdir { at, mode } => sys.mkdir_at(inside()?, at, *mode),
        MountOp::Touch { at } => sys.touch_at(inside()?, at),
        MountOp::Mknod { at, mode, dev } => sys.mknod_at(inside()?, at, *mode, *dev),
        MountOp::Symlink { text, at } => sys.symlink_at(inside()?, text, at),
        MountOp::Mount { fstype, options, attrs, at } => sys.mount_at(inside()?, at, fstype, options, *attrs),
        MountOp::Attach { fd, at } => sys.attach_at(inside()?, *fd, at),
        MountOp::Mask { at } => sys.mask_at(inside()?, at),
        MountOp::ReadOnly { at } => sys.read_only_at(inside()?, at),
        MountOp::PivotRoot => sys.pivot_root(inside()?),
        MountOp::RootAttrs(attrs) => sys.set_root_attrs(inside()?, *attrs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rootfs::plan::{RootfsSpec, plan};
    use crate::sys::fake::Recorder;

    fn ops() -> Vec<MountOp> {
        plan(
            &RootfsSpec {
                layers: vec!["/l0".into(), "/l1".into()],
                upper: "/u".into(),
                work: "/w".into(),
                target: "/t".into(),
                bundle: false,
                mounts: vec![],
                masked: vec![],
                read_only: vec![],
                read_only_root: false,
                nodev_root: false,
                devices: vec![],
                userns: None,
                volatile: false,
                cgroup_fs: None,
                pause_at_cgroup_fs: false,
                shm_size: None,
            },
            (6, 8),
        )
        .unwrap()
    }

    #[test]
    fn applies_in_plan_order() {
        let rec = Recorder::default();
        apply(&ops(), &rec, &|| Ok(())).unwrap();
        let lines = rec.lines();
        assert_eq!(lines[0], "umask 0");
        assert_eq!(lines[1], "make_root_private");
        assert_eq!(lines[2], "overlay /l1:/l0 upper=/u work=/w on /t");
        assert_eq!(lines[3], "mkdir /proc! 555");
        assert_eq!(lines[4], "mount proc /proc! 0xe ");
        let pivot = lines.iter().position(|l| l.starts_with("pivot_root")).unwrap();
        assert_eq!(lines[pivot], "pivot_root 100", "into the overlay's root");
        assert_eq!(lines[pivot + 1..], ["umask 22"]);
    }

    #[test]
    fn the_pause_before_pivot_comes_after_every_mount_and_before_the_pivot() {
        let rec = Recorder::default();
        let seen = std::cell::Cell::new(None);
        apply(&ops(), &rec, &|| {
            seen.set(Some(rec.lines().len()));
            Ok(())
        })
        .unwrap();
        let pivot = rec.lines().iter().position(|l| l.starts_with("pivot_root")).unwrap();
        assert_eq!(seen.get(), Some(pivot), "called once, with everything before the pivot done");
    }

    #[test]
    fn stops_at_the_first_failure_and_names_it() {
        let rec = Recorder { fail_on: vec![("overlay".into(), Errno::EINVAL)], ..Default::default() };
        let (index, errno) = apply(&ops(), &rec, &|| Ok(())).unwrap_err();
        assert_eq!((index, errno), (2, Errno::EINVAL));
        assert_eq!(rec.lines().len(), 3, "nothing after the failed step runs");
    }
}
