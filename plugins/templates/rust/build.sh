#!/usr/bin/env bash
# Builds __NAME__.wasm, a component: for wasm32-unknown-unknown while Cargo.toml says wasi = "none"
# (no WASI imported), else for wasm32-wasip2; with rustup's target where it is installed, else
# with Debian's rustc and its std sources (apt-get install rustc-web cargo-web rust-web-src
# wasi-libc).
set -euo pipefail
cd "$(dirname "$0")"

__TOOLCHAINS__

wasm_target=$(wasm_target_of .)
wasm_target=$wasm_target cargo_wasm build --release
cp "target/$wasm_target/release/__CRATE__.wasm" __NAME__.wasm
echo "built __NAME__.wasm"
