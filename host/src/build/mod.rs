//! `sbx build` (issue 17), being built: so far the Dockerfile's model ([`dockerfile`]) and the
//! words of its arguments with their variables ([`words`]). The build itself (a container per RUN
//! step, its writable layer committed as the next layer, the cache, the policies) comes next; there
//! is no `build` verb until it does.

pub mod dockerfile;
pub mod words;
