//! Images to and from registries (the Distribution spec, through `oci-client`): [`client`] reaches
//! a repository with the configured TLS, timeouts and login, [`auth`] keeps logins in podman's and
//! docker's files, [`pull`] brings an image into the store with the policies' checks before
//! anything is unpacked, [`push`] sends one, [`progress`] shows them going.

pub mod auth;
pub mod client;
pub mod login;
pub mod progress;
pub mod pull;
pub mod push;

pub use client::RegistryError;
