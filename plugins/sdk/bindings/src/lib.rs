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
