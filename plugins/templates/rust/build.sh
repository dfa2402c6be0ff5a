#!/usr/bin/env bash
# Builds __NAME__.wasm, a wasm32-wasip2 component: with rustup's target where it is installed,
# else with Debian's rustc and its std sources (apt-get install rustc-web cargo-web rust-web-src
# wasi-libc).
set -euo pipefail
cd "$(dirname "$0")"

__TOOLCHAINS__

cargo_wasm build --release
cp target/wasm32-wasip2/release/__CRATE__.wasm __NAME__.wasm
echo "built __NAME__.wasm"
