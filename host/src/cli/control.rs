//! `sbx stop [-t SECONDS]`, `sbx kill [-s SIGNAL]`, `sbx wait`: each takes containers by name or id
//! prefix, prints each name (wait: each exit code), and, like docker, goes on past an error and
//! exits 1 if there was one.

use crate::container::control;
use crate::image::Store;
use clap::Args;
use std::time::Duration;

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait after SIGTERM before SIGKILL.
    #[arg(short = 't', long = "time", default_value_t = 10)]
    pub time: u64,
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

#[derive(Args, Debug)]
pub struct WaitArgs {
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
            Err(e) => {
                eprintln!("sbx: {e}");
                code = 1;
            }
        }
    }
    code
}

pub fn stop(store: &Store, args: StopArgs) -> i32 {
    each(&args.containers, |c| control::stop(store, c, Duration::from_secs(args.time)))
}

pub fn kill(store: &Store, args: KillArgs) -> i32 {
    let signal = match control::signal_number(&args.signal) {
        Ok(s) => s,
        Err(e) => return super::fail(e),
    };
    each(&args.containers, |c| control::kill(store, c, signal))
}

pub fn wait(store: &Store, args: WaitArgs) -> i32 {
    each(&args.containers, |c| control::wait(store, c))
}
