//! `sbx import FILE|- [REPOSITORY[:TAG]]` (= `sbx image import`): a root filesystem tarball as an
//! image; prints its id, as docker does.

use crate::image::Store;
use crate::image::import::import as import_image;
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// A tarball of a root filesystem (plain, gzip or zstd), or `-` for stdin.
    pub file: String,
    /// The image's name.
    pub name: Option<String>,
}

pub fn import(store: &Store, args: ImportArgs) -> i32 {
    let path = Path::new(&args.file);
    let imported = match args.file.as_str() {
        "-" => import_image(store, std::io::stdin().lock(), Path::new("stdin"), args.name.as_deref()),
        _ => match std::fs::metadata(path) {
            Ok(m) if m.is_file() => match std::fs::File::open(path) {
                Ok(f) => import_image(store, f, path, args.name.as_deref()),
                Err(e) => return super::fail(format!("cannot read {}: {e}", path.display())),
            },
            Ok(_) => {
                return super::fail(format!(
                    "{} is not a regular file: give a tarball, or - for stdin",
                    path.display()
                ));
            }
            Err(e) => return super::fail(format!("cannot read {}: {e}", path.display())),
        },
    };
    match imported {
        Ok(image) => {
            crate::journal::image(store.root(), "import", &image.id.to_string());
            say!("{}", image.id);
            0
        }
        Err(e) => super::fail(e),
    }
}
