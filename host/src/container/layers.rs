//! The layer stack a container mounts, and reading a file of the image through it before anything
//! is mounted (the parent resolves USER against /etc/passwd this way, so the child need not read
//! files).

use crate::layer::fsops;
use crate::spec::user::{FileText, User, UserError};
use nix::fcntl::{OFlag, openat};
use nix::sys::stat::{Mode, SFlag};
use std::ffi::OsStr;
use std::fs::File;
use std::io::Read;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

/// Biggest file read this way: /etc/passwd and /etc/group are small.
pub const LIMIT: u64 = 4 << 20;

/// The layers of a stack (bottom first) with each one once, where it is topmost: overlayfs refuses
/// the same directory twice (ELOOP), and an image may hold a layer twice (two steps that changed
/// nothing make the same empty layer); the stack's files are the same. Pure.
pub fn once_each<T: PartialEq + Clone>(bottom_first: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(bottom_first.len());
    for (i, layer) in bottom_first.iter().enumerate() {
        if !bottom_first[i + 1..].contains(layer) {
            out.push(layer.clone());
        }
    }
    out
}

/// The text of `rel` (e.g. `etc/passwd`) as the container will see it: from the topmost layer that
/// has it, none if a whiteout deletes it. Symlinks are not followed (the walk refuses them): a
/// link there is reported, as is anything else that is not a regular file.
pub fn read_file(layers_top_first: &[PathBuf], rel: &Path) -> FileText {
    let (Some(dir), Some(name)) = (rel.parent(), rel.file_name()) else {
        return Ok(None);
    };
    for layer in layers_top_first {
        let root = File::open(layer).map_err(|e| format!("cannot be read: {e}"))?;
        let Ok(dirfd) = fsops::open_dir(root.as_fd(), dir, false) else {
            continue;
        };
        let st = match nix::sys::stat::fstatat(dirfd.as_fd(), name, nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => st,
            Err(_) => continue,
        };
        return match SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) {
            SFlag::S_IFREG => read_limited(&dirfd, name, st.st_size as u64),
            SFlag::S_IFCHR if st.st_rdev == 0 => Ok(None), // a whiteout
            SFlag::S_IFLNK => Err("is a symlink, which sbx does not follow in the image's layers".into()),
            _ => Err(format!("is {}, not a regular file", fsops::kind_name(st.st_mode))),
        };
    }
    Ok(None)
}

/// The file `name` in `dir`, of `size` bytes when it was looked at: read into a buffer of that size
/// (an empty one makes read_to_end start with 32-byte reads: 5 reads for a 100-byte passwd).
fn read_limited(dir: &impl AsFd, name: &OsStr, size: u64) -> FileText {
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(dir.as_fd(), name, flags, Mode::empty()).map_err(|e| format!("cannot be read: {e}"))?;
    let mut bytes = Vec::with_capacity(size.min(LIMIT) as usize + 1);
    File::from(fd).take(LIMIT + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot be read: {e}"))?;
    if bytes.len() as u64 > LIMIT {
        return Err(format!("holds more than {LIMIT} bytes"));
    }
    Ok(Some(String::from_utf8_lossy(&bytes).into_owned()))
}

/// The /etc/passwd and /etc/group of a layer stack, read once for every user resolved against
/// them (a run's policies resolve its user before the run does).
pub struct UserFiles {
    passwd: FileText,
    group: FileText,
}

impl UserFiles {
    /// The files of the layer stack `layers_bottom_first`.
    pub fn read(layers_bottom_first: &[PathBuf]) -> UserFiles {
        let top_first: Vec<PathBuf> = layers_bottom_first.iter().rev().cloned().collect();
        let passwd = read_file(&top_first, Path::new("etc/passwd"));
        let group = read_file(&top_first, Path::new("etc/group"));
        UserFiles { passwd, group }
    }

    /// The user `name` (as `-u` takes it), with the groups `group_add` added.
    pub fn resolve(&self, name: &str, group_add: &[String]) -> Result<User, UserError> {
        crate::spec::user::resolve_files(name, &self.passwd, &self.group, group_add)
    }
}

/// The user `name` (as `-u` takes it) by the /etc/passwd and /etc/group of the layer stack
/// `layers_bottom_first`.
pub fn resolve_user(layers_bottom_first: &[PathBuf], name: &str, group_add: &[String]) -> Result<User, UserError> {
    UserFiles::read(layers_bottom_first).resolve(name, group_add)
}

#[cfg(test)]
mod user_files_tests {
    use super::*;

    #[test]
    fn users_resolve_by_the_topmost_files_read_once() {
        let layer = |passwd: &str, group: Option<&str>| {
            let dir = tempfile::tempdir().unwrap();
            std::fs::create_dir(dir.path().join("etc")).unwrap();
            std::fs::write(dir.path().join("etc/passwd"), passwd).unwrap();
            if let Some(g) = group {
                std::fs::write(dir.path().join("etc/group"), g).unwrap();
            }
            dir
        };
        let bottom = layer("app:x:1000:1000::/home/app:/bin/sh\n", Some("staff:x:50:app\n"));
        let top = layer("root:x:0:0::/root:/bin/sh\napp:x:2000:2000::/srv:/bin/sh\n", None);
        let files = UserFiles::read(&[bottom.path().to_path_buf(), top.path().to_path_buf()]);
        // The files are read: removing them changes nothing for what was read.
        std::fs::remove_dir_all(top.path().join("etc")).unwrap();
        let app = files.resolve("app", &[]).unwrap();
        assert_eq!((app.uid, app.gid, app.home.as_str()), (2000, 2000, "/srv"), "the top layer's passwd");
        assert!(app.groups.contains(&50), "the bottom layer's group, where the top has none: {:?}", app.groups);
        assert_eq!(files.resolve("root", &["7".into()]).unwrap().groups, [0, 7]);
        assert!(files.resolve("nobody", &[]).is_err());
    }
}

#[cfg(test)]
mod once_tests {
    use super::*;

    #[test]
    fn a_layer_held_twice_is_mounted_once_where_it_is_topmost() {
        assert_eq!(once_each(&[1, 2, 2, 3, 2]), [1, 3, 2]);
        assert_eq!(once_each(&[1, 2, 3]), [1, 2, 3]);
        assert_eq!(once_each::<u8>(&[]), Vec::<u8>::new());
    }
}
