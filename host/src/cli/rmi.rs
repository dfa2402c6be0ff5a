//! `sbx rmi [-f] IMAGE...` (= `sbx image rm`) and `sbx image prune [-a] [-f]`, with docker's output:
//! `Untagged: NAME`, `Deleted: sha256:...` for the image and each layer that went with it.

use crate::container::remove::image_users as users;
use crate::image::reference::{normalize_name, short_name_candidates};
use crate::image::remove::{ImageUser, RemoveImageError, Removed, plan_rmi, prune_targets};
use crate::image::{ImageRecord, Store, StoreError};
use clap::Args;

#[derive(Args, Debug)]
pub struct RmiArgs {
    /// Remove an image that stopped containers use (their layers stay while they do), or that
    /// has several names, by its id.
    #[arg(short, long)]
    pub force: bool,
    /// Names or id prefixes.
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Every image no container uses, not only those without a name.
    #[arg(short, long)]
    pub all: bool,
    /// Do not ask for confirmation.
    #[arg(short, long)]
    pub force: bool,
}

/// The name of `image` that `query` found it by, if it was a name.
fn matched_name(store: &Store, image: &ImageRecord, query: &str) -> Option<String> {
    let candidates = short_name_candidates(query, &store.search_registries)
        .unwrap_or_else(|| normalize_name(query).into_iter().collect());
    candidates.into_iter().find(|c| image.names.contains(c))
}

fn print(store: &Store, steps: &[Removed]) {
    for step in steps {
        match step {
            Removed::Untagged(name) => {
                crate::journal::image(store.root(), "untag", name);
                say!("Untagged: {name}")
            }
            Removed::Deleted(id) => {
                crate::journal::image(store.root(), "delete", &id.to_string());
                say!("Deleted: {id}")
            }
        }
    }
}

/// A refusal the user can act on exits 1, as docker's; the store's failures 125.
fn fail(e: RemoveImageError) -> i32 {
    let refused = !matches!(&e, RemoveImageError::Store(StoreError::Io { .. } | StoreError::Damaged { .. }));
    super::refuse_or_fail(e, refused)
}

/// Like docker: removes what it can, in order, and fails if any could not be removed.
pub fn rmi(store: &Store, args: RmiArgs) -> i32 {
    let mut code = 0;
    for query in &args.images {
        let image = match store.find_image(query) {
            Ok(i) => i,
            Err(e) => {
                code = fail(e.into());
                continue;
            }
        };
        let by_name = matched_name(store, &image, query);
        let plan = |images: &[ImageRecord], users: &[ImageUser]| {
            // As it is now, under the lock.
            let now = images.iter().find(|i| i.id == image.id).ok_or_else(|| StoreError::NotFound(query.clone()))?;
            plan_rmi(now, query, by_name.as_deref(), args.force, users)
        };
        match store.remove_images(&plan, &|| users(store)) {
            Ok((steps, _)) => print(store, &steps),
            Err(e) => code = fail(e),
        }
    }
    code
}

/// What an image prune removes, as its prompt says it.
pub fn prune_what(all: bool) -> &'static str {
    if all { "all images without at least one container" } else { "all dangling images" }
}

pub fn prune(store: &Store, args: PruneArgs) -> i32 {
    if !args.force && !super::confirm(prune_what(args.all)) {
        return 0;
    }
    match prune_images(store, args.all) {
        Ok(reclaimed) => {
            say!("Total reclaimed space: {}", super::images::human_size(reclaimed));
            0
        }
        Err(e) => fail(e),
    }
}

/// Removes the images without a name (with `all`, every image no container uses), printing their
/// ids; returns the bytes given back.
pub fn prune_images(store: &Store, all: bool) -> Result<u64, crate::image::remove::RemoveImageError> {
    let plan = |images: &[ImageRecord], users: &[ImageUser]| {
        Ok(prune_targets(images, users, all).into_iter().map(Removed::Deleted).collect())
    };
    // Layers no image names (left by a pull that was cut short and not tried again) go too; those
    // a container mounts stay.
    let orphans = store.layer_ids();
    let (steps, reclaimed) = store.remove_images_freeing(&plan, &|| users(store), &orphans)?;
    if !steps.is_empty() {
        say!("Deleted Images:");
        for step in &steps {
            if let Removed::Deleted(id) = step {
                say!("deleted: {id}");
            }
        }
        say!("");
    }
    Ok(reclaimed)
}
