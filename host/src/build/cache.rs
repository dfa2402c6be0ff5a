//! The build cache: for each step, the image it made, found again by a key of what the step's
//! result depends on, as docker keys its cache: the image it starts from, the instruction as
//! written, the build arguments in scope, and for COPY and ADD a digest of the files copied.
//! Kept in the store (`build-cache/KEY`, the image's id), used across builds; an entry whose
//! image or layers are gone is a miss. `sbx builder prune` empties it.

use crate::image::remove::Removed;
use crate::image::{Digest, ImageRecord, Store, StoreError};
use sha2::{Digest as _, Sha256};
use std::path::PathBuf;

/// The key of a step. Pure.
pub fn key(parent: Option<&Digest>, step: &str, args: &[String], content: Option<&str>) -> String {
    let mut h = Sha256::new();
    let mut part = |label: &str, value: &str| {
        h.update(label.as_bytes());
        h.update((value.len() as u64).to_le_bytes());
        h.update(value.as_bytes());
    };
    part("parent", &parent.map_or_else(|| "scratch".to_string(), ToString::to_string));
    part("step", step);
    for a in args {
        part("arg", a);
    }
    if let Some(c) = content {
        part("content", c);
    }
    hex::encode(h.finalize())
}

fn dir(store: &Store) -> PathBuf {
    store.root().join("build-cache")
}

/// The image the step of `key` made, if it and its layers are still stored.
pub fn lookup(store: &Store, key: &str) -> Option<ImageRecord> {
    let text = std::fs::read_to_string(dir(store).join(key)).ok()?;
    let id: Digest = text.trim().parse().ok()?;
    let image = store.find_image(id.hex()).ok().filter(|i| i.id == id)?;
    image.layers.iter().all(|l| store.has_layer(&l.diff_id)).then_some(image)
}

/// Remembers that the step of `key` made `id`.
pub fn remember(store: &Store, key: &str, id: &Digest) -> Result<(), StoreError> {
    let dir = dir(store);
    std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io { path: dir.clone(), source })?;
    crate::image::store::write_atomic(&dir.join(key), id.to_string().as_bytes())
}

/// Empties the cache: its entries, and the images they name that have no name and that no
/// container uses (with the layers no other image holds). Returns how many images went and the
/// bytes freed.
pub fn prune(store: &Store) -> Result<(usize, u64), crate::image::remove::RemoveImageError> {
    let dir = dir(store);
    let mut cached = std::collections::BTreeSet::new();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if let Some(id) = std::fs::read_to_string(entry.path()).ok().and_then(|t| t.trim().parse::<Digest>().ok()) {
            cached.insert(id);
        }
        files.push(entry.path());
    }
    let plan = |images: &[ImageRecord], users: &[crate::image::remove::ImageUser]| {
        Ok(images
            .iter()
            .filter(|i| cached.contains(&i.id) && i.names.is_empty() && !users.iter().any(|u| u.image == i.id))
            .map(|i| Removed::Deleted(i.id.clone()))
            .collect())
    };
    let (removed, bytes) = store.remove_images(&plan, &|| crate::container::remove::image_users(store))?;
    for f in files {
        let _ = std::fs::remove_file(f);
    }
    let images = removed.iter().filter(|r| matches!(r, Removed::Deleted(d) if cached.contains(d))).count();
    Ok((images, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_changes_with_each_input_and_only_with_them() {
        let p: Digest = Digest::of(b"parent");
        let base = key(Some(&p), "RUN make", &["A=1".into()], None);
        assert_eq!(base, key(Some(&p), "RUN make", &["A=1".into()], None), "the same step, the same key");
        let others = [
            key(None, "RUN make", &["A=1".into()], None),
            key(Some(&Digest::of(b"other")), "RUN make", &["A=1".into()], None),
            key(Some(&p), "RUN make all", &["A=1".into()], None),
            key(Some(&p), "RUN make", &["A=2".into()], None),
            key(Some(&p), "RUN make", &[], None),
            key(Some(&p), "RUN make", &["A=1".into()], Some("sha256:files")),
        ];
        for (i, k) in others.iter().enumerate() {
            assert_ne!(&base, k, "input {i} is part of the key");
        }
        // Parts are framed: moving text from one part to the next is another key.
        assert_ne!(key(None, "ab", &["c".into()], None), key(None, "a", &["bc".into()], None));
    }
}
