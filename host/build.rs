// The sbx binary is linked as a position-dependent executable (-no-pie). As a PIE its 46,000
// relative relocations (pointer tables of wasmtime, cranelift, clap, serde...) were applied by the
// dynamic loader at every start, writing about 190 pages of .data.rel.ro and faulting each in
// copy-on-write: 0.6 ms of every sbx command, a tenth of `sbx run --rm IMAGE true` (300 pairs of
// `sbx --version`, 200 of the run). Packing them as DT_RELR (-z pack-relative-relocs) shrank the
// table but not the writes, and measured no faster. What this gives up is the randomized address
// of sbx's own code (its heap, stack and libraries stay randomized). Against the one in-process
// attacker sbx has, a plugin escaping wasmtime's sandbox, it held little: an escape that reads
// the process's memory finds pointers into sbx's code in every instance's context (its table of
// builtin functions). sbx's other inputs are parsed by safe Rust. Full RELRO (BIND_NOW) stays.
// Set SBX_PIE=1 when building to keep a PIE. Unless it is set, host/link-static.sh goes further and
// links sbx statically (position-dependent too); -no-pie stays for builds without that wrapper.
fn main() {
    println!("cargo:rerun-if-env-changed=SBX_PIE");
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    if linux && std::env::var_os("SBX_PIE").is_none_or(|v| v != "1") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
    link_order();
}

// The order of the functions a run executes (host/link-ordered.sh, the linker host/link-static.sh
// gives the sbx binary): the binary is linked again when the list or the linker changes.
fn link_order() {
    println!("cargo:rerun-if-changed=link-order.txt");
    println!("cargo:rerun-if-changed=link-ordered.sh");
    println!("cargo:rerun-if-env-changed=SBX_LINK_ORDER");
}
