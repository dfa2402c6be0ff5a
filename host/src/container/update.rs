//! `sbx update`: new resource limits for a container, as docker's: over the limits it has (what is
//! not named stays), checked as at create (the spec's rules, then the policies, which may adjust
//! or refuse them), written to its cgroup at once if it runs, and kept in its spec for its next
//! starts.

use super::admission;
use super::error::RunError;
use super::state;
use crate::image::Store;
use crate::isolate::{cgroup, rootless};
use crate::plugin::PluginSet;
use crate::spec::{self, Limits};

/// Updates the container `query` names; returns its name.
pub fn update(store: &Store, query: &str, asked: &Limits, plugins: &PluginSet) -> Result<String, RunError> {
    let (dir, record) = state::find(store, query)?;
    let mut spec = state::load_spec(&dir).ok_or_else(|| RunError::NoSpec(record.name.clone()))?;
    spec.limits = asked.clone().over(&spec.limits);
    if rootless::is_active() {
        spec::check_rootless(&spec)?;
    }
    spec::validate(&spec)?;
    let spec = admission::recheck(store, &record, spec, plugins)?;
    if state::live(&dir, &record).running() {
        cgroup::write_limits(&cgroup::existing(&record.id), &spec.limits)?;
    }
    state::save_spec(&dir, &spec)?;
    Ok(record.name)
}
