//! `sbx build [-t NAME]... [-f FILE] [--build-arg K=V]... [--target STAGE] [--no-cache] [--pull]
//! [--label K=V]... [--network MODE] [--platform P] [-q] CONTEXT|-` and `sbx builder prune`:
//! the steps' progress and output on stderr, the image's id on stdout.

use crate::build::executor::ContextArg;
use crate::build::{BuildOptions, build as build_image};
use crate::image::{Store, reference};
use crate::plugin::PluginSet;
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The image's name (NAME[:TAG]); repeatable.
    #[arg(short, long = "tag", value_name = "NAME")]
    pub tags: Vec<String>,
    /// The Dockerfile (default: CONTEXT/Dockerfile, else CONTEXT/Containerfile).
    #[arg(short, long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// A build argument (K=V, or K for the value of K in sbx's environment); repeatable.
    #[arg(long = "build-arg", value_name = "K=V")]
    pub build_args: Vec<String>,
    /// The stage to build (with the stages it needs), instead of the last.
    #[arg(long)]
    pub target: Option<String>,
    /// Make every step again, without the build cache (what is made is cached for later builds).
    #[arg(long)]
    pub no_cache: bool,
    /// Pull every base image, even those stored.
    #[arg(long)]
    pub pull: bool,
    /// A label of the image made (K=V); repeatable.
    #[arg(long = "label", value_name = "K=V")]
    pub labels: Vec<String>,
    /// The network of RUN steps, as `run`'s: bridge (the default), a network's name, none, host
    /// or slirp4netns.
    #[arg(long, env = "SBX_NETWORK")]
    pub network: Option<String>,
    /// A secret for `RUN --mount=type=secret,id=ID` (id=ID,src=FILE); repeatable. It is mounted
    /// read-only for the steps that ask for it, and is in no layer and no cache key.
    #[arg(long = "secret", value_name = "id=ID,src=FILE")]
    pub secrets: Vec<String>,
    /// The platform to build for; only this machine's (sbx does not emulate others).
    #[arg(long)]
    pub platform: Option<String>,
    /// Print only the image's id.
    #[arg(short, long)]
    pub quiet: bool,
    /// The build context: a directory, or `-` for a tarball on stdin.
    pub context: String,
}

#[derive(Subcommand, Debug)]
pub enum BuilderCommand {
    /// Empty the build cache: its entries, the intermediate images no name or container holds, and
    /// the step containers that killed builds left.
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not ask (sbx never asks; accepted as docker's flag).
    #[arg(short, long)]
    pub force: bool,
    /// Accepted as docker's flag: the whole cache is emptied.
    #[arg(short, long)]
    pub all: bool,
}

fn key_values(list: &[String], flag: &str, from_env: bool) -> Result<Vec<(String, String)>, String> {
    list.iter()
        .map(|kv| match kv.split_once('=') {
            Some(("", _)) => Err(format!("{flag} {kv}: give a name before the =")),
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            None if from_env => Ok((kv.clone(), std::env::var(kv).unwrap_or_default())),
            None => Ok((kv.clone(), String::new())),
        })
        .collect()
}

/// `--secret id=ID,src=FILE` (docker's `type=file` only; `source=` as BuildKit spells it too).
fn secret(text: &str) -> Result<(String, PathBuf), String> {
    let mut id = None;
    let mut src = None;
    for field in text.split(',') {
        match field.split_once('=') {
            Some(("id", v)) => id = Some(v.to_string()),
            Some(("src" | "source", v)) => src = Some(PathBuf::from(v)),
            Some(("type", "file")) => {}
            _ => {
                return Err(format!(
                    "--secret {text}: give id=ID,src=FILE (secrets from the environment are not supported)"
                ));
            }
        }
    }
    let id = id.filter(|i| !i.is_empty()).ok_or_else(|| format!("--secret {text}: give id=ID"))?;
    let src = src.ok_or_else(|| format!("--secret {text}: give src=FILE"))?;
    if !src.is_file() {
        return Err(format!("--secret {text}: {} is not a file", src.display()));
    }
    Ok((id, std::path::absolute(&src).map_err(|e| e.to_string())?))
}

fn options<'a>(args: &BuildArgs, fetch: &'a dyn Fn(&str) -> Result<(), String>) -> Result<BuildOptions<'a>, String> {
    if let Some(p) = &args.platform {
        let want: crate::registry::pull::Platform = p.parse().map_err(|e| format!("--platform {p}: {e}"))?;
        let host = crate::registry::pull::Platform::host();
        if want.os != host.os || want.arch != host.arch {
            return Err(format!(
                "--platform {p}: sbx builds for this machine ({}/{}) only; it does not emulate other platforms",
                host.os, host.arch
            ));
        }
    }
    let tags = args
        .tags
        .iter()
        .map(|t| reference::normalize_name(t).map_err(|e| format!("-t {t}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    let context = match args.context.as_str() {
        "-" => ContextArg::Stdin,
        dir if Path::new(dir).is_dir() => ContextArg::Dir(PathBuf::from(dir)),
        dir => {
            return Err(format!(
                "the build context {dir} is not a directory: give a directory, or - for a tarball on stdin"
            ));
        }
    };
    let mut overrides = crate::spec::Overrides::default();
    let network = args.network.as_deref().unwrap_or(super::run::default_network());
    (overrides.network, overrides.networks) = crate::spec::parse_network(network, &[]).map_err(|e| e.to_string())?;
    Ok(BuildOptions {
        context,
        file: args.file.clone(),
        tags,
        build_args: key_values(&args.build_args, "--build-arg", true)?.into_iter().collect::<BTreeMap<_, _>>(),
        target: args.target.clone(),
        no_cache: args.no_cache,
        pull: args.pull,
        labels: key_values(&args.labels, "--label", false)?,
        overrides,
        secrets: args.secrets.iter().map(|s| secret(s)).collect::<Result<_, _>>()?,
        quiet: args.quiet,
        fetch,
    })
}

pub fn build(store: &Store, args: BuildArgs, config: Option<&Path>) -> i32 {
    if !nix::unistd::geteuid().is_root() {
        // COPY mounts the image's layers with the new mount API, which a user namespace of a
        // rootless sbx would need set up for it, and that is not done yet.
        return super::fail("sbx build runs as root only: rootless builds are not supported yet");
    }
    let config = match super::config::resolve(config) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let plugins = PluginSet::new(&crate::plugin::compile::cache_dir(), config.plugins.clone());
    let progress = crate::registry::progress::Progress::new(args.quiet, crate::registry::progress::To::Stderr);
    let platform = args.platform.clone();
    let fetch = |name: &str| {
        super::pull::pull_with(store, &config, name, platform.as_deref(), &[], None, &progress)
            .map(drop)
            .map_err(|_| format!("cannot pull the base image {name} (see above)"))
    };
    let opts = match options(&args, &fetch) {
        Ok(o) => o,
        Err(e) => return super::fail(e),
    };
    // The steps' output goes to stderr with the progress, so that stdout carries only the id.
    let stdout = std::io::stdout();
    let saved = nix::unistd::dup(&stdout).ok();
    let _ = nix::unistd::dup2_stdout(std::io::stderr());
    let built = build_image(store, &opts, &plugins);
    if let Some(fd) = &saved {
        let _ = nix::unistd::dup2_stdout(fd);
    }
    match built {
        Ok(image) => {
            crate::journal::image(store.root(), "build", image.names.first().map_or(image.id.hex(), |n| n.as_str()));
            say!("{}", image.id);
            0
        }
        Err(e) => {
            eprintln!("sbx: {e}");
            e.exit_code()
        }
    }
}

/// `builder prune`: the step containers killed builds left, then the build cache.
pub fn run(store: &Store, cmd: BuilderCommand, config: Option<&Path>) -> i32 {
    match cmd {
        BuilderCommand::Prune(_) => {
            let hooks = match super::rm::hooks(config) {
                Ok(h) => h,
                Err(code) => return code,
            };
            match crate::build::run_step::remove_left(store, &hooks) {
                Some(ids) => ids.iter().for_each(|id| say!("Deleted build container: {}", &id[..12])),
                None => eprintln!("sbx: a build is running: the step containers of killed builds stay"),
            }
            match crate::build::cache::prune(store) {
                Ok((images, bytes)) => {
                    say!("Deleted build cache: {images} images");
                    say!("Total reclaimed space: {}", super::images::human_size(bytes));
                    0
                }
                Err(e) => super::fail(e),
            }
        }
    }
}
