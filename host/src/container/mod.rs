//! Containers: the process spec (pure), users, the record on disk, and the run verb.

pub mod layers;
pub mod run;
pub mod spec;
pub mod state;
pub mod user;

pub use run::{RunError, RunOptions, run};
