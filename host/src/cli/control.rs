//! `sbx stop [-t SECONDS] [-s SIGNAL]`, `sbx kill [-s SIGNAL]`, `sbx wait`, `sbx pause`, `sbx
//! unpause`: each takes containers by name or id prefix, prints each name (wait: each exit code),
//! and, like docker, goes on past an error and exits 1 if one was refused (125 if sbx failed).

use crate::container::control;
use crate::image::Store;
use clap::Args;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait after the stop signal before SIGKILL [default: the container's
    /// --stop-timeout, else 10].
    #[arg(short = 't', long = "time", alias = "timeout")]
    pub time: Option<u64>,
    /// The signal to send first [default: the container's --stop-signal, else the image's
    /// StopSignal, else TERM].
    #[arg(short, long)]
    pub signal: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// The signal: a name (KILL, SIGTERM, HUP) or a number.
    #[arg(short, long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// `wait`, `pause`, `unpause`: containers and nothing else.
#[derive(Args, Debug)]
pub struct ContainersArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

fn each<T: std::fmt::Display>(
    containers: &[String],
    mut act: impl FnMut(&str) -> Result<T, control::ControlError>,
) -> i32 {
    let mut code = 0;
    for c in containers {
        match act(c) {
            Ok(out) => say!("{out}"),
            Err(e) => code = code.max(super::refuse_or_fail(&e, e.is_refusal())),
        }
    }
    code
}

/// `-s`, when given, as a number; Err(exit code) once an unknown signal is said.
pub fn signal_of(args: &StopArgs) -> Result<Option<i32>, i32> {
    args.signal.as_deref().map(control::signal_number).transpose().map_err(super::fail)
}

pub fn stop(store: &Store, args: StopArgs) -> i32 {
    let signal = match signal_of(&args) {
        Ok(s) => s,
        Err(code) => return code,
    };
    each(&args.containers, |c| control::stop(store, c, args.time.map(Duration::from_secs), signal))
}

pub fn kill(store: &Store, args: KillArgs) -> i32 {
    let signal = match control::signal_number(&args.signal) {
        Ok(s) => s,
        Err(e) => return super::fail(e),
    };
    each(&args.containers, |c| control::kill(store, c, signal))
}

pub fn wait(store: &Store, args: ContainersArgs) -> i32 {
    each(&args.containers, |c| control::wait(store, c))
}

/// `pause` (`freeze`) or `unpause`.
pub fn pause(store: &Store, args: ContainersArgs, freeze: bool) -> i32 {
    each(&args.containers, |c| control::pause(store, c, freeze))
}
