//! `sbx attach [--no-stdin] [--sig-proxy=BOOL] CONTAINER`: a running container's output from now on,
//! stdout to stdout and stderr to stderr, until it ends; exits with its exit code. Signals sbx gets
//! go to the container (docker's `--sig-proxy`, on by default); `--sig-proxy=false` lets Ctrl-C
//! detach. The output comes from the container's log, which the sbx running it writes; its stdin
//! is not sbx's to give (a detached container's is /dev/null), so none attaches.

use super::logs::{Shown, follow};
use crate::container::log::LOG;
use crate::container::{signals, state};
use crate::image::Store;
use clap::Args;
use std::io::{BufReader, Seek, SeekFrom};

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Do not attach stdin (sbx never does: accepted for docker's scripts).
    #[arg(long)]
    pub no_stdin: bool,
    /// Pass the signals sbx gets on to the container.
    #[arg(long, default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
    pub sig_proxy: bool,
    pub container: String,
}

pub fn attach(store: &Store, args: AttachArgs) -> i32 {
    let (dir, record) = match state::find(store, &args.container) {
        Ok(found) => found,
        Err(e) => return super::refuse_or_fail(&e, e.is_refusal()),
    };
    let pid = match record.pid {
        Some(pid) if state::is_running(&dir) => pid,
        _ => {
            let message = format!("cannot attach to a stopped container {}: start it first", record.name);
            return super::refuse_or_fail(message, true);
        }
    };
    let file = std::fs::File::open(dir.join(LOG)).and_then(|mut f| f.seek(SeekFrom::End(0)).map(|_| f));
    let file = match file {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return super::fail(format!(
                "container {} keeps no log (a --rm container run in the foreground): its output goes to the terminal that runs it",
                record.name
            ));
        }
        Err(e) => return super::fail(format!("cannot read the output of {}: {e}", record.name)),
    };
    if args.sig_proxy {
        signals::forward_to(pid);
    }
    follow(&mut BufReader::new(file), String::new(), &dir, &Shown::default());
    signals::stop();
    // Its sbx recorded the end before it let go of the container.
    match state::ContainerRecord::load(&dir) {
        Some(r) => r.exit_code.unwrap_or(0),
        None => 0, // a --rm container, gone with its record
    }
}
