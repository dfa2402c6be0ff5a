//! A panic's message, sent where sbx reads it. A plugin built for wasm32-wasip2 prints it through
//! std, with WASI's stderr. One built for wasm32-unknown-unknown (`wasi = "stderr"` in its
//! Cargo.toml: the shipped policies) has a std that prints nothing, and imports nothing of WASI
//! but what the SDK asks for: this hook writes the message to WASI's stderr itself, and sbx shows
//! it in the failed call's error. Such a component has no WASI adapter module, which every
//! wasm32-wasip2 component carries: it is smaller, and cheaper to load and instantiate on every
//! run.

/// Sets the hook once per instance; each export's glue calls it first.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub fn report() {
    static SET: std::sync::Once = std::sync::Once::new();
    SET.call_once(|| std::panic::set_hook(Box::new(|info| write_stderr(format!("{info}\n").as_bytes()))));
}

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub fn report() {}

/// Writes `bytes` in the pieces WASI takes (at most 4096 bytes a write), as far as it can.
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
fn write_stderr(bytes: &[u8]) {
    use sbx_plugin_bindings::wasi_stderr::wasi::cli::stderr::get_stderr;
    let stderr = get_stderr();
    for piece in bytes.chunks(4096) {
        if stderr.blocking_write_and_flush(piece).is_err() {
            return;
        }
    }
}
