//! Removing images (`rmi`, `image prune`): what goes is planned from the store's records and the
//! containers' (pure), then done under the store lock. Layers are shared: one goes only when no
//! image left and no container names it. A removal writes down the layers it may free before it
//! removes an image's record, and the next removal finishes what a crash left of it.

use super::digest::Digest;
use super::store::{ImageRecord, Store, StoreError, write_atomic};
use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::PathBuf;

/// A container, as far as image removal cares: the image it was made from and the layers it mounts.
#[derive(Debug, Clone)]
pub struct ImageUser {
    pub name: String,
    pub image: Digest,
    pub layers: Vec<Digest>,
    pub running: bool,
}

/// One step of a removal, printed as docker prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    Untagged(String),
    /// The image (its id), then each layer that went with it (its diff id).
    Deleted(Digest),
}

#[derive(Debug, thiserror::Error)]
pub enum RemoveImageError {
    #[error(
        "unable to remove image {query} ({id}): container {container} uses it; remove the container first, or use rmi -f"
    )]
    InUse { query: String, id: String, container: String },
    #[error("unable to remove image {query} ({id}): container {container} runs on it; stop it first")]
    Running { query: String, id: String, container: String },
    #[error(
        "unable to remove image {id} by its id: it has several names ({names}); remove them by name, or use rmi -f"
    )]
    SeveralNames { id: String, names: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `rmi` of `image` (found by the name `by_name`, or by its id) does: untag that name alone
/// when the image has others (as docker does), else remove the image, unless a container uses it
/// (allowed with `force` when the container does not run; its layers stay while it does). Pure.
pub fn plan_rmi(
    image: &ImageRecord,
    query: &str,
    by_name: Option<&str>,
    force: bool,
    users: &[ImageUser],
) -> Result<Vec<Removed>, RemoveImageError> {
    if let Some(name) = by_name.filter(|_| image.names.len() > 1) {
        return Ok(vec![Removed::Untagged(name.to_string())]);
    }
    if by_name.is_none() && image.names.len() > 1 && !force {
        return Err(RemoveImageError::SeveralNames { id: image.id.short().into(), names: image.names.join(", ") });
    }
    let user = |running: bool| users.iter().find(|u| u.image == image.id && u.running == running);
    let refused = |u: &ImageUser| (query.to_string(), image.id.short().to_string(), u.name.clone());
    if let Some(u) = user(true) {
        let (query, id, container) = refused(u);
        return Err(RemoveImageError::Running { query, id, container });
    }
    if let Some(u) = user(false).filter(|_| !force) {
        let (query, id, container) = refused(u);
        return Err(RemoveImageError::InUse { query, id, container });
    }
    let mut steps: Vec<Removed> = image.names.iter().cloned().map(Removed::Untagged).collect();
    steps.push(Removed::Deleted(image.id.clone()));
    Ok(steps)
}

/// The images `image prune` removes: the dangling ones, as docker's (without a name, and the
/// parent of no image that stays: a build's intermediate images stay while an image made from
/// them does, and go with it), or with `all` every image no container uses. Pure.
pub fn prune_targets(images: &[ImageRecord], users: &[ImageUser], all: bool) -> Vec<Digest> {
    let unused = |i: &ImageRecord| !users.iter().any(|u| u.image == i.id);
    if all {
        return images.iter().filter(|i| unused(i)).map(|i| i.id.clone()).collect();
    }
    let mut children: HashMap<&Digest, usize> = HashMap::new();
    for p in images.iter().filter_map(|i| i.parent.as_ref()) {
        *children.entry(p).or_default() += 1;
    }
    let by_id: HashMap<&Digest, &ImageRecord> = images.iter().map(|i| (&i.id, i)).collect();
    let mut gone = BTreeSet::new();
    let mut leaves: Vec<&ImageRecord> = images.iter().filter(|i| !children.contains_key(&i.id)).collect();
    while let Some(i) = leaves.pop() {
        if !i.names.is_empty() || !unused(i) || !gone.insert(&i.id) {
            continue;
        }
        let Some(parent) = i.parent.as_ref() else { continue };
        if let Some(n) = children.get_mut(parent) {
            *n -= 1;
            if *n == 0
                && let Some(p) = by_id.get(parent)
            {
                leaves.push(p);
            }
        }
    }
    images.iter().filter(|i| gone.contains(&i.id)).map(|i| i.id.clone()).collect()
}

/// The layers of `freed` (diff ids) that neither an image of `kept` nor a container of `users`
/// names. Pure.
pub fn unreferenced(freed: &BTreeSet<Digest>, kept: &[ImageRecord], users: &[ImageUser]) -> BTreeSet<Digest> {
    let held: BTreeSet<&Digest> = kept
        .iter()
        .flat_map(|i| i.layers.iter().map(|l| &l.diff_id))
        .chain(users.iter().flat_map(|u| &u.layers))
        .collect();
    freed.iter().filter(|d| !held.contains(d)).cloned().collect()
}

/// What a removal does, decided from the store's images and containers as they are under the lock.
pub type Plan<'a> = dyn Fn(&[ImageRecord], &[ImageUser]) -> Result<Vec<Removed>, RemoveImageError> + 'a;

/// Where a removal notes the layers it may free, until it is done.
pub(super) const JOURNAL_PREFIX: &str = "removing-";

impl Store {
    fn journals(&self) -> Vec<PathBuf> {
        let dir = self.root().join("tmp");
        let Ok(entries) = fs::read_dir(&dir) else { return Vec::new() };
        entries
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(JOURNAL_PREFIX))
            .map(|e| e.path())
            .collect()
    }

    /// Does `plan` (steps of [`plan_rmi`] or [`prune_targets`]'s deletions) under the store lock, the
    /// containers read by `users` under it too; returns the steps done, then the layers freed
    /// (as `Deleted` of their diff ids), and the bytes freed. A removal that a crash cut short is
    /// finished first.
    pub fn remove_images(
        &self,
        plan: &Plan,
        users: &dyn Fn() -> Vec<ImageUser>,
    ) -> Result<(Vec<Removed>, u64), RemoveImageError> {
        self.remove_images_freeing(plan, users, &[])
    }

    /// [`Store::remove_images`] that may also free `also` (the layers of a container just removed
    /// whose image had been removed before it).
    pub fn remove_images_freeing(
        &self,
        plan: &Plan,
        users: &dyn Fn() -> Vec<ImageUser>,
        also: &[Digest],
    ) -> Result<(Vec<Removed>, u64), RemoveImageError> {
        let _lock = self.lock()?;
        let users = users();
        let mut freed: BTreeSet<Digest> = also.iter().cloned().collect();
        let leftovers = self.journals();
        for journal in &leftovers {
            let text = fs::read(journal).unwrap_or_default();
            freed.extend(serde_json::from_slice::<Vec<Digest>>(&text).unwrap_or_default());
        }
        let images = self.images()?;
        let steps = plan(&images, &users)?;
        let deleted: Vec<&ImageRecord> =
            images.iter().filter(|i| steps.contains(&Removed::Deleted(i.id.clone()))).collect();
        freed.extend(deleted.iter().flat_map(|i| i.layers.iter().map(|l| l.diff_id.clone())));
        let journal = self.root().join("tmp").join(format!("{JOURNAL_PREFIX}{}.json", crate::random::hex(8)));
        write_atomic(&journal, &serde_json::to_vec(&freed).expect("serializable"))?;
        for step in &steps {
            match step {
                Removed::Untagged(name) => {
                    if let Some(mut holder) = images.iter().find(|i| i.names.contains(name)).cloned() {
                        holder.names.retain(|n| n != name);
                        if !deleted.iter().any(|d| d.id == holder.id) {
                            self.write_image(&holder)?;
                        }
                    }
                }
                Removed::Deleted(id) => self.delete_image(id, deleted.iter().find(|d| d.id == *id).copied())?,
            }
        }
        let kept: Vec<ImageRecord> = self.images()?;
        let layers = unreferenced(&freed, &kept, &users);
        // With the layers go their blobs as shipped (kept for push and save) that no image left
        // names; a crash in between leaves blobs that nothing names, never a name without its blob.
        let mut blobs: BTreeSet<Digest> =
            deleted.iter().flat_map(|i| i.layers.iter().map(|l| l.digest.clone())).collect();
        let mut reclaimed = 0;
        for diff_id in &layers {
            blobs.extend(self.layer_meta(diff_id).ok().and_then(|m| m.blob));
            reclaimed += self.delete_layer(diff_id)?;
        }
        for blob in blobs.iter().filter(|b| !kept.iter().any(|i| i.layers.iter().any(|l| &l.digest == *b))) {
            let _ = fs::remove_file(self.blob_path(blob));
        }
        for j in leftovers.iter().chain([&journal]) {
            match fs::remove_file(j) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(StoreError::Io { path: j.clone(), source: e }.into());
                }
                _ => {}
            }
        }
        Ok((steps.into_iter().chain(layers.into_iter().map(Removed::Deleted)).collect(), reclaimed))
    }

    /// Removes the record of the image `id` and its config and manifest blobs.
    fn delete_image(&self, id: &Digest, record: Option<&ImageRecord>) -> Result<(), StoreError> {
        let path = self.image_path(id);
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(StoreError::Io { path, source: e }),
            _ => {}
        }
        let blobs = std::iter::once(id).chain(record.and_then(|r| r.manifest_digest.as_ref()));
        for blob in blobs {
            let _ = fs::remove_file(self.blob_path(blob));
        }
        Ok(())
    }

    /// Takes the layer out of `layers/` at once (a rename), then removes its files; returns its
    /// unpacked size.
    fn delete_layer(&self, diff_id: &Digest) -> Result<u64, StoreError> {
        let dir = self.layer_dir(diff_id);
        let size = self.layer_meta(diff_id).map_or(0, |m| m.unpacked_size);
        let gone = self.root().join("tmp").join(format!("rm-layer-{}", diff_id.hex()));
        match fs::rename(&dir, &gone) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            r => r.map_err(|source| StoreError::Io { path: dir.clone(), source })?,
        }
        crate::layer::fsops::remove_tree(&gone)
            .map_err(|e| StoreError::Io { path: gone.clone(), source: std::io::Error::from(e) })?;
        Ok(size)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::store::LayerRef;

    fn digest(n: u8) -> Digest {
        Digest::of(&[n])
    }

    fn image(id: u8, names: &[&str], layers: &[u8]) -> ImageRecord {
        ImageRecord {
            id: digest(id),
            names: names.iter().map(|n| n.to_string()).collect(),
            manifest_digest: None,
            layers: layers
                .iter()
                .map(|l| LayerRef { digest: digest(*l), diff_id: digest(*l), media_type: String::new(), size: 0 })
                .collect(),
            created: None,
            size: 0,
            parent: None,
        }
    }

    fn user(image: u8, layers: &[u8], running: bool) -> ImageUser {
        ImageUser {
            name: "c1".into(),
            image: digest(image),
            layers: layers.iter().map(|l| digest(*l)).collect(),
            running,
        }
    }

    #[test]
    fn a_name_of_several_is_untagged_and_the_last_removes_the_image() {
        let two = image(1, &["a:1", "b:1"], &[10]);
        assert_eq!(plan_rmi(&two, "a", Some("a:1"), false, &[]).unwrap(), [Removed::Untagged("a:1".into())]);
        let err = plan_rmi(&two, "id", None, false, &[]).unwrap_err().to_string();
        assert!(err.contains("several names (a:1, b:1)"), "{err}");
        let forced = plan_rmi(&two, "id", None, true, &[]).unwrap();
        assert_eq!(forced.len(), 3, "both names and the image: {forced:?}");
        let one = image(1, &["a:1"], &[10]);
        assert_eq!(
            plan_rmi(&one, "a", Some("a:1"), false, &[]).unwrap(),
            [Removed::Untagged("a:1".into()), Removed::Deleted(digest(1))]
        );
    }

    #[test]
    fn an_image_a_container_uses_goes_only_forced_and_never_while_it_runs() {
        let one = image(1, &["a:1"], &[10]);
        let err = plan_rmi(&one, "a", Some("a:1"), false, &[user(1, &[10], false)]).unwrap_err().to_string();
        assert!(err.contains("container c1 uses it") && err.contains("rmi -f"), "{err}");
        assert!(plan_rmi(&one, "a", Some("a:1"), true, &[user(1, &[10], false)]).is_ok());
        let err = plan_rmi(&one, "a", Some("a:1"), true, &[user(1, &[10], true)]).unwrap_err().to_string();
        assert!(err.contains("container c1 runs on it"), "{err}");
        assert!(plan_rmi(&one, "a", Some("a:1"), false, &[user(2, &[10], true)]).is_ok(), "another image's");
    }

    #[test]
    fn a_layer_goes_only_when_no_image_and_no_container_names_it() {
        let freed: BTreeSet<Digest> = [10, 11, 12].map(digest).into_iter().collect();
        let kept = [image(2, &["b:1"], &[11])];
        let users = [user(1, &[12], false)];
        assert_eq!(unreferenced(&freed, &kept, &users), [digest(10)].into_iter().collect());
    }

    #[test]
    fn prune_takes_the_unnamed_or_with_all_every_unused_image() {
        let images = [image(1, &[], &[10]), image(2, &["b:1"], &[11]), image(3, &[], &[12])];
        let users = [user(3, &[12], false)];
        assert_eq!(prune_targets(&images, &users, false), [digest(1)]);
        assert_eq!(prune_targets(&images, &users, true), [digest(1), digest(2)]);
    }

    #[test]
    fn prune_keeps_the_intermediate_images_of_an_image_that_stays_and_takes_those_of_one_that_goes() {
        let child =
            |n: u8, names: &[&str], parent: u8| ImageRecord { parent: Some(digest(parent)), ..image(n, names, &[]) };
        // 1 <- 2 <- 3 (named); 1 <- 4 <- 5 (unnamed: dangling, with 4); 6 <- 7 (a container's).
        let images = [
            image(1, &[], &[]),
            child(2, &[], 1),
            child(3, &["app:1"], 2),
            child(4, &[], 1),
            child(5, &[], 4),
            image(6, &[], &[]),
            child(7, &[], 6),
        ];
        let users = [user(7, &[], false)];
        assert_eq!(prune_targets(&images, &users, false), [digest(4), digest(5)]);
    }
}
