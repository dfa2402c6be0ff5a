//! `sbx exec [-i] [-t] [-e K=V] [-w DIR] [-u USER] CONTAINER CMD...`: exits with the command's code.

use super::run::fail_run;
use crate::container::exec::{ExecOptions, exec as exec_in};
use crate::image::Store;
use crate::plugin::PluginSet;
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct ExecArgs {
    /// Keep stdin open (otherwise the command reads /dev/null).
    #[arg(short, long)]
    pub interactive: bool,
    /// Give the command a terminal (with -i, sbx's terminal is put in raw mode and attached).
    #[arg(short, long)]
    pub tty: bool,
    /// Start the command and return: it runs on in the container, its output discarded.
    #[arg(short, long)]
    pub detach: bool,
    /// Set an environment variable (KEY=VALUE, or KEY to pass sbx's own).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Working directory in the container.
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// User to run as: name, uid, name:group or uid:gid.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Print help.
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// The container: its name or an id prefix.
    pub container: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true)]
    pub cmd: Vec<String>,
}

pub fn exec(store: &Store, args: ExecArgs, config: Option<&Path>) -> i32 {
    if args.detach && (args.interactive || args.tty) {
        return super::fail("exec -d takes neither -i nor -t: a detached command has no input or terminal of sbx's");
    }
    if let Err(e) = super::check_terminal_input(args.interactive, args.tty) {
        return super::fail(e);
    }
    let plugins = match super::config::resolve(config) {
        Ok(c) => PluginSet::new(&crate::plugin::compile::cache_dir(), c.plugins),
        Err(code) => return code,
    };
    let opts = ExecOptions {
        cmd: args.cmd,
        env: args.env,
        workdir: args.workdir,
        user: args.user,
        interactive: args.interactive,
        tty: args.tty,
        detach: args.detach,
    };
    exec_in(store, &args.container, &opts, &plugins).unwrap_or_else(fail_run)
}
