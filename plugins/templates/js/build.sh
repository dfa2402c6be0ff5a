#!/usr/bin/env bash
# Builds __NAME__.wasm from policy.js with componentize-js, installed once (pinned) with npm under
# $SBX_TOOLCHAINS (default ~/.cache/sbx/toolchains).
set -euo pipefail
cd "$(dirname "$0")"
SBX_TOOLCHAINS=${SBX_TOOLCHAINS:-${XDG_CACHE_HOME:-$HOME/.cache}/sbx/toolchains}

__TOOLCHAINS__

js=$(componentize_js) || exit 1
# No HTTP: sbx gives plugins no network.
"$js" --wit wit --world-name policy-plugin -d http -d fetch-event -o __NAME__.wasm policy.js
echo "built __NAME__.wasm"
