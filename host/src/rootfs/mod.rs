//! The container's root filesystem: [`plan`] turns layers and the container's own directories into
//! an ordered list of mount operations (pure data), and [`apply`] carries them out inside the new
//! mount namespace. `apply` is the only code in sbx that mounts.

pub mod apply;
pub mod bind;
pub mod plan;

pub use apply::apply;
pub use plan::{MountOp, PlanError, RootfsSpec, UserMount, kernel_version, plan};
