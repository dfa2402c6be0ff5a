# The plugin toolchains, pinned: sourced by plugins/build.sh, and written into the build.sh of the
# skeletons `sbx plugin new` makes (so that both build alike). The Python and JavaScript ones are
# installed under $SBX_TOOLCHAINS on first use; each function prints what failed and how to
# install what is missing, and returns 1.
COMPONENTIZE_PY=0.25.1
COMPONENTIZE_JS=0.23.0

# Prints the path of componentize-py, installed with pip in a venv first if needed.
componentize_py() {
    local tool=$SBX_TOOLCHAINS/python
    if [ "$("$tool/bin/componentize-py" --version 2>/dev/null)" != "componentize-py $COMPONENTIZE_PY" ]; then
        if ! python3 -m venv --help >/dev/null 2>&1; then
            echo "Python plugins need python3 with venv: apt-get install -y python3-venv python3-pip" >&2
            return 1
        fi
        rm -rf "$tool" && python3 -m venv "$tool" >&2 &&
            "$tool/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY" >&2 || return 1
    fi
    echo "$tool/bin/componentize-py"
}

# Prints the path of componentize-js, installed with npm first if needed.
componentize_js() {
    local tool=$SBX_TOOLCHAINS/js
    if [ "$("$tool/node_modules/.bin/componentize-js" --version 2>/dev/null)" != "$COMPONENTIZE_JS" ]; then
        if ! command -v npm >/dev/null; then
            echo "JavaScript plugins need Node.js and npm: apt-get install -y nodejs npm" >&2
            return 1
        fi
        rm -rf "$tool" && mkdir -p "$tool" &&
            npm install --prefix "$tool" --no-audit --no-fund --silent "@bytecodealliance/componentize-js@$COMPONENTIZE_JS" >&2 ||
            return 1
    fi
    echo "$tool/node_modules/.bin/componentize-js"
}

# Prints the target the Rust plugin in directory $1 builds for: wasm32-unknown-unknown when its
# Cargo.toml says wasi = "none" (it imports nothing of WASI), else wasm32-wasip2.
wasm_target_of() {
    if grep -qx 'wasi = "none"' "$1/Cargo.toml"; then echo wasm32-unknown-unknown; else echo wasm32-wasip2; fi
}

# `cargo_wasm build ARGS...` is `cargo build --target wasm32-wasip2 ARGS...` (any other cargo
# subcommand alike; `wasm_target=wasm32-unknown-unknown cargo_wasm ...` for that target, linked into
# a component by the same linker): with rustup's target where it is installed, else with Debian's
# rustc and its std sources (see sbx's shared/WASM-TOOLCHAIN.md).
cargo_wasm() {
    local sub=$1 target=${wasm_target:-wasm32-wasip2}
    shift
    # wasm-component-ld, rustc's linker for wasm32-wasip2, makes a component of any wasm module
    # whose bindings name its world; one built for wasm32-unknown-unknown needs no WASI adapter.
    local -x CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-component-ld
    local -x CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-C link-arg=--wasi-adapter=none"
    if rustup target list --installed 2>/dev/null | grep -qx "$target"; then
        cargo "$sub" --target "$target" "$@"
        return
    fi
    local need
    for need in /usr/bin/rustc /usr/bin/cargo /usr/lib/rustlib/src/rust/library /usr/lib/wasm32-wasi; do
        if [ ! -e "$need" ]; then
            echo "$need is missing; rustup target add $target, or install the plugin toolchain:" >&2
            echo "  apt-get install -y rustc-web cargo-web rust-web-src wasi-libc" >&2
            return 1
        fi
    done
    # rustup's toolchain ships the wasm linkers (rust-lld, wasm-component-ld); Debian's does not.
    local linkers
    linkers="$(rustc --print sysroot)/lib/rustlib/x86_64-unknown-linux-gnu/bin"
    local flags="-L /usr/lib/wasm32-wasi"
    if [ "$target" = wasm32-unknown-unknown ]; then flags=$CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS; fi
    PATH="$linkers:$PATH" RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 RUSTFLAGS="$flags" \
        /usr/bin/cargo "$sub" --target "$target" -Zbuild-std=std,panic_abort "$@"
}
