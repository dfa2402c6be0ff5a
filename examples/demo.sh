#!/usr/bin/env bash
# The sbx demo: builds sbx and its plugins, makes two busybox images, and shows a policy written in
# Rust and compiled to WebAssembly allow one image and refuse the other. Run as root on Debian 12.
set -euo pipefail
cd "$(dirname "$0")/.."
examples/setup.sh >&2

export SBX_ROOT="${SBX_ROOT:-/var/tmp/sbx-demo}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sbx=target/release/sbx
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }

target/release/mkimage busybox docker-archive "$work/busybox.tar"
target/release/mkimage setuid oci "$work/setuid"

say sbx load -i busybox.tar
$sbx load -i "$work/busybox.tar"
say sbx load -i setuid/
$sbx load -i "$work/setuid"
say sbx images
$sbx images

say sbx run --rm --policy deny-setuid.wasm busybox sh -c '...'
$sbx run --rm --policy target/plugins/deny-setuid.wasm busybox \
    sh -c 'echo "hello from $(hostname), I am $(id -un) and PID $$; my network: $(ls /sys/class/net)"'

say sbx run --rm --policy deny-setuid.wasm setuid ls -l /usr/bin/su
set +e
$sbx run --rm --policy target/plugins/deny-setuid.wasm setuid ls -l /usr/bin/su 2>&1
code=$?
set -e
echo "(exit code $code: the policy refused the image before anything was mounted)"

say sbx run --name keeper busybox sh -c 'echo kept > /tmp/note'
$sbx rm keeper >/dev/null 2>&1 || true
$sbx run --name keeper busybox sh -c 'echo kept > /tmp/note'
echo "the container's own writable layer holds its write:"
find "$SBX_ROOT"/containers/*/upper -type f | sed "s|$SBX_ROOT|\$SBX_ROOT|"
