//! `sbx rename CONTAINER NEW_NAME`.

use crate::container::rename::rename as rename_container;
use crate::image::Store;
use clap::Args;

#[derive(Args, Debug)]
pub struct RenameArgs {
    /// The container: a name or an id prefix.
    pub container: String,
    /// Its new name ([a-zA-Z0-9][a-zA-Z0-9_.-]+).
    pub new_name: String,
}

pub fn rename(store: &Store, args: RenameArgs) -> i32 {
    match rename_container(store, &args.container, &args.new_name) {
        Ok(_) => 0,
        Err(e) => super::refuse_or_fail(&e, e.is_rename_refusal()),
    }
}
