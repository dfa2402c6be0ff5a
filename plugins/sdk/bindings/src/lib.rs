//! The guest bindings of world `plugin` (every export). Its `types` and `host` modules are shared
//! with the `policy-plugin` and `hook-plugin` worlds, which live in crates of their own because each
//! world's export macros are crate-level names. Use it through `sbx-plugin`.

wit_bindgen::generate!({
    world: "plugin",
    path: "../../wit",
    default_bindings_module: "sbx_plugin::bindings",
    pub_export_macro: true,
    additional_derives: [PartialEq, Clone],
    export_macro_name: "export",
});

/// WASI's stderr alone: where the SDK writes a panic's message in a plugin built for
/// wasm32-unknown-unknown, whose std prints nothing (see `sbx_plugin::panics`). Only there: a
/// wasm32-wasip2 build links the whole of WASI, whose packages these partial ones would clash with.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub mod wasi_stderr {
    wit_bindgen::generate!({
        world: "stderr",
        path: "wasi",
        generate_all,
    });
}
