#!/usr/bin/env bash
# Builds __NAME__.wasm (a wasm32-wasip2 component) with rustup's target where it is installed, or
# else with Debian's rustc and its std sources (apt-get install rustc-web cargo-web rust-web-src
# wasi-libc; see sbx's shared/WASM-TOOLCHAIN.md).
set -euo pipefail
cd "$(dirname "$0")"
if rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    cargo build --release --target wasm32-wasip2
else
    for need in /usr/bin/rustc /usr/bin/cargo /usr/lib/rustlib/src/rust/library /usr/lib/wasm32-wasi; do
        if [ ! -e "$need" ]; then
            echo "build.sh: $need is missing; rustup target add wasm32-wasip2, or:" >&2
            echo "  apt-get install -y rustc-web cargo-web rust-web-src wasi-libc" >&2
            exit 1
        fi
    done
    linkers="$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin"
    PATH="$linkers:$PATH" RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 RUSTFLAGS="-L /usr/lib/wasm32-wasi" \
        /usr/bin/cargo build --release --target wasm32-wasip2 -Zbuild-std=std,panic_abort
fi
cp target/wasm32-wasip2/release/__CRATE__.wasm __NAME__.wasm
echo "built __NAME__.wasm"
