//! Containers: the process spec (pure), users, the record on disk, and the run and rm verbs.

pub mod admission;
pub mod layers;
pub mod remove;
pub mod run;
pub mod spec;
pub mod state;
pub mod user;

pub use run::{RunError, RunOptions, run};
