//! sbx: a daemonless container sandbox host whose image, layer and spec policies and lifecycle
//! hooks are WebAssembly components. See the repository's README and shared DESIGN for the map.

pub mod build;
pub mod cli;
pub mod config;
pub mod container;
pub mod dockerfile;
pub mod image;
pub mod isolate;
pub mod journal;
pub mod layer;
pub mod network;
pub mod plugin;
pub mod policy_test;
pub mod random;
pub mod registry;
pub mod rootfs;
pub mod runtime;
pub mod spec;
pub mod sys;
pub mod system;
pub mod time;
pub mod volume;
