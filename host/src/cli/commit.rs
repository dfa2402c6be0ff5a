//! `sbx commit CONTAINER [NAME[:TAG]]`: prints the new image's id. The configured policies check it.

use super::run::fail_run;
use crate::container::commit::commit as commit_container;
use crate::image::Store;
use crate::plugin::PluginSet;
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct CommitArgs {
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
    match commit_container(store, &args.container, args.name.as_deref(), &plugins) {
        Ok(image) => {
            say!("{}", image.id);
            0
        }
        Err(e) => fail_run(e),
    }
}
