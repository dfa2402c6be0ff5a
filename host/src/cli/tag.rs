//! `sbx tag SOURCE TARGET` (= `sbx image tag`): another name for an image, moved from whichever
//! image held it, as docker does.

use crate::image::Store;
use crate::image::reference::normalize_name;
use clap::Args;

#[derive(Args, Debug)]
pub struct TagArgs {
    /// The image: a name or an id prefix.
    pub source: String,
    /// The new name, NAME[:TAG].
    pub target: String,
}

pub fn tag(store: &Store, args: TagArgs) -> i32 {
    let name = match normalize_name(&args.target) {
        Ok(n) if !n.contains('@') => n,
        Ok(_) => return super::fail(format!("'{}': a name to give an image has a tag, not a digest", args.target)),
        Err(e) => return super::fail(e),
    };
    let mut image = match store.find_image(&args.source) {
        Ok(i) => i,
        Err(e) => return super::fail(e),
    };
    image.names.push(name.clone());
    match store.save_image(image) {
        Ok(_) => {
            crate::journal::image(store.root(), "tag", &name);
            0
        }
        Err(e) => super::fail(e),
    }
}
