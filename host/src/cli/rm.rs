//! `sbx rm [-f] CONTAINER...`.

use crate::container::remove::remove;
use crate::image::Store;
use clap::Args;

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Kill a running container first.
    #[arg(short, long)]
    pub force: bool,
    /// Names or id prefixes.
    #[arg(required = true)]
    pub containers: Vec<String>,
}

/// Like docker: removes what it can, prints each name, and fails if any could not be removed.
pub fn rm(store: &Store, args: RmArgs) -> i32 {
    let mut code = 0;
    for c in &args.containers {
        match remove(store, c, args.force) {
            Ok(_) => println!("{c}"),
            Err(e) => code = super::fail(e),
        }
    }
    code
}
