//! `sbx load -i PATH` / `sbx image load PATH`.

use crate::image::{Store, load};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// The archive or layout to load (docker-archive, oci-archive, OCI layout directory).
    #[arg(short = 'i', long = "input", value_name = "PATH")]
    pub input: Option<PathBuf>,
    #[arg(value_name = "PATH", conflicts_with = "input")]
    pub path: Option<PathBuf>,
    /// Print nothing but errors.
    #[arg(short, long)]
    pub quiet: bool,
}

pub fn load(store: &Store, args: LoadArgs) -> i32 {
    let Some(path) = args.input.or(args.path) else {
        return super::fail("nothing to load: give the archive with -i PATH");
    };
    match load::load(store, &path) {
        Ok(images) => {
            if !args.quiet {
                for image in images {
                    if image.names.is_empty() {
                        say!("Loaded image ID: {}", image.id);
                    }
                    for name in image.names {
                        say!("Loaded image: {name}");
                    }
                }
            }
            0
        }
        Err(e) => super::fail(e),
    }
}
