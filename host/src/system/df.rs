//! `sbx system df`: what images and containers take on disk, and what removing the unused ones
//! would give back, in docker's rows. Pure: the caller measures.

use crate::image::Digest;
use crate::image::remove::ImageUser;
use std::collections::{BTreeMap, BTreeSet};

/// An image: its id and its layers with their unpacked sizes.
pub struct ImageUse {
    pub id: Digest,
    pub layers: Vec<(Digest, u64)>,
}

/// A container: its image, its layers and whether it runs, and what its writable layer holds.
pub struct ContainerUse {
    pub user: ImageUser,
    pub writable: u64,
}

/// One row: TYPE, TOTAL, ACTIVE, SIZE, RECLAIMABLE (bytes).
#[derive(Debug, PartialEq, Eq)]
pub struct Row {
    pub kind: &'static str,
    pub total: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

/// Images: layers counted once however many images share them; reclaimable what no image that a
/// container uses, and no container, holds. Containers: their writable layers; reclaimable those of
/// containers that do not run. Volumes, as (bytes, whether a container mounts it): reclaimable
/// those none mounts. sbx has no build cache: a row of zeros, as docker shows.
pub fn usage(images: &[ImageUse], containers: &[ContainerUse], volumes: &[(u64, bool)]) -> Vec<Row> {
    let sizes: BTreeMap<&Digest, u64> = images.iter().flat_map(|i| i.layers.iter().map(|(d, s)| (d, *s))).collect();
    let active: BTreeSet<&Digest> = containers.iter().map(|c| &c.user.image).collect();
    let held: BTreeSet<&Digest> = images
        .iter()
        .filter(|i| active.contains(&i.id))
        .flat_map(|i| i.layers.iter().map(|(d, _)| d))
        .chain(containers.iter().flat_map(|c| &c.user.layers))
        .collect();
    let reclaimable = sizes.iter().filter(|(d, _)| !held.contains(*d)).map(|(_, s)| s).sum();
    let stopped = containers.iter().filter(|c| !c.user.running);
    vec![
        Row {
            kind: "Images",
            total: images.len(),
            active: images.iter().filter(|i| active.contains(&i.id)).count(),
            size: sizes.values().sum(),
            reclaimable,
        },
        Row {
            kind: "Containers",
            total: containers.len(),
            active: containers.iter().filter(|c| c.user.running).count(),
            size: containers.iter().map(|c| c.writable).sum(),
            reclaimable: stopped.map(|c| c.writable).sum(),
        },
        Row {
            kind: "Local Volumes",
            total: volumes.len(),
            active: volumes.iter().filter(|(_, used)| *used).count(),
            size: volumes.iter().map(|(s, _)| s).sum(),
            reclaimable: volumes.iter().filter(|(_, used)| !used).map(|(s, _)| s).sum(),
        },
        Row { kind: "Build Cache", total: 0, active: 0, size: 0, reclaimable: 0 },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(n: u8) -> Digest {
        Digest::of(&[n])
    }

    #[test]
    fn shared_layers_count_once_and_only_unheld_ones_are_reclaimable() {
        let images = [
            ImageUse { id: d(1), layers: vec![(d(10), 100), (d(11), 10)] },
            ImageUse { id: d(2), layers: vec![(d(10), 100), (d(12), 5)] },
        ];
        let container = |running: bool, writable: u64| ContainerUse {
            user: ImageUser { name: "c".into(), image: d(1), layers: vec![d(10), d(11)], running },
            writable,
        };
        let containers = [container(true, 7), container(false, 3)];
        let rows = usage(&images, &containers, &[(8, true), (2, false)]);
        assert_eq!(rows[0], Row { kind: "Images", total: 2, active: 1, size: 115, reclaimable: 5 });
        assert_eq!(rows[1], Row { kind: "Containers", total: 2, active: 1, size: 10, reclaimable: 3 });
        assert_eq!(rows[2], Row { kind: "Local Volumes", total: 2, active: 1, size: 10, reclaimable: 2 });
        assert_eq!(rows.len(), 4);
    }
}
