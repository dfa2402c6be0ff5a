//! Layers: what a tarball's entries are ([`entry`]), and unpacking them safely into a directory of
//! their own ([`unpack`]) with an index of the entries kept beside it, within bounds ([`guard`]).

pub mod entry;
pub mod fsops;
pub mod guard;
pub mod index;
pub mod unpack;

pub use entry::{EntryKind, IndexEntry};
pub use unpack::{UnpackError, UnpackReport, unpack};
