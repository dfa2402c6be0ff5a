//! The image a container runs: found by name, id or path (a path is loaded first), and its config.

use super::error::RunError;
use crate::image::load;
use crate::image::reference::{self, ImageArg};
use crate::image::{ImageRecord, Store};
use oci_spec::image::ImageConfiguration;
use std::path::Path;

/// Finds the image: loads it first when the argument is a path.
pub fn resolve_image(store: &Store, arg: &str) -> Result<ImageRecord, RunError> {
    match reference::classify(arg, |p| Path::new(p).exists()) {
        ImageArg::Path(path) => {
            let mut images = load::load(store, &path)?;
            match images.len() {
                1 => Ok(images.remove(0)),
                count => Err(RunError::NotOneImage { path, count }),
            }
        }
        ImageArg::Stored(query) => Ok(store.find_image(&query)?),
    }
}

pub fn image_config(store: &Store, image: &ImageRecord) -> Result<ImageConfiguration, RunError> {
    parse_config(image, &store.blob(&image.id)?)
}

/// The image's config from the bytes of its config blob.
pub fn parse_config(image: &ImageRecord, bytes: &[u8]) -> Result<ImageConfiguration, RunError> {
    ImageConfiguration::from_reader(bytes)
        .map_err(|e| RunError::Config { image: image.id.to_string(), message: e.to_string() })
}
