//! `sbx build`: a Dockerfile's stages built step by step, as the model says images are made: each
//! RUN runs in a container of the image so far (the isolation, policies and hooks of `sbx run`)
//! and its writable layer becomes the next read-only layer; COPY and ADD write the context's files
//! through an overlay of the image so far into a new layer; the other instructions change only the
//! config. Every step's image is stored (unnamed, with its parent: docker's intermediate images)
//! and found again through the build cache. Above [`crate::container`] and [`crate::dockerfile`].

pub mod cache;
pub mod context;
pub mod error;
pub mod executor;
pub mod run_step;
pub mod sources;
pub mod stages;
pub mod transfer;
pub mod working;

pub use error::BuildError;
pub use executor::{BuildOptions, build};
