//! `sbx diff`: what a container changed, as docker lists it: `A` added, `C` changed, `D` deleted.
//! The writable layer is walked without following any symlink (the container may be running and
//! may have planted some), and what the layers below hold is read from their entry indexes, never
//! from the filesystem, so the listing cannot be steered onto the host.

use super::etc_files;
use super::init_layer;
use crate::layer::{EntryKind, IndexEntry, fsops};
use nix::dir::Dir;
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{Mode, SFlag, fstatat};
use std::collections::BTreeSet;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Dir,
    Whiteout,
    Other,
}

/// The paths the layers (bottom first) show together: later layers add, and their whiteouts and
/// opaque directories hide what is below.
pub fn merged(layers: &[Vec<IndexEntry>]) -> BTreeSet<String> {
    let mut paths = BTreeSet::new();
    let hide_below = |paths: &mut BTreeSet<String>, dir: &str| {
        let prefix = format!("{dir}/");
        let under: Vec<String> =
            paths.range(prefix.clone()..).take_while(|p| p.starts_with(&prefix)).cloned().collect();
        for p in under {
            paths.remove(&p);
        }
    };
    for layer in layers {
        for e in layer {
            match e.kind {
                EntryKind::Whiteout => {
                    paths.remove(&e.path);
                    hide_below(&mut paths, &e.path);
                }
                EntryKind::OpaqueWhiteout => hide_below(&mut paths, &e.path),
                _ => {
                    paths.insert(e.path.clone());
                }
            }
        }
    }
    paths
}

/// docker's lines for the writable layer's entries over `below`, sorted by path.
pub fn changes(upper: &[Walked], below: &BTreeSet<String>) -> Vec<String> {
    // sbx's mount points: /dev, /proc and /sys (when the init layer could not hold them), the
    // empty files its /etc/hosts, /etc/hostname and /etc/resolv.conf are mounted on, and /etc
    // when they are all it holds.
    let ours = |e: &Walked| {
        (e.kind == Kind::Dir && init_layer::is_mount_point(&e.path))
            || (e.kind == Kind::Other && e.size == 0 && etc_files::is_mount_point(&e.path))
    };
    let mut in_etc = upper.iter().filter(|u| u.path.starts_with("etc/")).peekable();
    let etc_only_ours = in_etc.peek().is_some() && in_etc.all(ours);
    let mut lines: Vec<(String, char)> = upper
        .iter()
        .filter(|e| !ours(e))
        .filter(|e| !(e.path == "etc" && etc_only_ours && below.contains("etc")))
        .map(|e| {
            let c = match e.kind {
                Kind::Whiteout => 'D',
                _ if below.contains(&e.path) => 'C',
                _ => 'A',
            };
            (e.path.clone(), c)
        })
        .collect();
    lines.sort();
    lines.into_iter().map(|(p, c)| format!("{c} /{p}")).collect()
}

/// One entry of a walked tree.
pub struct Walked {
    /// Relative to the walked directory.
    pub path: String,
    pub kind: Kind,
    pub size: u64,
}

/// Every entry of the directory tree `dir`; nothing is followed.
pub fn walk(dir: &Path) -> Result<Vec<Walked>, Errno> {
    let root = nix::fcntl::open(dir, OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())?;
    let mut out = Vec::new();
    walk_fd(root, "", &mut out)?;
    Ok(out)
}

/// The bytes the files under `dir` hold (0 if it cannot be read), as `sbx ps -s` shows it.
pub fn size(dir: &Path) -> u64 {
    walk(dir).map_or(0, |w| w.iter().filter(|e| e.kind != Kind::Dir).map(|e| e.size).sum())
}

fn walk_fd(fd: OwnedFd, prefix: &str, out: &mut Vec<Walked>) -> Result<(), Errno> {
    let mut dir = Dir::from_fd(fd)?;
    // The directory's own descriptor, borrowed past `dir`'s iterator: cloned, as nix's Dir lends
    // it to one user at a time.
    let at_fd = dir.as_fd().try_clone_to_owned().map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))?;
    let at = at_fd.as_fd();
    let names: Vec<std::ffi::CString> = dir
        .iter()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_owned())
        .filter(|n| n.as_bytes() != b"." && n.as_bytes() != b"..")
        .collect();
    for name in names {
        let path = format!("{prefix}{}", name.to_string_lossy());
        // A running container may remove what was listed a moment ago: it is no change any more.
        let st = match fstatat(at, name.as_c_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Err(Errno::ENOENT) => continue,
            other => other?,
        };
        let fmt = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        let kind = match fmt {
            SFlag::S_IFDIR => Kind::Dir,
            SFlag::S_IFCHR if st.st_rdev == 0 => Kind::Whiteout,
            _ => Kind::Other,
        };
        out.push(Walked { path: path.clone(), kind, size: st.st_size as u64 });
        if kind == Kind::Dir {
            match fsops::open_subdir(at, std::ffi::OsStr::from_bytes(name.as_bytes())) {
                Ok(sub) => walk_fd(sub, &format!("{path}/"), out)?,
                // Gone or replaced since: what was listed stands.
                Err(Errno::ENOENT | Errno::ENOTDIR | Errno::ELOOP) => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, kind: EntryKind) -> IndexEntry {
        IndexEntry { path: path.into(), kind, mode: 0o644, uid: 0, gid: 0, size: 0, link: None }
    }

    #[test]
    fn later_layers_hide_what_they_white_out() {
        let bottom = vec![
            entry("etc", EntryKind::Dir),
            entry("etc/passwd", EntryKind::File),
            entry("var", EntryKind::Dir),
            entry("var/cache", EntryKind::Dir),
            entry("var/cache/x", EntryKind::File),
            entry("opt", EntryKind::Dir),
            entry("opt/a", EntryKind::File),
        ];
        let top = vec![entry("var/cache", EntryKind::Whiteout), entry("opt", EntryKind::OpaqueWhiteout)];
        let m = merged(&[bottom, top]);
        let got: Vec<&str> = m.iter().map(String::as_str).collect();
        assert_eq!(got, ["etc", "etc/passwd", "opt", "var"]);
    }

    #[test]
    fn changes_read_as_dockers() {
        let below: BTreeSet<String> = ["etc", "etc/passwd", "tmp"].iter().map(|s| s.to_string()).collect();
        let w = |path: &str, kind| Walked { path: path.into(), kind, size: 0 };
        let upper =
            vec![w("tmp", Kind::Dir), w("tmp/new", Kind::Other), w("etc", Kind::Dir), w("etc/passwd", Kind::Whiteout)];
        assert_eq!(changes(&upper, &below), ["C /etc", "D /etc/passwd", "C /tmp", "A /tmp/new"]);
    }
}
