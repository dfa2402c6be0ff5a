//! `sbx rm`: removes a container's writable layer, state and any cgroup it left.

use super::events::{Events, Now};
use super::image::image_config;
use super::layers;
use super::state::{self, FindError, Status};
use crate::image::Store;
use crate::image::remove::ImageUser;
use crate::isolate::cgroup;
use crate::plugin::bindings::Event;
use crate::plugin::{Plugin, convert};

#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    #[error(transparent)]
    Find(#[from] FindError),
    #[error("container {0} is running: stop it first, or use rm -f")]
    Running(String),
    #[error(transparent)]
    Store(#[from] crate::image::StoreError),
}

impl RemoveError {
    pub fn is_refusal(&self) -> bool {
        match self {
            RemoveError::Find(f) => f.is_refusal(),
            RemoveError::Running(_) => true,
            RemoveError::Store(_) => false,
        }
    }
}

/// Removes the container `query` names; with `force`, a running one is killed first; with
/// `volumes`, its anonymous volumes go too. The hooks of `plugins` hear of it first (they cannot
/// stop it). Returns the name it removed.
pub fn remove(
    store: &Store,
    query: &str,
    force: bool,
    volumes: bool,
    plugins: &[Plugin],
) -> Result<String, RemoveError> {
    let (dir, record) = state::find(store, query)?;
    if state::is_running(&dir) {
        if !force {
            return Err(RemoveError::Running(record.name));
        }
        state::mark_stopped_by_user(&dir);
        if let Some(pid) = record.pid {
            // Journalled first: the container's end may be journalled before this gets to it.
            state::journal(store.root(), &record, "kill", &[("signal", "9")]);
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
        }
        super::control::thaw_after_signal(&record.id);
        // The sbx that runs it records the end and removes the cgroup; let it finish first.
        state::wait_stopped(&dir, Some(std::time::Duration::from_secs(10)));
    }
    let removed_by_its_sbx = |dir: &std::path::Path| record.auto_remove && !dir.exists();
    if removed_by_its_sbx(&dir) {
        return Ok(record.name);
    }
    // The cgroup goes with the sbx that ran the container; one left by a killed sbx goes here
    // (its processes may still be exiting). The container goes even if its cgroup cannot.
    if let Err(e) = cgroup::remove_dirs(cgroup::existing(&record.id)) {
        eprintln!("sbx: warning: {e}");
    }
    super::network::forget(store, &record.id);
    let spec = state::load_spec(&dir);
    let anonymous = match (&spec, volumes) {
        (Some(spec), true) => super::volumes::anonymous(store, spec),
        _ => Vec::new(),
    };
    if let Some(spec) = spec.filter(|_| plugins.iter().any(Plugin::has_hooks)) {
        let image = store
            .find_image(record.image_id.hex())
            .ok()
            .and_then(|r| image_config(store, &r).ok().map(|c| convert::image(&record.image, &r, &c)))
            .unwrap_or_else(|| convert::bare_image(&record.image));
        let dirs: Vec<_> = record.layers.iter().map(|d| store.layer_diff(d)).collect();
        let user = layers::resolve_user(&dirs, &spec.user, &spec.group_add).unwrap_or_default();
        if let Some(events) = Events::new(plugins, &record.id, &record.name, &image, &spec, &user) {
            let now = Now { status: Status::Exited, exit_code: record.exit_code, ..Now::created() };
            if let Err(e) = events.fire(Event::Remove, now) {
                eprintln!("sbx: warning: {e}");
            }
        }
    }
    match state::discard(&dir) {
        // A `--rm` container's own sbx may have removed it meanwhile, as it was told to.
        Err(_) if removed_by_its_sbx(&dir) => return Ok(record.name),
        Err(e) => return Err(e.into()),
        Ok(()) => {}
    }
    state::journal(store.root(), &record, "destroy", &[]);
    super::volumes::remove_anonymous(store, &anonymous);
    // Its image was removed while it stayed (`rmi -f`): its layers go now unless others hold them.
    if !store.has_image(&record.image_id) {
        let layers = record.mounted_layers(store).unwrap_or_default();
        let nothing = |_: &[crate::image::ImageRecord], _: &[ImageUser]| Ok(Vec::new());
        if let Err(e) = store.remove_images_freeing(&nothing, &|| image_users(store), &layers) {
            eprintln!("sbx: warning: {e}");
        }
    }
    Ok(record.name)
}

/// The store's containers, as image removal sees them.
pub fn image_users(store: &Store) -> Vec<ImageUser> {
    state::list(store).into_iter().map(|(dir, r)| image_user(store, &dir, r)).collect()
}

/// The container of `record` (in `dir`), as image removal and `system df` see it.
pub fn image_user(store: &Store, dir: &std::path::Path, record: state::ContainerRecord) -> ImageUser {
    ImageUser {
        layers: record.mounted_layers(store).unwrap_or_default(),
        running: state::is_running(dir),
        name: record.name,
        image: record.image_id,
    }
}
