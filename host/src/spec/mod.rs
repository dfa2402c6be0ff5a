//! What a container is to run, as data: the spec built from the image and the flags
//! ([`ContainerSpec`], pure), its security options ([`security`]), capabilities by name
//! ([`caps`]), seccomp profiles ([`seccomp`]) and users resolved to ids ([`user`]). At the bottom
//! of the crate: it imports none of container/, isolate/ or plugin/, which all build on it.

pub mod caps;
mod cgroups;
pub mod health;
mod model;
pub mod oci;
pub mod ports;
pub mod restart;
pub mod seccomp;
pub mod security;
mod sharing;
pub mod signal;
pub mod sysctl;
pub mod user;
pub mod volume_flag;

pub use cgroups::{Cgroups, NEED_DEVICE_CGROUP, parse_cgroups};
pub use model::*;
pub use ports::{PublishedPort, parse_publish};
pub use sharing::{Sharing, parse_ipc, parse_pid};
