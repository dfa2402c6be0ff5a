#!/usr/bin/env bash
# sbx as an OCI runtime against crun and runc, in the same hyperfine sessions: the runtime CLI's
# create + start + delete of a bundle (busybox's files, /bin/true), with and without five
# policies, and `ctr run --rm IMAGE true` through containerd's runc shim with each as the runc
# binary (containerd started here with directories of its own). Prints medians and ratios to crun.
# Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

# crun refuses hybrid cgroup machines: the whole bench runs without the v2 mount (see run.sh).
if [ -z "${SBX_BENCH_NS:-}" ] && [ -d /sys/fs/cgroup/unified ] && grep -q . /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null; then
    exec env SBX_BENCH_NS=1 unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$0" "$@"
fi
examples/setup.sh >&2
for tool in hyperfine crun runc containerd jq; do
    command -v "$tool" >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine crun runc containerd jq >/dev/null; break; }
done
runs="${RUNS:-100}"
work=$(mktemp -d /root/sbx-bench-runtime.XXXXXX)
ns="sbx-bench-$$"
cleanup() {
    [ -n "${ctd_pid:-}" ] && kill "$ctd_pid" 2>/dev/null && wait "$ctd_pid" 2>/dev/null
    grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$work" "/run/containerd/runc/$ns"
    # ctr puts each container's cgroup at /NAMESPACE/ID: the namespace's directories go too.
    rmdir /sys/fs/cgroup/*/"$ns" 2>/dev/null || true
}
trap cleanup EXIT
install -m 755 target/release/sbx "$work/sbx"
ln -s "$work/sbx" "$work/sbx-runtime"
p=$(realpath target/plugins)
cat >"$work/five.yaml" <<EOF
plugins:
  - path: $p/allow-all.wasm
  - path: $p/deny-setuid.wasm
  - path: $p/max-layer-size.wasm
  - path: $p/drop-capabilities.wasm
  - path: $p/deny-host-mounts.wasm
EOF
printf '#!/bin/sh\nexec %s runtime --config %s "$@"\n' "$work/sbx" "$work/five.yaml" >"$work/sbx-runtime-five"
chmod +x "$work/sbx-runtime-five"

# The bundle: busybox's files, runc's default config running /bin/true on a writable root.
target/release/mkimage busybox docker-archive "$work/busybox.tar"
SBX_ROOT="$work/store" "$work/sbx" load -q -i "$work/busybox.tar"
mkdir -p "$work/bundle"
cp -a "$work"/store/layers/*/diff "$work/bundle/rootfs"
(cd "$work/bundle" && runc spec && jq '.process.args=["/bin/true"] | .process.terminal=false | .root.readonly=false' config.json >c && mv c config.json)
b="$work/bundle"
# Fill the plugin compile cache.
"$work/sbx-runtime-five" --root "$work/rt" create --bundle "$b" warm >/dev/null && "$work/sbx" runtime --root "$work/rt" delete -f warm

life() { # life RUNTIME ROOT: create, start, delete of one container
    echo "$1 --root $2 create --bundle $b c >/dev/null && $1 --root $2 start c && $1 --root $2 delete -f c"
}
hyperfine -N --warmup 10 --runs "$runs" --export-json "$work/life.json" \
    -n crun "sh -c '$(life crun "$work/crun")'" \
    -n runc "sh -c '$(life runc "$work/runc")'" \
    -n sbx "sh -c '$(life "$work/sbx-runtime" "$work/rt")'" \
    -n "sbx 5 policies" "sh -c '$(life "$work/sbx-runtime-five" "$work/rt")'" >&2
echo "runtime CLI: create + start + delete -f of a bundle running /bin/true, median ms (ratio to crun):"
jq -r '.results as $r | ($r[] | select(.command=="crun") | .median) as $c
    | $r[] | "  \(.command | .+ " " * (16 - length))\(.median*1000 | .*100 | round/100) ms  (\(.median/$c | .*100 | round/100)x crun)"' "$work/life.json"

# containerd with its own directories; each runtime is the runc binary of its runc shim.
cat >"$work/containerd.toml" <<EOF
version = 2
root = "$work/ctd/root"
state = "$work/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$work/ctd/sock"
[ttrpc]
  address = "$work/ctd/sock.ttrpc"
[debug]
  address = "$work/ctd/debug.sock"
EOF
containerd --config "$work/containerd.toml" >"$work/containerd.log" 2>&1 &
ctd_pid=$!
ctr="ctr --address $work/ctd/sock -n $ns"
for _ in $(seq 100); do $ctr version >/dev/null 2>&1 && break; sleep 0.1; done
$ctr image import "$work/busybox.tar" >/dev/null
image=docker.io/library/busybox:latest
run() { echo "$ctr run --rm --runtime io.containerd.runc.v2 --runc-binary $1 $image c /bin/true"; }
hyperfine -N --warmup 5 --runs "$((runs / 2))" --export-json "$work/ctr.json" \
    -n "ctr run, crun" "$(run "$(command -v crun)")" \
    -n "ctr run, runc" "$(run "$(command -v runc)")" \
    -n "ctr run, sbx" "$(run "$work/sbx-runtime")" \
    -n "ctr run, sbx 5 policies" "$(run "$work/sbx-runtime-five")" >&2
echo
echo "ctr run --rm busybox /bin/true through containerd's runc shim, median ms (ratio to crun):"
jq -r '.results as $r | ($r[0].median) as $c
    | $r[] | "  \(.command | .+ " " * (26 - length))\(.median*1000 | .*100 | round/100) ms  (\(.median/$c | .*100 | round/100)x crun)"' "$work/ctr.json"
