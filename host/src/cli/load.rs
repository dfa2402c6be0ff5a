//! `sbx load -i PATH` / `sbx image load PATH`.

use crate::image::{Store, load};
use clap::Args;
use std::io::IsTerminal as _;
use std::path::PathBuf;

const STDIN_ARCHIVE: &str = "stdin.tar";

/// Stdin copied to a staging directory: an archive is read in the order its index says, which a
/// pipe cannot be.
fn copy_stdin(store: &Store) -> Result<crate::image::store::Staging, String> {
    let staging = store.stage().map_err(|e| e.to_string())?;
    let path = staging.path().join(STDIN_ARCHIVE);
    let mut file = std::fs::File::create(&path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    std::io::copy(&mut std::io::stdin().lock(), &mut file)
        .map_err(|e| format!("cannot read the archive from stdin: {e}"))?;
    Ok(staging)
}

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
    let stdin_copy; // the archive read from stdin, as docker's load takes it; gone when dropped
    let path = match args.input.or(args.path) {
        Some(path) => path,
        None => {
            if std::io::stdin().is_terminal() {
                return super::fail("nothing to load: give the archive with -i PATH, or on stdin");
            }
            stdin_copy = match copy_stdin(store) {
                Ok(s) => s,
                Err(e) => return super::fail(e),
            };
            stdin_copy.path().join(STDIN_ARCHIVE)
        }
    };
    match load::load(store, &path) {
        Ok(images) => {
            for image in &images {
                let id = image.id.to_string();
                for name in image.names.iter().chain(image.names.is_empty().then_some(&id)) {
                    crate::journal::image(store.root(), "load", name);
                }
            }
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
