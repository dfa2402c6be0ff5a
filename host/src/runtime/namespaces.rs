//! The namespaces of a bundle's container that are not its own: those it joins by path (a pod's),
//! checked against the host's, and the kernel parameters set in its namespaces.

use super::RuntimeError;
use crate::spec::oci::{self, Bundle};
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
                if let Some(s) = read.sysctls.iter().find(|s| s.namespace == "net") {
                    return Err(RuntimeError::Namespace {
                        path: join.path,
                        message: format!("is the host's network namespace, where {} would change the host", s.key),
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
            let typ = unsafe { libc::ioctl(fd.as_raw_fd(), NS_GET_NSTYPE) };
            if typ != j.flag {
                return Err(bad(format!("is not a {} namespace", j.proc_name)));
            }
            Ok((fd, j.flag))
        })
        .collect()
}

/// Sets the kernel parameters `sysctls` in the namespaces of process `pid`: a thread joins them
/// (namespaces other than the mount and user ones are per thread) and writes /proc/sys, whose
/// files act on the namespaces of the thread that opens them.
pub fn set_sysctls(pid: i32, sysctls: &[oci::Sysctl]) -> Result<(), RuntimeError> {
    if sysctls.is_empty() {
        return Ok(());
    }
    let fail = |key: &str, e: std::io::Error| RuntimeError::Sysctl { key: key.to_string(), message: e.to_string() };
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                for ns in ["ipc", "net", "uts"] {
                    let f = fs::File::open(format!("/proc/{pid}/ns/{ns}")).map_err(|e| fail(ns, e))?;
                    nix::sched::setns(f, nix::sched::CloneFlags::empty()).map_err(|e| fail(ns, e.into()))?;
                }
                for s in sysctls {
                    let path = Path::new("/proc/sys").join(s.key.replace('.', "/"));
                    fs::write(&path, &s.value).map_err(|e| fail(&s.key, e))?;
                }
                Ok(())
            })
            .join()
            .unwrap_or_else(|_| Err(fail("(all)", std::io::Error::other("the thread setting them panicked"))))
    })
}

/// Enters the PID namespace `ns` for the children this thread creates, until dropped.
pub struct PidNsForChildren(Option<OwnedFd>);

impl PidNsForChildren {
    pub fn enter(ns: Option<&OwnedFd>) -> Result<PidNsForChildren, RuntimeError> {
        let Some(ns) = ns else { return Ok(PidNsForChildren(None)) };
        let own =
            OwnedFd::from(fs::File::open("/proc/self/ns/pid").map_err(RuntimeError::io("open /proc/self/ns/pid"))?);
        nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWPID)
            .map_err(|e| RuntimeError::io("join the bundle's PID namespace")(e.into()))?;
        Ok(PidNsForChildren(Some(own)))
    }
}

impl Drop for PidNsForChildren {
    fn drop(&mut self) {
        if let Some(own) = self.0.take() {
            // Our own active PID namespace: always allowed.
            let _ = nix::sched::setns(own, nix::sched::CloneFlags::CLONE_NEWPID);
        }
    }
}
