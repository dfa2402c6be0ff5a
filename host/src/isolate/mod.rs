//! Isolation: the child's plan of kernel operations ([`child`]), creating the child in new
//! namespaces and starting it ([`spawn`]), and its cgroup ([`cgroup`]).

pub mod cgroup;
pub mod child;
pub mod devices;
pub mod launching;
pub mod namespaces;
pub mod rootless;
pub mod seccomp;
pub mod spawn;
pub mod userns;

pub use child::{ChildPlan, ProcOp};
pub use launching::Launching;
pub use spawn::{Exit, Failure, Progress, Spawned, spawn};
