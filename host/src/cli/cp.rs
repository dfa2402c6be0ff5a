//! `sbx cp [-a] CONTAINER:SRC DEST|-` and `sbx cp [-a] SRC|- CONTAINER:DEST`.

use crate::container::copy::{self, Endpoint};
use crate::image::Store;
use clap::Args;

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Keep the files' owners (uid and gid) as they are.
    #[arg(short, long)]
    pub archive: bool,
    /// Follow a symlink that the source names (inside the container for a container's path):
    /// its target's content is copied, under the link's name.
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// Accepted as docker's flag: sbx prints no progress.
    #[arg(short, long)]
    pub quiet: bool,
    /// CONTAINER:SRC_PATH, a host path, or - (a tar stream on stdin).
    pub source: String,
    /// CONTAINER:DEST_PATH, a host path, or - (a tar stream on stdout).
    pub destination: String,
}

pub fn cp(store: &Store, args: CpArgs) -> i32 {
    let result = match (copy::endpoint(&args.source), copy::endpoint(&args.destination)) {
        (Endpoint::Container { query, path }, dest @ (Endpoint::Host(_) | Endpoint::Stream)) => {
            copy::copy_out(store, &query, &path, &dest, args.archive, args.follow_link)
        }
        (src @ (Endpoint::Host(_) | Endpoint::Stream), Endpoint::Container { query, path }) => {
            copy::copy_in(store, &src, &query, &path, args.archive, args.follow_link)
        }
        (Endpoint::Container { .. }, Endpoint::Container { .. }) => Err(copy::CopyError::TwoContainers),
        _ => Err(copy::CopyError::NoContainer),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            let refused = e.is_refusal();
            super::refuse_or_fail(e, refused)
        }
    }
}
