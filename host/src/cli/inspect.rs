//! `sbx inspect CONTAINER...`: a JSON array with each container's config, state (exit code, pid,
//! start and finish times, OOM), mounts and writable layer, as docker prints it. Like docker, an
//! unknown name prints an error and makes the exit code 1.

use crate::container::state;
use crate::container::view;
use crate::image::Store;
use clap::Args;

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Names or id prefixes.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn inspect(store: &Store, args: InspectArgs) -> i32 {
    let mut found = Vec::new();
    let mut code = 0;
    for query in &args.containers {
        match state::find(store, query) {
            Ok((dir, record)) => {
                let spec = state::load_spec(&dir);
                let running = state::is_running(&dir);
                found.push(view::inspect(&record, spec.as_ref(), running, &dir.to_string_lossy()));
            }
            Err(e) => {
                eprintln!("sbx: {e}");
                code = 1;
            }
        }
    }
    say!("{}", serde_json::to_string_pretty(&found).expect("serializable"));
    code
}
