//! A container on its way to running: its cgroup, and its process once spawned, owned together so
//! that a failed start is cleaned up in one place whatever step failed.

use super::cgroup::Cgroup;
use super::spawn::Spawned;

/// The container's cgroup, and its process once spawned, while it starts. Dropped before
/// [`Launching::running`] (a failure at any step), it kills the process, reaps it and removes the
/// cgroup: the one place a failed start is cleaned up.
pub struct Launching {
    cgroup: Option<Cgroup>,
    child: Option<Spawned>,
}

impl Launching {
    pub fn new(cgroup: Cgroup) -> Launching {
        Launching { cgroup: Some(cgroup), child: None }
    }

    /// For a cgroup made once the process is spawned ([`Launching::made`]).
    pub fn without_cgroup() -> Launching {
        Launching { cgroup: None, child: None }
    }

    pub fn made(&mut self, cgroup: Cgroup) {
        self.cgroup = Some(cgroup);
    }

    pub fn spawned(&mut self, child: Spawned) {
        self.child = Some(child);
    }

    pub fn cgroup(&self) -> &Cgroup {
        self.cgroup.as_ref().expect("held until running")
    }

    pub fn child(&mut self) -> &mut Spawned {
        self.child.as_mut().expect("spawned")
    }

    /// The process runs: the caller owns it and its cgroup from here.
    pub fn running(mut self) -> (Spawned, Cgroup) {
        (self.child.take().expect("spawned"), self.cgroup.take().expect("held until running"))
    }
}

impl Drop for Launching {
    fn drop(&mut self) {
        if let Some(child) = self.child.take() {
            // Paused or running, it ends: SIGKILL, then reaped.
            let _ = nix::sys::signal::kill(child.pid, nix::sys::signal::Signal::SIGKILL);
            child.abort();
        }
        if let Some(cgroup) = self.cgroup.take()
            && let Err(e) = cgroup.remove()
        {
            eprintln!("sbx: warning: {e}");
        }
    }
}
