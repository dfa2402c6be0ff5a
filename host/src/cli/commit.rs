//! `sbx commit CONTAINER [NAME[:TAG]]`: prints the new image's id. The configured policies check it.

use super::run::fail_run;
use crate::container::commit::{CommitOptions, commit as commit_container};
use crate::image::Store;
use crate::plugin::PluginSet;
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct CommitArgs {
    /// The commit message (the history step's comment).
    #[arg(short, long)]
    pub message: Option<String>,
    /// The image's author ("Name <email>").
    #[arg(short, long)]
    pub author: Option<String>,
    /// A Dockerfile instruction to apply to the image's config: CMD, ENTRYPOINT, ENV, USER,
    /// WORKDIR, LABEL, EXPOSE, VOLUME or STOPSIGNAL; repeatable.
    #[arg(short, long = "change", value_name = "INSTRUCTION")]
    pub changes: Vec<String>,
    /// Freeze a running container while its layer is read.
    #[arg(short, long, default_value_t = true, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, value_name = "BOOL")]
    pub pause: bool,
    /// The container: its name or an id prefix.
    pub container: String,
    /// The new image's name.
    pub name: Option<String>,
}

pub fn commit(store: &Store, args: CommitArgs, config: Option<&Path>) -> i32 {
    let plugins = match super::config::resolve(config) {
        Ok(c) => PluginSet::new(&crate::plugin::compile::cache_dir(), c.plugins),
        Err(code) => return code,
    };
    let opts = CommitOptions {
        name: args.name,
        message: args.message,
        author: args.author,
        changes: args.changes,
        pause: args.pause,
    };
    match commit_container(store, &args.container, &opts, &plugins) {
        Ok(image) => {
            say!("{}", image.id);
            0
        }
        Err(e) => fail_run(e),
    }
}
