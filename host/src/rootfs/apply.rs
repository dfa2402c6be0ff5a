//! Carries out a mount plan through the [`Syscall`] seam. Runs in the child between clone and
//! exec: no allocation, no printing; the first failure returns its index and errno.

use super::plan::MountOp;
use crate::sys::Syscall;
use nix::errno::Errno;

pub fn apply(ops: &[MountOp], sys: &dyn Syscall) -> Result<(), (usize, Errno)> {
    for (i, op) in ops.iter().enumerate() {
        apply_one(op, sys).map_err(|e| (i, e))?;
    }
    Ok(())
}

fn apply_one(op: &MountOp, sys: &dyn Syscall) -> Result<(), Errno> {
    match op {
        MountOp::MakeRootPrivate => sys.mount(None, c"/", None, libc::MS_REC | libc::MS_PRIVATE, None),
        MountOp::Overlay { lowers, upper, work, target, userxattr } => {
            sys.mount_overlay(lowers, upper, work, target, *userxattr)
        }
        MountOp::PivotRoot { new_root } => sys.pivot_root(new_root),
        MountOp::DetachOldRoot => sys.detach_old_root(),
        MountOp::EnterUsernsRoot { dir } => {
            sys.chdir(dir)?;
            sys.set_ids(0, 0, &[])
        }
        MountOp::Mkdir { path, mode } => sys.mkdir(path, *mode),
        MountOp::Mount { source, target, fstype, flags, data } => {
            sys.mount(Some(source), target, Some(fstype), *flags, data.as_deref())
        }
        MountOp::Mknod { path, mode, dev } => sys.mknod(path, *mode, *dev),
        MountOp::Symlink { target, link } => sys.symlink(target, link),
        MountOp::Umask(mask) => {
            sys.umask(*mask);
            Ok(())
        }
        MountOp::MoveMount { fd, target } => sys.move_mount(*fd, target),
        MountOp::Touch { path } => sys.touch(path),
        MountOp::Mask { path } => sys.mask(path),
        MountOp::ReadOnly { path, bind } => sys.remount_read_only(path, *bind),
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
                mounts: vec![],
                masked: vec![],
                read_only: vec![],
                read_only_root: false,
                devices: vec![],
                userns: None,
            },
            (6, 8),
        )
        .unwrap()
    }

    #[test]
    fn applies_in_plan_order() {
        let rec = Recorder::default();
        apply(&ops(), &rec).unwrap();
        let lines = rec.lines();
        assert_eq!(lines[0], "umask 0");
        assert_eq!(lines[1], "mount - / - 0x44000 -");
        assert_eq!(lines[2], "overlay /l1:/l0 upper=/u work=/w on /t");
        assert_eq!(lines[3], "pivot_root /t");
        assert_eq!(lines[5], "mount proc /proc proc 0xe -");
    }

    #[test]
    fn stops_at_the_first_failure_and_names_it() {
        let rec = Recorder { fail_on: vec![("overlay".into(), Errno::EINVAL)], ..Default::default() };
        let (index, errno) = apply(&ops(), &rec).unwrap_err();
        assert_eq!((index, errno), (2, Errno::EINVAL));
        assert_eq!(rec.lines().len(), 3, "nothing after the failed step runs");
    }
}
