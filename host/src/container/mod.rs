//! Containers: the child's plan, the record on disk, policy admission and lifecycle events, and
//! the run and rm verbs. The spec they run is [`crate::spec`]'s.

pub mod admission;
pub mod attach;
pub mod changes;
pub mod commit;
pub mod connect;
pub mod control;
pub mod copy;
pub mod create;
pub mod decision;
pub mod diff;
pub mod error;
pub mod etc_files;
pub mod events;
pub mod exec;
pub mod export;
pub mod filter;
pub mod health;
pub mod image;
pub mod init_layer;
pub mod layers;
pub mod log;
pub mod monitor;
pub mod network;
pub mod process;
pub mod remove;
pub mod rename;
pub mod run;
pub mod sharing;
pub mod signals;
pub mod start;
pub mod state;
pub mod stats;
pub mod terminal;
pub mod top;
pub mod update;
pub mod view;
pub mod volumes;

pub use create::RunOptions;
pub use error::RunError;
pub use run::run;
