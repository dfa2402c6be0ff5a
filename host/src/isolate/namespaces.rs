//! Acting in a container's namespaces from outside: creating children in a PID namespace that is
//! not ours, and setting kernel parameters in its IPC, network and UTS namespaces.

use std::collections::BTreeMap;
use std::fs;
use std::os::fd::OwnedFd;
use std::path::Path;

/// Enters the PID namespace `ns` for the children this thread creates, until dropped.
pub struct PidNsForChildren(Option<OwnedFd>);

impl PidNsForChildren {
    pub fn enter(ns: Option<&OwnedFd>) -> std::io::Result<PidNsForChildren> {
        let Some(ns) = ns else { return Ok(PidNsForChildren(None)) };
        let own = OwnedFd::from(fs::File::open("/proc/self/ns/pid")?);
        nix::sched::setns(ns, nix::sched::CloneFlags::CLONE_NEWPID)?;
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

/// Sets the kernel parameters `sysctls` in the namespaces of process `pid`: a thread joins them
/// (namespaces other than the mount and user ones are per thread) and writes /proc/sys, whose
/// files act on the namespaces of the thread that opens them. A failure names the parameter (or
/// the namespace it could not join).
pub fn set_sysctls(pid: i32, sysctls: &BTreeMap<String, String>) -> Result<(), (String, std::io::Error)> {
    if sysctls.is_empty() {
        return Ok(());
    }
    fn fail(key: &str) -> impl FnOnce(std::io::Error) -> (String, std::io::Error) + '_ {
        move |e| (key.to_string(), e)
    }
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                for ns in ["ipc", "net", "uts"] {
                    let f = fs::File::open(format!("/proc/{pid}/ns/{ns}")).map_err(fail(ns))?;
                    nix::sched::setns(f, nix::sched::CloneFlags::empty()).map_err(|e| fail(ns)(e.into()))?;
                }
                for (key, value) in sysctls {
                    let path = Path::new("/proc/sys").join(key.replace('.', "/"));
                    fs::write(&path, value).map_err(fail(key))?;
                }
                Ok(())
            })
            .join()
            .unwrap_or_else(|_| Err(fail("(all)")(std::io::Error::other("the thread setting them panicked"))))
    })
}
