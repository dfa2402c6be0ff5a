//! `sbx create [OPTIONS] IMAGE [CMD...]`: `sbx run`'s options; prints the new container's id.

use super::run::{RunArgs, fail_run};
use crate::container::create::{RunOptions, create as create_container};
use crate::image::Store;
use std::path::Path;

pub fn create(store: &Store, args: RunArgs, config: Option<&Path>) -> i32 {
    let found = match super::pull::for_run(store, config, &args) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let plugins = match args.plugins(config) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let opts = match args.options() {
        Ok(o) => RunOptions { found, ..o },
        Err(e) => return super::fail(e),
    };
    match create_container(store, &opts, &plugins) {
        Ok(record) => {
            say!("{}", record.id);
            0
        }
        Err(e) => fail_run(e),
    }
}
