//! Images: digests, references, the content store, and loading archives into it.

pub mod digest;
pub mod import;
pub mod inspect;
pub mod load;
pub mod manifest;
pub mod reference;
pub mod remove;
pub mod save;
pub mod source;
pub mod store;

pub use digest::Digest;
pub use store::{ImageRecord, Store, StoreError};
