#!/usr/bin/env bash
# Sets up (examples/setup.sh) and runs every test of sbx: formatting, clippy, the native unit tests
# of the host and of every plugin, then the integration tests that drive the real sbx binary with
# real overlayfs, namespaces, cgroups and wasm plugins. Needs root; under CI a missing root fails.
set -euo pipefail
cd "$(dirname "$0")/.."
examples/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --release --all-targets --workspace -- -D warnings
echo "== unit tests (host, sdk, plugins: native)"
cargo test --release --workspace --exclude sbx-tests
echo "== integration tests (real sbx, as root)"
SBX_BIN="$PWD/target/release/sbx" cargo test --release -p sbx-tests
