//! `sbx top CONTAINER [ps OPTIONS]`: the container's processes as the host's `ps` shows them.

use crate::container::top::top as top_of;
use crate::image::Store;
use clap::Args;

#[derive(Args, Debug)]
pub struct TopArgs {
    /// The container: a name or an id prefix.
    pub container: String,
    /// Options for ps [default: -ef].
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_options: Vec<String>,
}

pub fn top(store: &Store, args: TopArgs) -> i32 {
    match top_of(store, &args.container, &args.ps_options) {
        Ok(lines) => {
            for l in lines {
                say!("{l}");
            }
            0
        }
        Err(e) => super::refuse_or_fail(&e, e.is_refusal()),
    }
}
