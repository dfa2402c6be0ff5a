//! Reading a file of the image through its layer stack, before anything is mounted (the parent
//! resolves USER against /etc/passwd this way, so the child need not read files).

use crate::layer::fsops;
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, SFlag};
use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// Biggest file read this way: /etc/passwd and /etc/group are small.
const LIMIT: u64 = 4 << 20;

/// The text of `rel` (e.g. `etc/passwd`) as the container will see it: from the topmost layer that
/// has it, none if a whiteout deletes it. Symlinks are not followed (the walk refuses them).
pub fn read_file(layers_top_first: &[PathBuf], rel: &Path) -> Option<String> {
    let (dir, name) = (rel.parent()?, rel.file_name()?);
    for layer in layers_top_first {
        let root = File::open(layer).ok()?;
        let Ok(dirfd) = fsops::open_dir(root.as_fd(), dir, false) else {
            continue;
        };
        match fsops::kind_at(dirfd.as_fd(), name) {
            Ok(Some(SFlag::S_IFREG)) => return read_limited(&dirfd, name),
            Ok(Some(_)) => return None, // a whiteout or something that is not a file
            _ => continue,
        }
    }
    None
}

fn read_limited(dir: &impl AsFd, name: &OsStr) -> Option<String> {
    let fd = openat(dir.as_fd(), name, OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC, Mode::empty()).ok()?;
    let mut text = String::new();
    File::from(fd).take(LIMIT).read_to_string(&mut text).ok()?;
    Some(text)
}

/// The user `name` (as `-u` takes it) by the /etc/passwd and /etc/group of the layer stack
/// `layers_bottom_first`.
pub fn resolve_user(layers_bottom_first: &[PathBuf], name: &str) -> Result<super::user::User, super::user::UserError> {
    let top_first: Vec<PathBuf> = layers_bottom_first.iter().rev().cloned().collect();
    let passwd = read_file(&top_first, Path::new("etc/passwd"));
    let group = read_file(&top_first, Path::new("etc/group"));
    super::user::resolve(name, passwd.as_deref(), group.as_deref())
}
