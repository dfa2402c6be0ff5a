#!/usr/bin/env bash
# Builds every policy (policies/*) and hook plugin (plugins/* but the SDKs and WITs) of this repo
# into a component: the Rust ones (wasm32-wasip2, or wasm32-unknown-unknown for those whose
# Cargo.toml says wasi = "none") at target/plugins/NAME.wasm, the Python ones
# (policies/NAME/python/policy.py, plugins/NAME/python/hook.py) at target/plugins/python/NAME.wasm
# with componentize-py, the JavaScript ones (.../js/policy.js, .../js/hook.js) at
# target/plugins/js/NAME.wasm with componentize-js. `plugins/build.sh python js` builds only those.
#
# The toolchains are pinned in plugins/toolchains.sh; the Python and JavaScript ones are installed
# under target/toolchains (pip into a venv, npm into a prefix), from python3 with venv and Node.js
# with npm. Rust uses rustup's wasm32-wasip2 target where it is installed, else Debian's
# toolchain: `apt-get install rustc-web cargo-web rust-web-src wasi-libc`.
set -euo pipefail
cd "$(dirname "$0")/.."
SBX_TOOLCHAINS=${SBX_TOOLCHAINS:-$PWD/target/toolchains}
. plugins/toolchains.sh

langs=("$@")
[ ${#langs[@]} -gt 0 ] || langs=(rust python js)
wants() { [[ " ${langs[*]} " == *" $1 "* ]]; }

build_rust() {
    local dirs=() targets=() full=() bare=() d pkg
    for d in policies/*/ plugins/*/; do
        case "$d" in plugins/sdk/ | plugins/wit/) continue ;; esac
        [ -f "$d/Cargo.toml" ] || continue
        dirs+=("${d%/}")
        pkg=$(crate_name "$d")
        targets+=("$(wasm_target_of "$d")")
        case "${targets[-1]}" in
            wasm32-unknown-unknown) bare+=(-p "$pkg") ;;
            *) full+=(-p "$pkg") ;;
        esac
    done
    if [ ${#full[@]} -gt 0 ]; then cargo_wasm build --profile wasm --target-dir target/wasm "${full[@]}"; fi
    # Imports nothing of WASI: built for wasm32-unknown-unknown, and made a component by the
    # wasip2 target's linker, which then needs no WASI adapter (plugins/sdk/src/panics.rs says why).
    if [ ${#bare[@]} -gt 0 ]; then
        wasm_target=wasm32-unknown-unknown cargo_wasm build --profile wasm --target-dir target/wasm "${bare[@]}" || {
            echo "A plugin with wasi = \"none\" in its Cargo.toml did not build for wasm32-unknown-unknown:" \
                "if it needs WASI (files, clocks, randomness, printing), build it for wasm32-wasip2 without that line" >&2
            return 1
        }
    fi
    mkdir -p target/plugins
    local i name crate
    for i in "${!dirs[@]}"; do
        name=$(basename "${dirs[$i]}")
        crate=$(crate_name "${dirs[$i]}" | tr - _)
        cp "target/wasm/${targets[$i]}/wasm/$crate.wasm" "target/plugins/$name.wasm"
        echo "built target/plugins/$name.wasm ($(stat -c %s "target/plugins/$name.wasm") bytes)"
    done
}

# The package name in the Cargo.toml of directory $1.
crate_name() {
    sed -n 's/^name = "\(.*\)"/\1/p' "$1/Cargo.toml" | head -1
}

# Builds each {policies,plugins}/NAME/$1/{policy,hook}.$2 not built since it (or its SDK $3, or
# the WIT) changed to target/plugins/$1/NAME.wasm, with `$4 SOURCE WORLD OUT`. policy.* builds
# for the world policy-plugin, hook.* for hook-plugin.
build_sources() {
    local lang=$1 ext=$2 sdk=$3 build=$4 src
    mkdir -p "target/plugins/$lang"
    for src in {policies,plugins}/*/"$lang"/{policy,hook}."$ext"; do
        [ -e "$src" ] || continue
        case "$src" in plugins/templates/*) continue ;; esac
        local name out world
        name=$(basename "$(dirname "$(dirname "$src")")")
        out=target/plugins/$lang/$name.wasm
        if [ -e "$out" ] && [ -z "$(find "$(dirname "$src")" "$sdk" plugins/wit -newer "$out" -print -quit)" ]; then
            echo "up to date: $out"
            continue
        fi
        case "$(basename "$src")" in policy.*) world=policy-plugin ;; *) world=hook-plugin ;; esac
        "$build" "$src" "$world" "$out.tmp"
        mv "$out.tmp" "$out"
        echo "built $out ($(stat -c %s "$out") bytes)"
    done
}

python_build() {
    "$py" -d plugins/wit -w "$2" componentize -p "$(dirname "$1")" -p plugins/sdk-python "$(basename "$1" .py)" -o "$3" >/dev/null
}

# Run from the repository's root: componentize-js resolves imports inside the directory it is
# started in. No HTTP: sbx gives plugins no network.
js_build() {
    "$js" --wit plugins/wit --world-name "$2" -d http -d fetch-event -o "$3" "$1"
}

if wants rust; then build_rust; fi
if wants python; then
    py=$(componentize_py) || exit 1
    build_sources python py plugins/sdk-python python_build
fi
if wants js; then
    js=$(componentize_js) || exit 1
    build_sources js js plugins/sdk-js js_build
fi
