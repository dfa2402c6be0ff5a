#!/usr/bin/env bash
# Builds every policy (policies/*) and hook plugin (plugins/* but sdk and wit) of this repo into a
# wasm32-wasip2 component at target/plugins/NAME.wasm.
#
# Uses `rustup target add wasm32-wasip2` where it is installed; otherwise Debian's rustc with its std
# sources (see shared/WASM-TOOLCHAIN.md): `apt-get install rustc-web cargo-web rust-web-src wasi-libc`.
set -euo pipefail
cd "$(dirname "$0")/.."

dirs=()
for d in policies/*/ plugins/*/; do
    case "$d" in plugins/sdk/|plugins/wit/) continue ;; esac
    [ -f "$d/Cargo.toml" ] && dirs+=("${d%/}")
done
pkgs=()
for d in "${dirs[@]}"; do
    pkgs+=(-p "$(sed -n 's/^name = "\(.*\)"/\1/p' "$d/Cargo.toml" | head -1)")
done

target_dir=target/wasm
if rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
    cargo build --profile wasm --target wasm32-wasip2 --target-dir "$target_dir" "${pkgs[@]}"
else
    for need in /usr/bin/rustc /usr/bin/cargo /usr/lib/rustlib/src/rust/library /usr/lib/wasm32-wasi; do
        if [ ! -e "$need" ]; then
            echo "plugins/build.sh: $need is missing; install the plugin toolchain:" >&2
            echo "  apt-get install -y rustc-web cargo-web rust-web-src wasi-libc" >&2
            exit 1
        fi
    done
    # rustup's toolchain ships the wasm linkers (rust-lld, wasm-component-ld); Debian's does not.
    linkers="$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin"
    PATH="$linkers:$PATH" RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 RUSTFLAGS="-L /usr/lib/wasm32-wasi" \
        /usr/bin/cargo build --profile wasm --target wasm32-wasip2 --target-dir "$target_dir" \
        -Zbuild-std=std,panic_abort "${pkgs[@]}"
fi

mkdir -p target/plugins
for d in "${dirs[@]}"; do
    name=$(basename "$d")
    crate=$(sed -n 's/^name = "\(.*\)"/\1/p' "$d/Cargo.toml" | head -1 | tr - _)
    cp "$target_dir/wasm32-wasip2/wasm/$crate.wasm" "target/plugins/$name.wasm"
    echo "built target/plugins/$name.wasm ($(stat -c %s "target/plugins/$name.wasm") bytes)"
done
