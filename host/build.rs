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

// host/link-order.txt lists the functions `sbx run --rm` executes (bench/link-order.sh writes it
// from a profile); lld puts them first in the text, together. Scattered over sbx's 23 MB of code,
// they cost a run without plugins 90 to 130 page faults (each maps a 64 KiB window of the file) and
// a run with five policies 115 to 160; together, 29 and 37. In paired runs of fresh copies (150
// pairs), `sbx run --rm busybox /bin/true` took 0.23 ms less, with five Rust policies 0.48 ms less
// and with a Python policy 0.55 ms less: wasmtime's code is among the functions put together.
// rustc links with its own lld by default on x86_64-unknown-linux-gnu; GNU ld has no such option, so
// the list is only given there and when RUSTFLAGS choose no linker of their own. A name the binary
// no longer has is skipped: a stale list costs speed, never correctness. SBX_LINK_ORDER=off leaves
// the order to the linker. Not yet robust: the names carry rustc's hashes, which change with the
// crates' features as cargo unifies them per build. The list matches `cargo build --release -p sbx`,
// which it was written from; a build of `-p sbx -p sbx-tests` (examples/setup.sh, CI) finds 45% of
// its names. Matching names without their hashes takes more than dropping them: a legacy name of a
// generic function without its hash names all its instances (780 of `RawVec::grow_one`).
fn link_order() {
    println!("cargo:rerun-if-changed=link-order.txt");
    println!("cargo:rerun-if-env-changed=SBX_LINK_ORDER");
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let own_linker = var("CARGO_ENCODED_RUSTFLAGS").contains("link");
    if var("TARGET") != "x86_64-unknown-linux-gnu" || own_linker || var("SBX_LINK_ORDER") == "off" {
        return;
    }
    let order = std::path::Path::new(&var("CARGO_MANIFEST_DIR")).join("link-order.txt");
    println!("cargo:rustc-link-arg-bins=-Wl,--symbol-ordering-file={}", order.display());
    println!("cargo:rustc-link-arg-bins=-Wl,--no-warn-symbol-ordering");
}
