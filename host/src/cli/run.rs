//! `sbx run [OPTIONS] IMAGE [CMD...]`.

use crate::config::PluginSpec;
use crate::container::spec::Overrides;
use crate::container::{RunOptions, run as run_container};
use crate::image::Store;
use crate::plugin::load_all;
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Remove the container and its writable layer when it exits.
    #[arg(long)]
    pub rm: bool,
    /// Name the container.
    #[arg(long)]
    pub name: Option<String>,
    /// Set an environment variable (KEY=VALUE, or KEY to pass sbx's own).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Container host name.
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// User to run as: name, uid, name:group or uid:gid.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Keep stdin open (otherwise the container reads /dev/null).
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// A policy plugin (.wasm component) that must allow the image and its layers; repeatable.
    #[arg(long = "policy", value_name = "P.wasm")]
    pub policies: Vec<PathBuf>,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// The image: a stored name, an id prefix, or a path to an archive or layout (loaded first).
    pub image: String,
    /// The command and its arguments (default: the image's Entrypoint and Cmd).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub cmd: Vec<String>,
}

pub fn run(store: &Store, args: RunArgs, config: Option<&Path>) -> i32 {
    let mut specs = match super::config::resolve(config) {
        Ok(c) => c.plugins,
        Err(code) => return code,
    };
    specs.extend(args.policies.iter().map(|p| PluginSpec::from_path(p)));
    let plugins = match load_all(&store.root().join("plugins"), &specs) {
        Ok(p) => p,
        Err(e) => return super::fail(e),
    };
    let opts = RunOptions {
        image: args.image,
        name: args.name,
        rm: args.rm,
        interactive: args.interactive,
        overrides: Overrides {
            cmd: args.cmd,
            env: args.env,
            workdir: args.workdir,
            user: args.user,
            hostname: args.hostname,
        },
    };
    match run_container(store, &opts, &plugins) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("sbx: {e}");
            e.exit_code()
        }
    }
}
