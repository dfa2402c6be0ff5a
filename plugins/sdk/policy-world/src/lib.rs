//! The guest bindings of world `policy-plugin`, with the types of `sbx-plugin-bindings`. Use it through
//! `sbx-plugin`.

wit_bindgen::generate!({
    world: "policy-plugin",
    path: "../../wit",
    default_bindings_module: "sbx_plugin::policy_world",
    pub_export_macro: true,
    export_macro_name: "export",
    with: {
        "sbx:plugin/types@0.9.0": sbx_plugin_bindings::sbx::plugin::types,
        "sbx:plugin/host@0.9.0": sbx_plugin_bindings::sbx::plugin::host,
    },
});
