//! Containers: the spec (pure), the child's plan, users, the record on disk, policy admission and
//! lifecycle events, and the run and rm verbs.

pub mod admission;
pub mod commit;
pub mod control;
pub mod create;
pub mod decision;
pub mod diff;
pub mod events;
pub mod exec;
pub mod layers;
pub mod monitor;
pub mod process;
pub mod remove;
pub mod run;
pub mod security;
pub mod spec;
pub mod start;
pub mod state;
pub mod stats;
pub mod terminal;
pub mod user;
pub mod view;

pub use run::{RunError, RunOptions, run};
