//! `sbx create`: resolve the image, ask the policies (which may adjust the spec), and make the
//! container: its writable layer, its record (with the layers it mounts) and its spec. Nothing runs.
//! The order matters: policies decide before anything is made, so a denied create leaves nothing;
//! a create hook's veto removes what was made.

use super::admission;
use super::decision;
use super::error::RunError;
use super::etc_files;
use super::events::{Events, Now};
use super::image::{parse_config, resolve_image};
use super::layers;
use super::state::{self, ContainerRecord, RemoveOnDrop, Status};
use super::volumes;
use crate::image::{ImageRecord, Store};
use crate::isolate::rootless;
use crate::isolate::userns::{self, IdMap};
use crate::plugin::bindings::Event;
use crate::plugin::{PluginSet, convert};
use crate::rootfs::bind::BindError;
use crate::spec::{self, ContainerSpec, user::User};
use std::fs;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub image: String,
    /// The stored image `image` names, when the caller has found it already (`--pull missing`
    /// looks before the run): create then does not list the store's images again.
    pub found: Option<ImageRecord>,
    pub name: Option<String>,
    pub rm: bool,
    pub interactive: bool,
    /// Forward sbx's signals to the container (`--sig-proxy`).
    pub sig_proxy: bool,
    /// `--cidfile`: where its id is written once it is made (a file that must not exist).
    pub cidfile: Option<PathBuf>,
    /// `-a`: which of the container's stdout and stderr are sbx's (the others go nowhere).
    pub attach_out: bool,
    pub attach_err: bool,
    pub overrides: spec::Overrides,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions {
            image: String::new(),
            found: None,
            name: None,
            rm: false,
            interactive: false,
            sig_proxy: false,
            cidfile: None,
            attach_out: true,
            attach_err: true,
            overrides: spec::Overrides::default(),
        }
    }
}

pub fn check_name(existing: &[(PathBuf, ContainerRecord)], name: &str) -> Result<(), RunError> {
    if !spec::valid_container_name(name) {
        return Err(RunError::BadName(name.to_string()));
    }
    match existing.iter().find(|(_, r)| r.name == name) {
        Some((_, r)) => Err(RunError::NameInUse(name.to_string(), r.id[..12].to_string())),
        None => Ok(()),
    }
}

/// `--cidfile`: the id in a new file (docker refuses one that exists: another container's).
fn write_cidfile(path: &Path, id: &str) -> Result<(), RunError> {
    use std::io::Write;
    let err = |source| RunError::CidFile { path: path.to_path_buf(), source };
    let mut f = fs::OpenOptions::new().write(true).create_new(true).open(path).map_err(err)?;
    f.write_all(id.as_bytes()).map_err(err)
}

/// Where a container in a user namespace mounts its overlay, in its directory.
pub const ROOTFS: &str = "rootfs";

/// Makes the container's directories; they are removed again unless the guard is told to keep them.
/// In a user namespace its root owns them (the overlay's root is the upper directory) and may
/// search the container's directory, not list it.
fn make_dirs(root: &Path, idmap: Option<&IdMap>, rootless: bool) -> Result<RemoveOnDrop, RunError> {
    let err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RunError::ContainerDir { path, source }
    };
    fs::DirBuilder::new().mode(0o700).create(root).map_err(err(root))?;
    let guard = RemoveOnDrop(Some(root.to_path_buf()));
    let (uid, gid) = idmap.map_or((0, 0), |m| (m.uid, m.gid));
    if idmap.is_some() {
        fs::set_permissions(root, PermissionsExt::from_mode(0o711)).map_err(err(root))?;
    }
    // The overlay is mounted on the container's own directory (in the container's mount namespace
    // only), except by a root of a user namespace, who may not search the directory's parent.
    let userns = idmap.is_some() || rootless;
    let subs = [("upper", 0o755), ("work", 0o700), (ROOTFS, 0o755)];
    for (sub, mode) in &subs[..if userns { 3 } else { 2 }] {
        let p = root.join(sub);
        fs::DirBuilder::new().mode(*mode).create(&p).map_err(err(&p))?;
        // The overlay's root takes the upper directory's mode; mkdir's is cut by the umask.
        std::os::unix::fs::chown(&p, Some(uid), Some(gid)).map_err(err(&p))?;
        fs::set_permissions(&p, PermissionsExt::from_mode(*mode)).map_err(err(&p))?;
    }
    Ok(guard)
}

/// What [`create_starting`] decided, for the start that follows at once in the same process: its
/// record is on disk as starting already, and its spec and user need not be read back.
pub struct Fresh {
    pub spec: ContainerSpec,
    pub user: User,
}

/// Creates the container `opts` describes and returns its record.
pub fn create(store: &Store, opts: &RunOptions, plugins: &PluginSet) -> Result<ContainerRecord, RunError> {
    create_as(store, opts, plugins, false).map(|(record, _)| record)
}

/// [`create`] for a start that follows at once (`sbx run`): the record goes to disk already as
/// [`state::Starting::begin`] would write it, saving that write, and comes back as created (what a
/// failed start puts back); give the [`Fresh`] decision to [`super::start::launch`].
pub fn create_starting(
    store: &Store,
    opts: &RunOptions,
    plugins: &PluginSet,
) -> Result<(ContainerRecord, Fresh), RunError> {
    create_as(store, opts, plugins, true)
}

fn create_as(
    store: &Store,
    opts: &RunOptions,
    plugins: &PluginSet,
    starting: bool,
) -> Result<(ContainerRecord, Fresh), RunError> {
    let image = match opts.found.as_ref().filter(|i| store.has_image(&i.id)) {
        Some(found) => found.clone(),
        None => resolve_image(store, &opts.image)?,
    };
    let config_blob = store.blob(&image.id)?;
    let config = parse_config(&image, &config_blob)?;
    let id = crate::random::hex(32);
    let name = opts.name.clone().unwrap_or_else(|| format!("sbx_{}", &id[..12]));
    let (mut overrides, planned) = volumes::prepare(store, &opts.overrides, config.config().as_ref())?;
    super::sharing::resolve(store, &mut overrides)?;
    let mut spec =
        spec::build(&opts.image, config.config().as_ref(), &overrides, &id[..12], |k| std::env::var(k).ok())?;
    let image_check = spec::health::of_image_config(&config_blob);
    spec.healthcheck = spec::health::resolve(image_check, &overrides.health).map_err(spec::SpecError::Health)?;
    let default_hostname = opts.overrides.hostname.is_none().then(|| id[..12].to_string());
    let fresh_volumes: Vec<String> = planned.iter().filter(|p| p.anonymous).map(|p| p.name.clone()).collect();
    let varying = decision::Varying { hostname: default_hostname.as_deref(), volumes: &fresh_volumes };
    let admission::Admitted { skipped, spec, files } =
        admission::decide(store, &opts.image, &image, &config, plugins, spec, varying)?;
    let allowed: Vec<_> =
        image.layers.iter().enumerate().filter(|(i, _)| !skipped.contains(i)).map(|(_, l)| l.diff_id.clone()).collect();
    let layers = layers::once_each(&allowed);
    if rootless::is_active() {
        spec::check_rootless(&spec)?;
    }
    for on in &spec.networks {
        crate::network::get_or_default(store, &on.name)?;
    }
    // The user must exist in the container's files now, not only when it starts.
    let files = files.unwrap_or_else(|| {
        let dirs: Vec<PathBuf> = layers.iter().map(|d| store.layer_diff(d)).collect();
        layers::UserFiles::read(&dirs)
    });
    let user = files.resolve(&spec.user, &spec.group_add)?;
    let missing = |m: &&spec::Mount| {
        m.kind == spec::MountKind::Bind
            && !Path::new(&m.source).exists()
            && !volumes::is_volume(store, Path::new(&m.source))
    };
    if let Some(m) = spec.mounts.iter().find(missing) {
        return Err(BindError::Missing { path: m.source.clone().into() }.into());
    }

    let record_lock = store.lock()?;
    let existing = state::list(store);
    check_name(&existing, &name)?;
    let idmap = match spec.userns {
        spec::Userns::Auto => {
            let used: Vec<IdMap> = existing.iter().filter_map(|(_, r)| r.idmap).collect();
            Some(userns::allocate_from_host(&used)?)
        }
        spec::Userns::Host => None,
    };
    let new_volumes = volumes::make(store, &spec, &planned)?;
    let root = store.container_dir(&id);
    // Made under another name and renamed when whole: a kill leaves no container without its
    // record, and no record without its directory.
    let making = root.with_file_name(format!("{}{id}", state::NEW));
    let mut made = make_dirs(&making, idmap.as_ref(), rootless::is_active())?;
    let record = ContainerRecord {
        id: id.clone(),
        name: name.clone(),
        image: opts.image.clone(),
        image_id: image.id.clone(),
        layers,
        command: spec.args.clone(),
        created: crate::time::now_rfc3339(),
        status: Status::Created,
        pid: None,
        exit_code: None,
        oom_killed: false,
        started: None,
        finished: None,
        auto_remove: opts.rm,
        open_stdin: opts.interactive,
        idmap,
        restart_count: 0,
        restarting: false,
    };
    match starting {
        true => state::Starting::record(&record).save(&making)?,
        false => record.save(&making)?,
    }
    state::save_spec(&making, &spec)?;
    etc_files::write(&making, &spec).map_err(|source| RunError::ContainerDir { path: making.clone(), source })?;
    fs::rename(&making, &root).map_err(|source| RunError::ContainerDir { path: root.clone(), source })?;
    made.keep();
    made = RemoveOnDrop(Some(root.clone()));
    drop(record_lock);
    volumes::fill(store, &id, &new_volumes)?;

    if plugins.may_have_hooks() {
        let wit_image = convert::image(&opts.image, &image, &config);
        if let Some(events) = Events::new(plugins.load()?, &id, &name, &wit_image, &spec, &user) {
            events.fire(Event::Create, Now::created())?;
        }
    }
    if let Some(path) = &opts.cidfile {
        write_cidfile(path, &id)?;
    }
    made.keep();
    new_volumes.keep();
    state::journal(store.root(), &record, "create", &[]);
    Ok((record, Fresh { spec, user }))
}
