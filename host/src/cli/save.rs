//! `sbx save [-o PATH] [--format docker-archive|oci-archive|oci-dir] IMAGE...` (= `sbx image
//! save`): to stdout (not a terminal) or a file written whole or not at all; oci-dir needs -o.

use crate::image::save::{Format, write_archive, write_dir};
use crate::image::{Store, reference};
use clap::Args;
use std::os::fd::AsFd;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Write to this file (a directory for oci-dir) instead of stdout.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "docker-archive")]
    pub format: Format,
    /// The images: names or id prefixes.
    #[arg(required = true)]
    pub images: Vec<String>,
}

pub fn save(store: &Store, args: SaveArgs) -> i32 {
    let mut images = Vec::new();
    for query in &args.images {
        match store.find_image(query) {
            // Asked by a name, the image is saved under that name alone (as docker does).
            Ok(image) => {
                let name = reference::normalize_name(query).ok().filter(|n| image.names.contains(n));
                images.push((image, name));
            }
            Err(e) => return super::fail(e),
        }
    }
    if args.format == Format::OciDir {
        let Some(dir) = &args.output else {
            return super::fail("--format oci-dir writes a directory: give it with -o DIR");
        };
        return write_dir(store, &images, dir).map_or_else(super::fail, |()| 0);
    }
    match &args.output {
        Some(path) => {
            // Written beside its place and renamed into it whole.
            let tmp = path.with_file_name(format!(
                ".{}.sbx-{}",
                path.file_name().map(|n| n.to_string_lossy()).unwrap_or_default(),
                crate::random::hex(6)
            ));
            let written = std::fs::File::create(&tmp)
                .map_err(|e| format!("cannot create {}: {e}", path.display()))
                .and_then(|f| {
                    let out = std::io::BufWriter::with_capacity(256 << 10, f);
                    write_archive(store, &images, args.format, out, path).map_err(|e| e.to_string())
                })
                .and_then(|()| {
                    std::fs::rename(&tmp, path).map_err(|e| format!("cannot write {}: {e}", path.display()))
                });
            match written {
                Ok(()) => 0,
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    super::fail(e)
                }
            }
        }
        None if crate::container::terminal::is_terminal(std::io::stdout().as_fd()) => {
            super::fail("refusing to write a tarball to a terminal: use -o FILE or redirect stdout")
        }
        None => {
            let out = std::io::BufWriter::with_capacity(256 << 10, std::io::stdout().lock());
            write_archive(store, &images, args.format, out, std::path::Path::new("stdout"))
                .map_or_else(super::fail, |()| 0)
        }
    }
}
