//! A container's record on disk (`containers/<id>/container.json`), written atomically.

use crate::image::Digest;
use crate::image::store::{StoreError, write_atomic};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    Exited,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    /// The image as the user named it, and its id.
    pub image: String,
    pub image_id: Digest,
    pub command: Vec<String>,
    pub created: String,
    pub status: Status,
    pub pid: Option<i32>,
    pub exit_code: Option<i32>,
    pub finished: Option<String>,
}

pub const RECORD: &str = "container.json";

impl ContainerRecord {
    pub fn save(&self, dir: &Path) -> Result<(), StoreError> {
        write_atomic(
            &dir.join(RECORD),
            &serde_json::to_vec_pretty(self).expect("serializable"),
        )
    }

    pub fn load(dir: &Path) -> Option<ContainerRecord> {
        serde_json::from_slice(&std::fs::read(dir.join(RECORD)).ok()?).ok()
    }
}
