//! `sbx update [OPTIONS] CONTAINER...`: new resource limits, as docker's `update`.

use crate::container::update::update as update_container;
use crate::image::Store;
use crate::plugin::PluginSet;
use crate::spec::{self, Limits};
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct UpdateArgs {
    /// Memory limit (bytes, or with a unit: 512k, 64m, 1g).
    #[arg(short = 'm', long, value_name = "BYTES", value_parser = spec::parse_memory)]
    pub memory: Option<u64>,
    /// Memory plus swap (bytes or with a unit); -1 for unlimited swap.
    #[arg(long, value_name = "BYTES", value_parser = spec::parse_memory_swap, allow_hyphen_values = true)]
    pub memory_swap: Option<i64>,
    /// CPUs the container may use (1.5 = one and a half).
    #[arg(long, value_name = "N", value_parser = spec::parse_cpus)]
    pub cpus: Option<u64>,
    /// Relative CPU weight against other containers.
    #[arg(short = 'c', long, value_name = "N", value_parser = clap::value_parser!(u64).range(2..=262_144))]
    pub cpu_shares: Option<u64>,
    /// The CPUs the container may run on (0-3, 0,1).
    #[arg(long, value_name = "CPUS", value_parser = spec::parse_cpuset)]
    pub cpuset_cpus: Option<String>,
    /// Most processes and threads the container may have.
    #[arg(long, value_name = "N")]
    pub pids_limit: Option<u64>,
    /// A restart policy. Not supported: sbx has no restart policies yet.
    #[arg(long, value_name = "POLICY")]
    pub restart: Option<String>,
    /// Names or id prefixes.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Like docker: updates what it can, prints each name, and fails if any could not be updated.
pub fn update(store: &Store, args: UpdateArgs, config: Option<&Path>) -> i32 {
    if args.restart.is_some() {
        return super::fail("update --restart is not supported: sbx has no restart policies yet");
    }
    let asked = Limits {
        memory_bytes: args.memory,
        pids: args.pids_limit,
        cpu_millis: args.cpus,
        memory_swap: args.memory_swap,
        cpu_shares: args.cpu_shares,
        cpuset_cpus: args.cpuset_cpus,
    };
    if asked == Limits::default() {
        return super::fail("update needs at least one limit to change (--memory, --cpus, --pids-limit...)");
    }
    let plugins = match super::config::resolve(config) {
        Ok(c) => PluginSet::new(&crate::plugin::compile::cache_dir(), c.plugins),
        Err(code) => return code,
    };
    let mut code = 0;
    for c in &args.containers {
        match update_container(store, c, &asked, &plugins) {
            Ok(_) => say!("{c}"),
            Err(e) => code = code.max(super::run::fail_run(e)),
        }
    }
    code
}
