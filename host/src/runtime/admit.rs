//! The policies' verdict on a bundle's (or an exec's) spec, and the user lookups it needs in the
//! bundle's root filesystem.

use super::RuntimeError;
use crate::container::decision::{self, Decision};
use crate::container::{RunError, admission};
use crate::layer::fsops;
use crate::plugin::bindings::Image;
use crate::plugin::chain::{self, Note};
use crate::plugin::spec_check::SpecDecision;
use crate::plugin::{Plugin, PluginSet, convert};
use crate::spec::ContainerSpec;
use crate::spec::user::{self, User, UserError};
use std::fs;
use std::os::fd::AsFd;
use std::path::Path;

/// Resolves users that policies name (`set-user`) against /etc/passwd and /etc/group of the root
/// filesystem `rootfs`, read beneath it; the process's own user (`given` for `spec_user`) is its
/// ids as given.
fn resolver<'a>(
    spec_user: &'a str,
    given: &'a User,
    rootfs: &'a Path,
) -> impl Fn(&str) -> Result<User, UserError> + 'a {
    move |name: &str| {
        if name == spec_user {
            return Ok(given.clone());
        }
        resolve_in(rootfs, name)
    }
}

/// Resolves `name` against /etc/passwd and /etc/group of the root filesystem `rootfs`, read
/// beneath it.
fn resolve_in(rootfs: &Path, name: &str) -> Result<User, UserError> {
    let root = fs::File::open(rootfs).map_err(|_| UserError::NoUser(name.to_string()))?;
    let file = |rel: &str| -> user::FileText {
        fsops::read_in_root(root.as_fd(), Path::new(rel), crate::container::layers::LIMIT)
            .map(|b| b.map(|b| String::from_utf8_lossy(&b).into_owned()))
            .map_err(|e| e.to_string())
    };
    user::resolve_files(name, &file("etc/passwd"), &file("etc/group"), &[])
}

/// As runc does, a process whose env has no HOME gets its user's home from the root
/// filesystem's /etc/passwd, else `/`.
pub fn set_home(spec: &mut ContainerSpec, uid: u32, rootfs: &Path) {
    if !spec.env.iter().any(|e| e.starts_with("HOME=")) {
        let home = resolve_in(rootfs, &uid.to_string()).map(|u| u.home).unwrap_or_else(|_| "/".into());
        spec.env.push(format!("HOME={home}"));
    }
}

/// Which checks of the policies a spec goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checks {
    /// The spec checks only (an exec, an update, a bundle that does not name its image).
    Spec,
    /// The image checks first, on the image the bundle's annotations name (by its name alone: the
    /// engine unpacked it, so there are no layers to check), then the spec checks.
    ImageAndSpec,
}

/// The spec the policies leave of `spec` (whose process runs as `user`, on `rootfs`), and its
/// user. Allowed decisions are cached under the runtime's `root` as `sbx run` caches its own (see
/// [`decision`]): a repeated create of the same spec loads no plugin.
pub fn admit(
    spec: &ContainerSpec,
    user: &User,
    rootfs: &Path,
    plugins: &PluginSet,
    root: &Path,
    checks: Checks,
) -> Result<(ContainerSpec, User), RuntimeError> {
    let resolve = resolver(&spec.user, user, rootfs);
    let spec = if plugins.is_empty() { spec.clone() } else { decide(spec, user, plugins, &resolve, root, checks)? };
    let user = resolve(&spec.user).map_err(RunError::from)?;
    Ok((spec, user))
}

/// The image checks of `plugins` on `image`: their notes, or the denial.
fn check_image(image: &Image, plugins: &[Plugin]) -> Result<Vec<Note>, RunError> {
    let no_layers = |_, _: &_| Err("a bundle's image has no layers to check".to_string());
    match chain::evaluate(&admission::policies(plugins), image, no_layers).decision {
        chain::Decision::Deny { plugin, reason, notes } => {
            admission::print_notes(&notes);
            Err(RunError::Denied { plugin, reason })
        }
        chain::Decision::Allow { notes, .. } => Ok(notes),
    }
}

fn decide(
    spec: &ContainerSpec,
    user: &User,
    plugins: &PluginSet,
    resolve: &dyn Fn(&str) -> Result<User, UserError>,
    root: &Path,
    checks: Checks,
) -> Result<ContainerSpec, RuntimeError> {
    let cache = root.join(".decisions");
    let key = decision::bundle_key(plugins, spec, (user.uid, user.gid, &user.groups));
    if let Some(hit) = key.as_ref().and_then(|k| decision::load(&cache, k)) {
        admission::print_notes(&hit.notes);
        return Ok(hit.spec);
    }
    let loaded = plugins.load().map_err(RunError::from)?;
    // Known once loaded where it was not (a first run's plugins are compiled then).
    let key = key.or_else(|| decision::bundle_key(plugins, spec, (user.uid, user.gid, &user.groups)));
    let image = convert::bare_image(&spec.image);
    let image_notes = match checks {
        Checks::ImageAndSpec => check_image(&image, loaded),
        Checks::Spec => Ok(Vec::new()),
    };
    let evaluation =
        image_notes.and_then(|notes| Ok((notes, admission::evaluate_spec(&image, spec, loaded, resolve)?)));
    admission::end_sessions(loaded);
    let (mut notes, evaluation) = evaluation?;
    match evaluation.decision {
        SpecDecision::Deny { plugin, reason, .. } => Err(RunError::Denied { plugin, reason }.into()),
        SpecDecision::Allow { spec: adjusted, notes: more } => {
            notes.extend(more);
            admission::print_notes(&notes);
            if let Some(k) = key {
                decision::save(&cache, &k, &Decision { skipped: Vec::new(), spec: (*adjusted).clone(), notes });
            }
            Ok(*adjusted)
        }
    }
}
