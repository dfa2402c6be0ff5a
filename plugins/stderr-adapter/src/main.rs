//! Writes sbx's stderr-only WASI adapter (adapter.wat: what it does and why) to the path it is
//! given, for plugins/build.sh to link into the plugins that ask for it.
//!
//! An adapter is a core module that carries the WIT of what it imports in a custom section, which
//! wit-component reads when it makes the component. There is no tool on the machine for that (the
//! standard adapter comes built inside wasm-component-ld), so this one assembles the module text
//! with `wat` and embeds its world with wit-component, the library wasm-component-ld uses.

use anyhow::{Context, Result};
use wit_component::StringEncoding;
use wit_parser::Resolve;

const ADAPTER: &str = include_str!("../adapter.wat");
/// In the order they depend on one another.
const WIT: [(&str, &str); 3] = [
    ("wit/deps/io.wit", include_str!("../wit/deps/io.wit")),
    ("wit/deps/cli.wit", include_str!("../wit/deps/cli.wit")),
    ("wit/world.wit", include_str!("../wit/world.wit")),
];

fn main() -> Result<()> {
    let out = std::env::args_os().nth(1).context("usage: sbx-stderr-adapter OUT.wasm")?;
    std::fs::write(&out, adapter()?).with_context(|| format!("cannot write {}", out.to_string_lossy()))
}

/// The adapter module, its imports' world embedded.
fn adapter() -> Result<Vec<u8>> {
    let mut module = wat::parse_str(ADAPTER).context("adapter.wat")?;
    let mut resolve = Resolve::default();
    let mut last = None;
    for (path, text) in WIT {
        last = Some(resolve.push_str(path, text)?);
    }
    let world = resolve.select_world(&[last.expect("WIT is not empty")], Some("adapter"))?;
    wit_component::embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8)?;
    Ok(module)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wasmparser::{Parser, Payload};
    use wit_component::ComponentEncoder;

    /// A main module as Rust's std leaves it: it imports the four preview1 functions the adapter
    /// gives and exports its memory and allocator.
    const MAIN: &str = r#"(module
        (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "environ_get" (func (param i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "environ_sizes_get" (func (param i32 i32) (result i32)))
        (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
        (memory (export "memory") 1)
        (func (export "cabi_realloc") (param i32 i32 i32 i32) (result i32) i32.const 64))"#;

    fn main_module(wat: &str) -> Vec<u8> {
        let mut module = wat::parse_str(wat).unwrap();
        let mut resolve = Resolve::default();
        let pkg = resolve.push_str("main.wit", "package test:main; world main {}").unwrap();
        let world = resolve.select_world(&[pkg], None).unwrap();
        wit_component::embed_component_metadata(&mut module, &resolve, world, StringEncoding::UTF8).unwrap();
        module
    }

    /// The component's imports, as wit-component made them.
    fn component_imports(component: &[u8]) -> Vec<String> {
        let mut names = Vec::new();
        for payload in Parser::new(0).parse_all(component) {
            if let Payload::ComponentImportSection(imports) = payload.unwrap() {
                names.extend(imports.into_iter().map(|i| i.unwrap().name.name.to_string()));
            }
        }
        names
    }

    #[test]
    fn links_into_a_component_that_imports_only_stderr() {
        let component = ComponentEncoder::default()
            .module(&main_module(MAIN))
            .unwrap()
            .adapter("wasi_snapshot_preview1", &adapter().unwrap())
            .unwrap()
            .validate(true)
            .encode()
            .unwrap();
        assert_eq!(
            component_imports(&component),
            ["wasi:io/error@0.2.6", "wasi:io/streams@0.2.6", "wasi:cli/stderr@0.2.6"]
        );
    }

    #[test]
    fn a_module_that_needs_more_of_wasi_is_refused_by_name() {
        let main = MAIN.replace(
            "(memory",
            r#"(import "wasi_snapshot_preview1" "clock_time_get" (func (param i32 i64 i32) (result i32))) (memory"#,
        );
        let err = ComponentEncoder::default()
            .module(&main_module(&main))
            .unwrap()
            .adapter("wasi_snapshot_preview1", &adapter().unwrap())
            .unwrap()
            .encode()
            .unwrap_err();
        assert!(format!("{err:?}").contains("clock_time_get"), "{err:?}");
    }
}
