#!/usr/bin/env bash
# Builds __NAME__.wasm from policy.py with componentize-py, installed once (pinned) in a venv under
# $SBX_TOOLCHAINS (default ~/.cache/sbx/toolchains).
set -euo pipefail
cd "$(dirname "$0")"
version=__COMPONENTIZE_PY__
tool=${SBX_TOOLCHAINS:-${XDG_CACHE_HOME:-$HOME/.cache}/sbx/toolchains}/python
if [ "$("$tool/bin/componentize-py" --version 2>/dev/null)" != "componentize-py $version" ]; then
    if ! python3 -m venv --help >/dev/null 2>&1; then
        echo "build.sh: Python plugins need python3 with venv: apt-get install -y python3-venv python3-pip" >&2
        exit 1
    fi
    rm -rf "$tool" && python3 -m venv "$tool"
    "$tool/bin/pip" install --quiet --disable-pip-version-check "componentize-py==$version"
fi
"$tool/bin/componentize-py" -d wit -w policy-plugin componentize -p . policy -o __NAME__.wasm >/dev/null
echo "built __NAME__.wasm"
