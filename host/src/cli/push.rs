//! `sbx push [--all-tags] [-q] IMAGE [DEST]`: prints a line per layer, then docker's
//! `TAG: digest: sha256:... size: N` (with `-q`, the digest alone).

use crate::image::{ImageRecord, Store, reference};
use crate::registry::client::Access;
use crate::registry::progress::{Progress, To};
use crate::registry::push::push as push_image;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct PushArgs {
    /// The image: a name (pushed as that name) or an id prefix (give DEST then).
    pub image: String,
    /// Where to push it: HOST[:PORT]/REPOSITORY[:TAG] [default: the image's name].
    pub dest: Option<String>,
    /// Push every tag of the repository IMAGE names.
    #[arg(short, long)]
    pub all_tags: bool,
    /// Print only the manifest's digest.
    #[arg(short, long)]
    pub quiet: bool,
    /// The credentials file [default: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json].
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
}

/// The (image, destination) pairs to push, or an error to show.
fn targets(store: &Store, args: &PushArgs) -> Result<Vec<(ImageRecord, String)>, String> {
    if args.all_tags {
        if args.dest.is_some() {
            return Err("--all-tags pushes the repository's tags as they are named: give no DEST".into());
        }
        let repo = reference::normalize_name(&args.image).map_err(|e| e.to_string())?;
        let (repo, _) = reference::split_tag(&repo);
        let images = store.images().map_err(|e| e.to_string())?;
        let found: Vec<(ImageRecord, String)> = images
            .iter()
            .flat_map(|i| i.names.iter().map(move |n| (i, n)))
            .filter(|(_, n)| !n.contains('@') && reference::split_tag(n).0 == repo)
            .map(|(i, n)| (i.clone(), reference::qualified(n)))
            .collect();
        if found.is_empty() {
            return Err(format!("no tags of {repo} in the store (see `sbx images`)"));
        }
        return Ok(found);
    }
    let image = store.find_image(&args.image).map_err(|e| e.to_string())?;
    // Without DEST, the image goes where the name it was found by says.
    let asked = reference::short_name_candidates(&args.image, &store.search_registries)
        .unwrap_or_else(|| reference::normalize_name(&args.image).into_iter().collect());
    let dest = match (&args.dest, asked.iter().find(|n| image.names.contains(n))) {
        (Some(d), _) => d.clone(),
        (None, Some(name)) => name.clone(),
        (None, None) => {
            return Err(format!(
                "'{}' is not a name of the image: give where to push it (sbx push IMAGE HOST/REPOSITORY:TAG)",
                args.image
            ));
        }
    };
    let dest = reference::normalize_name(&dest).map_err(|e| e.to_string())?;
    Ok(vec![(image, reference::qualified(&dest))])
}

pub fn push(store: &Store, args: PushArgs, config: Option<&Path>) -> i32 {
    let config = match super::config::resolve(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let targets = match targets(store, &args) {
        Ok(t) => t,
        Err(e) => return super::fail(e),
    };
    let progress = Progress::new(args.quiet, To::Stdout);
    let files = super::pull::auth_files(args.authfile.as_deref());
    let opts = Access { registries: &config.registries, auth_files: &files, progress: &progress };
    for (image, dest) in targets {
        progress.say(&format!("The push refers to repository [{}]", reference::split_tag(&dest).0));
        match push_image(store, &image, &dest, &opts) {
            Ok(pushed) if args.quiet => say!("{}", pushed.digest),
            Ok(pushed) => {
                let tag = reference::split_tag(&dest).1;
                say!("{tag}: digest: {} size: {}", pushed.digest, pushed.size)
            }
            Err(e) => return super::fail(e),
        }
    }
    0
}
