//! `sbx export [-o FILE] CONTAINER` (= `sbx container export`): the container's merged filesystem
//! as a tarball, to stdout or a file; a terminal is refused, as docker refuses it.

use crate::container::export::export as export_container;
use crate::image::Store;
use clap::Args;
use std::io::Write;
use std::os::fd::AsFd;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Write to this file instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// A name or an id prefix.
    pub container: String,
}

pub fn export(store: &Store, args: ExportArgs) -> i32 {
    let out: Box<dyn Write> = match &args.output {
        Some(path) => match std::fs::File::create(path) {
            Ok(f) => Box::new(std::io::BufWriter::new(f)),
            Err(e) => return super::fail(format!("cannot create {}: {e}", path.display())),
        },
        None if crate::container::terminal::is_terminal(std::io::stdout().as_fd()) => {
            return super::fail("refusing to write a tarball to a terminal: use -o FILE or redirect stdout");
        }
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    match export_container(store, &args.container, out) {
        Ok(()) => 0,
        Err(e) => {
            if let Some(path) = &args.output {
                let _ = std::fs::remove_file(path);
            }
            let refused = matches!(&e, crate::container::export::ExportError::Find(f) if f.is_refusal());
            super::refuse_or_fail(e, refused)
        }
    }
}
