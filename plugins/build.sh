#!/usr/bin/env bash
# Builds every policy (policies/*) and hook plugin (plugins/* but the SDKs and WITs) of this repo
# into a component: the Rust ones (wasm32-wasip2) at target/plugins/NAME.wasm, the Python ones
# (policies/NAME/python/policy.py, plugins/NAME/python/hook.py) at target/plugins/python/NAME.wasm
# with componentize-py, the JavaScript ones (.../js/policy.js, .../js/hook.js) at
# target/plugins/js/NAME.wasm with componentize-js. `plugins/build.sh python js` builds only those.
#
# The Python and JavaScript toolchains are installed at pinned versions under target/toolchains
# (pip into a venv, npm into a prefix); they need python3 with venv and Node.js with npm.
#
# Uses `rustup target add wasm32-wasip2` where it is installed; otherwise Debian's rustc with its std
# sources (see shared/WASM-TOOLCHAIN.md): `apt-get install rustc-web cargo-web rust-web-src wasi-libc`.
set -euo pipefail
cd "$(dirname "$0")/.."

COMPONENTIZE_PY=0.25.1
COMPONENTIZE_JS=0.23.0
langs=("$@")
[ ${#langs[@]} -gt 0 ] || langs=(rust python js)
wants() { [[ " ${langs[*]} " == *" $1 "* ]]; }

build_rust() {

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
}

# The world a source builds for: policy.* exports the policy interface, hook.* the hooks.
world_of() {
    case "$(basename "$1")" in policy.*) echo policy-plugin ;; hook.*) echo hook-plugin ;; esac
}

# Whether target $1 is missing or older than source $2, its SDK $3 or the WIT.
stale() {
    [ ! -e "$1" ] || [ -n "$(find "$2" "$3" plugins/wit -newer "$1" -print -quit)" ]
}

build_python() {
    local tool=target/toolchains/python
    if [ "$("$tool/bin/componentize-py" --version 2>/dev/null)" != "componentize-py $COMPONENTIZE_PY" ]; then
        if ! python3 -m venv --help >/dev/null 2>&1; then
            echo "plugins/build.sh: Python plugins need python3 with venv: apt-get install -y python3-venv python3-pip" >&2
            exit 1
        fi
        rm -rf "$tool" && python3 -m venv "$tool"
        "$tool/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$COMPONENTIZE_PY"
    fi
    mkdir -p target/plugins/python
    for src in {policies,plugins}/*/python/{policy,hook}.py; do
        [ -e "$src" ] || continue
        local name out
        name=$(basename "$(dirname "$(dirname "$src")")")
        out=target/plugins/python/$name.wasm
        stale "$out" "$(dirname "$src")" plugins/sdk-python || { echo "up to date: $out"; continue; }
        "$tool/bin/componentize-py" -d plugins/wit -w "$(world_of "$src")" componentize \
            -p "$(dirname "$src")" -p plugins/sdk-python "$(basename "$src" .py)" -o "$out.tmp" >/dev/null
        mv "$out.tmp" "$out"
        echo "built $out ($(stat -c %s "$out") bytes)"
    done
}

build_js() {
    local tool=target/toolchains/js
    local bin=$tool/node_modules/.bin/componentize-js
    if [ "$("$bin" --version 2>/dev/null)" != "$COMPONENTIZE_JS" ]; then
        if ! command -v npm >/dev/null; then
            echo "plugins/build.sh: JavaScript plugins need Node.js and npm: apt-get install -y nodejs npm" >&2
            exit 1
        fi
        rm -rf "$tool" && mkdir -p "$tool"
        npm install --prefix "$tool" --no-audit --no-fund --silent "@bytecodealliance/componentize-js@$COMPONENTIZE_JS"
    fi
    mkdir -p target/plugins/js
    for src in {policies,plugins}/*/js/{policy,hook}.js; do
        [ -e "$src" ] || continue
        local name out
        name=$(basename "$(dirname "$(dirname "$src")")")
        out=target/plugins/js/$name.wasm
        stale "$out" "$(dirname "$src")" plugins/sdk-js || { echo "up to date: $out"; continue; }
        # Run from the repository's root: componentize-js resolves imports inside the directory
        # it is started in. No HTTP: sbx gives plugins no network.
        "$bin" --wit plugins/wit --world-name "$(world_of "$src")" -d http -d fetch-event -o "$out.tmp" "$src"
        mv "$out.tmp" "$out"
        echo "built $out ($(stat -c %s "$out") bytes)"
    done
}

if wants rust; then build_rust; fi
if wants python; then build_python; fi
if wants js; then build_js; fi
