//! The store as a whole: its consistency ([`check`]).

pub mod check;
