#!/usr/bin/env bash
# The sbx demo: builds sbx and its plugins, makes two busybox images, and shows policies written in
# Rust and compiled to WebAssembly allow one image and refuse the other, adjust a container's spec
# (the "restricted" profile) and see its isolation options (no-escalation), and a hook keep an audit
# log. Run as root on Debian 12.
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

say sbx policy test --policy non-root.wasm --policy read-only-rootfs.wasm busybox
set +e
$sbx policy test --policy target/plugins/read-only-rootfs.wasm --policy target/plugins/non-root.wasm busybox
echo "(exit code $?: nothing ran)"
set -e

say sbx --config policies/restricted.yaml run --rm -u 1000 busybox sh -c '...'
$sbx --config policies/restricted.yaml run --rm -u 1000 busybox \
    sh -c 'id; touch /etc/x; touch /tmp/x && echo "/tmp is writable"; grep -E "CapEff|CapBnd" /proc/self/status'

mkdir -p "$work/shared" && chmod 777 "$work/shared"
say sbx run --rm --userns=auto -v shared:/shared busybox sh -c '...'   # root inside, nobody outside
$sbx run --rm --userns=auto -v "$work/shared:/shared" busybox \
    sh -c 'id; cat /proc/self/uid_map; touch /shared/written-by-root'
echo "on the host, the file root wrote belongs to: $(stat -c %u "$work/shared/written-by-root")"

say sbx run --rm --policy no-escalation.wasm --privileged busybox true
set +e
$sbx run --rm --policy target/plugins/no-escalation.wasm --privileged busybox true 2>&1
echo "(exit code $?: the policy sees the isolation options in the spec)"
set -e
say sbx run --rm busybox sh -c '...'   # the defaults: docker's capabilities, seccomp, no_new_privs
$sbx run --rm busybox sh -c 'grep -E "CapEff|NoNewPrivs|Seccomp:" /proc/self/status; mount -t tmpfs x /mnt 2>&1; mknod /tmp/k c 1 11; cat /tmp/k 2>&1; exit 0'

mkdir -p "$work/audit"
cat > "$work/audit.yaml" <<YAML
plugins:
  - path: $PWD/target/plugins/audit-log.wasm
    preopens: [{ host: $work/audit, guest: /audit, mode: rw }]
YAML
say sbx --config audit.yaml run --rm busybox sh -c 'exit 3'
set +e
$sbx --config "$work/audit.yaml" run --rm busybox sh -c 'exit 3'
echo "(exit code $?)"
set -e
echo "the audit-log hook wrote one line per lifecycle event:"
jq -c '{event, name, status, exit_code}' "$work/audit/audit.jsonl"
