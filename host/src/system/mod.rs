//! The store as a whole: its consistency ([`check`]) and what it takes on disk ([`df`]).

pub mod check;
pub mod df;
