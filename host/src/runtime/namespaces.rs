//! The namespaces of a bundle's container that are not its own: those it joins by path (a pod's),
//! checked against the host's.

use super::RuntimeError;
use crate::spec::oci::{self, Bundle};
use crate::spec::sysctl;
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::Path;

/// (device, inode) of the namespace file at `path`.
fn ns_id(path: &Path) -> Result<(u64, u64), RuntimeError> {
    let meta = fs::metadata(path).map_err(|e| RuntimeError::Namespace { path: path.into(), message: e.to_string() })?;
    Ok((std::os::unix::fs::MetadataExt::dev(&meta), std::os::unix::fs::MetadataExt::ino(&meta)))
}

/// A namespace the bundle joins that is the runtime's own is the host's: a network namespace is
/// then the host network, as the policies must see it; the host's PID, IPC and UTS namespaces
/// are refused as sbx refuses them when the bundle does not list them.
pub fn host_joins(read: &mut Bundle) -> Result<(), RuntimeError> {
    let mut joins = Vec::new();
    for join in std::mem::take(&mut read.joins) {
        let host = ns_id(&join.path)? == ns_id(&Path::new("/proc/self/ns").join(join.proc_name))?;
        match (host, join.proc_name) {
            (false, _) | (true, "cgroup") => joins.push(join),
            (true, "net") => {
                if let Some(key) = read.spec.sysctls.keys().find(|k| sysctl::namespace_of(k) == Some("net")) {
                    return Err(RuntimeError::Namespace {
                        path: join.path,
                        message: format!("is the host's network namespace, where {key} would change the host"),
                    });
                }
                read.spec.network = crate::spec::Network::Host;
                read.spec.namespaces.retain(|n| n != "network");
            }
            (true, name) => {
                return Err(RuntimeError::Namespace {
                    path: join.path,
                    message: format!("is the host's {name} namespace (sbx gives every container its own)"),
                });
            }
        }
    }
    read.joins = joins;
    Ok(())
}

/// The namespaces to join, opened and checked to be of their type.
pub fn open_joins(joins: &[oci::Join]) -> Result<Vec<(OwnedFd, i32)>, RuntimeError> {
    const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
    joins
        .iter()
        .map(|j| {
            let bad = |message: String| RuntimeError::Namespace { path: j.path.clone(), message };
            let fd = OwnedFd::from(fs::File::open(&j.path).map_err(|e| bad(e.to_string()))?);
            // SAFETY: NS_GET_NSTYPE takes no argument and only reads the descriptor we own.
            let typ = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE as _) };
            if typ != j.flag {
                return Err(bad(format!("is not a {} namespace", j.proc_name)));
            }
            Ok((fd, j.flag))
        })
        .collect()
}
