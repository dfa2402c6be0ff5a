//! `sbx rename`: a container's new name, checked as `--name` is and taken under the store lock (as
//! create takes one), so two renames or a create cannot end with one name twice.

use super::RunError;
use super::create::check_name;
use super::state::{self, ContainerRecord};
use crate::image::Store;

/// Renames the container `query` names to `new`; returns its old name. A running container keeps
/// running: the sbx that runs it reads the name back before it records the end.
pub fn rename(store: &Store, query: &str, new: &str) -> Result<String, RunError> {
    let _lock = store.lock()?;
    let (dir, record) = state::find(store, query)?;
    if record.name == new {
        return Err(RunError::NameInUse(new.to_string(), record.id[..12].to_string()));
    }
    check_name(&state::list(store), new)?;
    let renamed = ContainerRecord { name: new.to_string(), ..record.clone() };
    renamed.save(&dir)?;
    state::journal(store.root(), &renamed, "rename", &[("oldName", &record.name)]);
    Ok(record.name)
}

impl RunError {
    /// rename's refusals (docker's exit 1): no such container, a bad or taken name.
    pub fn is_rename_refusal(&self) -> bool {
        matches!(self, RunError::Find(f) if f.is_refusal())
            || matches!(self, RunError::BadName(_) | RunError::NameInUse(..))
    }
}
