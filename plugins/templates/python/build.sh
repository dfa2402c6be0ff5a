#!/usr/bin/env bash
# Builds __NAME__.wasm from policy.py with componentize-py, installed once (pinned) in a venv under
# $SBX_TOOLCHAINS (default ~/.cache/sbx/toolchains).
set -euo pipefail
cd "$(dirname "$0")"
SBX_TOOLCHAINS=${SBX_TOOLCHAINS:-${XDG_CACHE_HOME:-$HOME/.cache}/sbx/toolchains}

__TOOLCHAINS__

py=$(componentize_py) || exit 1
"$py" -d wit -w policy-plugin componentize -p . policy -o __NAME__.wasm >/dev/null
echo "built __NAME__.wasm"
