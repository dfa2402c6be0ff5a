//! A panic's message, sent where sbx reads it. A plugin built for wasm32-wasip2 prints it through
//! std, with WASI's stderr. One built for wasm32-unknown-unknown (`wasi = "none"` in its
//! Cargo.toml: the shipped policies) imports nothing of WASI and has a std that prints nothing:
//! this hook sends the message to sbx's `host.last-words` instead, one character a call, and sbx
//! shows it in the failed call's error. A function of plain values needs none of the plugin's
//! memory, so such a component is a single core module: without the WASI adapter every
//! wasm32-wasip2 component carries, and without the two modules wit-component adds to lend a
//! memory to an import that takes a string. It is smaller, and cheaper to load and instantiate on
//! every run.

/// Sets the hook once per instance; each export's glue calls it first.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub fn report() {
    static SET: std::sync::Once = std::sync::Once::new();
    SET.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            format!("{info}\n").chars().for_each(sbx_plugin_bindings::sbx::plugin::host::last_words)
        }))
    });
}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub fn report() {}
