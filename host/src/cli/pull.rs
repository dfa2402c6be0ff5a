//! `sbx pull [--platform P] [-q] NAME[:TAG|@DIGEST]`: prints what docker prints (a line per layer,
//! bars on a terminal, the digest and status), or with `-q` the image id alone.

use crate::config::{Config, PluginSpec};
use crate::image::Store;
use crate::plugin::PluginSet;
use crate::registry::auth;
use crate::registry::client::Access;
use crate::registry::progress::{Progress, To};
use crate::registry::pull::{Platform, PullOptions, Pulled, pull as pull_image};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct PullArgs {
    /// The image: NAME[:TAG|@DIGEST]; a short name is looked for on the search registries.
    pub image: String,
    /// The platform to pull from a multi-platform image (OS/ARCH[/VARIANT]) [default: the host's].
    #[arg(long)]
    pub platform: Option<String>,
    /// Print only the image id.
    #[arg(short, long)]
    pub quiet: bool,
    /// A policy plugin (.wasm component) whose image and layer checks must allow the image;
    /// repeatable (besides the configured ones).
    #[arg(long = "policy", value_name = "P.wasm")]
    pub policies: Vec<PathBuf>,
    /// The credentials file [default: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json].
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
}

/// The files logins are read from: the one sbx writes (or `--authfile`), then docker's.
pub fn auth_files(explicit: Option<&Path>) -> Vec<PathBuf> {
    let env = |k: &str| std::env::var(k).ok();
    match explicit {
        Some(f) => vec![f.to_path_buf()],
        None => std::iter::once(auth::auth_file(env, crate::isolate::rootless::host_euid()))
            .chain(auth::docker_file(env))
            .collect(),
    }
}

/// Pulls `image` with the configured plugins and `extra` policies, showing it on `progress` as
/// docker does. Err(exit code) after saying why.
pub fn pull_with(
    store: &Store,
    config: &Config,
    image: &str,
    platform: Option<&str>,
    extra: &[PathBuf],
    authfile: Option<&Path>,
    progress: &Progress,
) -> Result<Pulled, i32> {
    let platform = match platform {
        Some(p) => p.parse::<Platform>().map_err(super::fail)?,
        None => Platform::host(),
    };
    let mut specs = config.plugins.clone();
    specs.extend(extra.iter().map(|p| PluginSpec::from_path(p)));
    let plugins = PluginSet::new(&crate::plugin::compile::cache_dir(), specs);
    let loaded = plugins.load().map_err(super::fail)?;
    let files = auth_files(authfile);
    let opts = PullOptions {
        access: Access { registries: &config.registries, auth_files: &files, progress },
        platform: &platform,
        plugins: loaded,
    };
    let pulled = pull_image(store, image, &opts);
    crate::container::admission::end_sessions(loaded);
    let pulled = pulled.map_err(super::fail)?;
    progress.say(&format!("Digest: {}", pulled.manifest_digest));
    let status = if pulled.downloaded { "Downloaded newer image" } else { "Image is up to date" };
    progress.say(&format!("Status: {status} for {}", pulled.name));
    Ok(pulled)
}

pub fn pull(store: &Store, args: PullArgs, config: Option<&Path>) -> i32 {
    let config = match super::config::resolve(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let platform = args.platform.as_deref();
    let authfile = args.authfile.as_deref();
    let progress = Progress::new(args.quiet, To::Stdout);
    let pulled = pull_with(store, &config, &args.image, platform, &args.policies, authfile, &progress);
    if let Ok(p) = &pulled {
        crate::journal::image(store.root(), "pull", &p.name);
    }
    match pulled {
        Ok(pulled) if args.quiet => {
            say!("{}", pulled.image.id);
            0
        }
        Ok(pulled) => {
            say!("{}", pulled.name);
            0
        }
        Err(code) => code,
    }
}

/// When `run` and `create` pull their image (`--pull`), as docker's.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum PullPolicy {
    /// When the store has no image of that name.
    #[default]
    Missing,
    /// Every time (the store's copy is kept when the registry's is the same).
    Always,
    /// Never: the image must be in the store.
    Never,
}

/// Pulls the image of a run or a create as `policy` says (never an archive given by its path);
/// progress on stderr, where docker shows it. Returns the stored image when it looked and found
/// it (for the create to use); Err(exit code) after saying why.
pub fn for_run(
    store: &Store,
    config: Option<&Path>,
    args: &super::run::RunArgs,
) -> Result<Option<crate::image::ImageRecord>, i32> {
    use crate::image::reference::{ImageArg, classify};
    if matches!(classify(&args.image, |p| Path::new(p).exists()), ImageArg::Path(_)) {
        return Ok(None);
    }
    match args.pull {
        PullPolicy::Never => return Ok(None),
        PullPolicy::Missing => match store.find_image(&args.image) {
            Err(crate::image::StoreError::NotFound(_)) => eprintln!("Unable to find image '{}' locally", args.image),
            found => return Ok(found.ok()),
        },
        PullPolicy::Always => {}
    }
    let config = super::config::resolve(config)?;
    let platform = args.platform.as_deref();
    let progress = Progress::new(false, To::Stderr);
    pull_with(store, &config, &args.image, platform, &args.policies, None, &progress).map(|_| None)
}
