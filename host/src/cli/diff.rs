//! `sbx diff CONTAINER`: the changes of its writable layer, `A`, `C` and `D` lines as docker's.

use crate::container::diff;
use crate::container::state;
use crate::image::Store;
use clap::Args;

#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The container: its name or an id prefix.
    pub container: String,
}

pub fn diff(store: &Store, args: DiffArgs) -> i32 {
    let (dir, record) = match state::find(store, &args.container) {
        Ok(found) => found,
        Err(e) => return super::refuse_or_fail(&e, e.is_refusal()),
    };
    let layers = match record.mounted_layers(store) {
        Ok(l) => l,
        Err(e) => return super::fail(e),
    };
    let indexes = match layers.iter().map(|d| store.layer_index(d)).collect::<Result<Vec<_>, _>>() {
        Ok(i) => i,
        Err(e) => return super::fail(e),
    };
    let upper = match diff::walk(&dir.join("upper")) {
        Ok(u) => u,
        Err(e) => return super::fail(format!("cannot read the writable layer of {}: {e}", record.name)),
    };
    for line in diff::changes(&upper, &diff::merged(&indexes)) {
        say!("{line}");
    }
    0
}
