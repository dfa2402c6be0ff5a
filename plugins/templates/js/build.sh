#!/usr/bin/env bash
# Builds __NAME__.wasm from policy.js with componentize-js, installed once (pinned) with npm under
# $SBX_TOOLCHAINS (default ~/.cache/sbx/toolchains).
set -euo pipefail
cd "$(dirname "$0")"
version=__COMPONENTIZE_JS__
tool=${SBX_TOOLCHAINS:-${XDG_CACHE_HOME:-$HOME/.cache}/sbx/toolchains}/js
bin=$tool/node_modules/.bin/componentize-js
if [ "$("$bin" --version 2>/dev/null)" != "$version" ]; then
    if ! command -v npm >/dev/null; then
        echo "build.sh: JavaScript plugins need Node.js and npm: apt-get install -y nodejs npm" >&2
        exit 1
    fi
    rm -rf "$tool" && mkdir -p "$tool"
    npm install --prefix "$tool" --no-audit --no-fund --silent "@bytecodealliance/componentize-js@$version"
fi
# No HTTP: sbx gives plugins no network.
"$bin" --wit wit --world-name policy-plugin -d http -d fetch-event -o __NAME__.wasm policy.js
echo "built __NAME__.wasm"
