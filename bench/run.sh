#!/usr/bin/env bash
# Times `sbx run --rm IMAGE /bin/true` (no policy, 1 policy, 5 policies) against crun (with and
# without cgroups) and runc running the same busybox rootfs as a prepared bundle and podman running
# the same image, in the same hyperfine session, and shows where the time of a run goes; exec and a detached container's life against crun and podman; user
# namespaces (--userns=auto, rootless) against podman's --userns=auto; image load
# per layer against podman; and what single plugins cost (`sbx plugin bench`). Prints medians and
# ratios. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

# crun refuses hybrid cgroup machines (v1 controllers plus a v2 mount holding a controller). The
# whole bench, sbx included, then runs in a private mount namespace without that v2 mount.
if [ -z "${SBX_BENCH_NS:-}" ] && [ -d /sys/fs/cgroup/unified ] && grep -q . /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null; then
    exec env SBX_BENCH_NS=1 unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && exec "$0" "$@"' "$0" "$@"
fi
examples/setup.sh >&2
for tool in hyperfine crun runc podman jq python3 perf; do
    command -v "$tool" >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine crun runc podman jq python3 linux-perf >/dev/null; break; }
done

runs="${RUNS:-100}"
work=$(mktemp -d /var/tmp/sbx-bench.XXXXXX)
# podman with a store of its own, no network (as sbx), and rlimits this machine allows (its
# defaults raise RLIMIT_NOFILE and RLIMIT_NPROC above the hard limits here, which crun refuses).
# runc: Debian's crun 1.8 refuses this machine's hybrid cgroups under podman.
pm="podman --root $work/podman --runroot $work/podman-run --cgroup-manager cgroupfs --events-backend none --runtime runc"
pmrun="--network none --ulimit nofile=1024:20000 --ulimit nproc=4096:4096"
cleanup() {
    $pm rm -af >/dev/null 2>&1 || true
    $pm rmi -af >/dev/null 2>&1 || true
    grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export SBX_ROOT="$work/store"
# The figures below are of --network none, as podman's (the bridge section measures networks, in
# a network namespace of its own).
export SBX_NETWORK=none
# sbx runs installed, as crun and runc are: a copy, not the linker's output in target/, whose page
# cache (written through the linker's mappings) makes each exec about 0.6 ms slower here.
install -m 755 target/release/sbx "$work/sbx"
sbx="$work/sbx"
p=target/plugins

target/release/mkimage busybox docker-archive "$work/busybox.tar"
"$sbx" load -q -i "$work/busybox.tar"
$pm load -q -i "$work/busybox.tar" >/dev/null

# The same rootfs as a runtime bundle for crun and runc.
mkdir -p "$work/bundle"
cp -a "$SBX_ROOT"/layers/*/diff "$work/bundle/rootfs"
(cd "$work/bundle" && crun spec && jq '.process.args=["/bin/true"] | .process.terminal=false' config.json > c && mv c config.json)

five="--policy $p/allow-all.wasm --policy $p/deny-setuid.wasm --policy $p/max-layer-size.wasm --policy $p/allow-all.wasm --policy $p/deny-setuid.wasm"
# Fills the compile cache and the decision cache ("sbx 5 policies" reads the decision; "uncached"
# loads the five plugins and asks them every time).
"$sbx" run --rm $five busybox /bin/true

# podman last: the work its runs leave to the kernel would slow whatever came next.
hyperfine -N --warmup 10 --runs "$runs" --export-json "$work/run.json" \
    -n crun "crun run --bundle $work/bundle bench-crun" \
    -n "crun, no cgroups" "crun --cgroup-manager=disabled run --bundle $work/bundle bench-crun" \
    -n sbx "$sbx run --rm busybox /bin/true" \
    -n "sbx, no cgroups" "$sbx run --rm --cgroups=disabled busybox /bin/true" \
    -n "sbx 1 policy" "$sbx run --rm --policy $p/deny-setuid.wasm busybox /bin/true" \
    -n "sbx 5 policies" "$sbx run --rm $five busybox /bin/true" \
    -n "sbx 5 policies uncached (through env)" "env SBX_POLICY_CACHE=off $sbx run --rm $five busybox /bin/true" \
    -n runc "runc run --bundle $work/bundle bench-runc" \
    -n "podman --network none" "$pm run --rm $pmrun localhost/busybox /bin/true" >&2

echo
echo "create -> exit of /bin/true, median ms (ratio to crun):"
jq -r '.results as $r | ($r[] | select(.command=="crun") | .median) as $c
    | $r[] | "  \(.command | .+ " " * (24 - length))\(.median*1000 | .*100 | round/100) ms  (\(.median/$c | .*100 | round/100)x crun)"' "$work/run.json"
jq -r '.results as $r | ($r[] | select(.command=="sbx") | .median) as $s
    | $r[] | select(.command|startswith("sbx ")) | "  \(.command) costs \((.median-$s)*1000 | .*100 | round/100) ms more than sbx without plugins"' "$work/run.json"
jq -r '.results as $r | ($r[] | select(.command=="crun, no cgroups") | .median) as $c
    | $r[] | select(.command=="sbx" or .command=="sbx, no cgroups")
    | "  \(.command) against crun without cgroups: \(.median/$c | .*100 | round/100)x (goal 0.8x without cgroups)"' "$work/run.json"

# The same two in turn, pair by pair: the difference free of the machine's drift between
# hyperfine's blocks (which on this VM moves a block's median by milliseconds).
echo
echo "sbx against crun without cgroups, in turn:"
python3 bench/paired.py "$runs" \
    "crun, no cgroups=crun --cgroup-manager=disabled run --bundle $work/bundle bench-crun" \
    "sbx=$sbx run --rm busybox /bin/true" \
    "sbx, no cgroups=$sbx run --rm --cgroups=disabled busybox /bin/true"

# The floor under both: every run starts two glibc programs (the runtime and the container's
# /bin/true), and glibc probes the CPU at each start (on a VM every cpuid traps to the hypervisor).
echo
echo "the floor: one start of a static glibc program (busybox-static's true):"
hyperfine -N -w 20 -r 300 -n "busybox true" "$(command -v busybox) true" 2>/dev/null | grep -E "Time|Range"

# Where the time of one run goes, phase by phase, from the scheduler's events (perf): 30 runs each.
echo
echo "where the time of a run goes (medians, ms):"
crun_bin=$(command -v crun)
for case in "sbx|$sbx|$sbx run --rm busybox /bin/true" \
    "sbx, no cgroups|$sbx|$sbx run --rm --cgroups=disabled busybox /bin/true" \
    "crun, no cgroups|$crun_bin|$crun_bin --cgroup-manager=disabled run --bundle $work/bundle bench-phases"; do
    IFS='|' read -r name bin cmd <<<"$case"
    python3 bench/phases.py "$name" "$bin" "$cmd"
done
# And in which system calls, by the runtime and by the container's process (perf trace, 20 runs).
echo
echo "the system calls that took the most time (ms per run):"
for case in "sbx, no cgroups|$sbx|$sbx run --rm --cgroups=disabled busybox /bin/true" \
    "crun, no cgroups|$crun_bin|$crun_bin --cgroup-manager=disabled run --bundle $work/bundle bench-syscalls"; do
    IFS='|' read -r name bin cmd <<<"$case"
    perf trace -s -o "$work/trace.txt" -- sh -c "for i in \$(seq 20); do $cmd; done" >/dev/null 2>&1
    python3 bench/syscalls.py "$name" "$(basename "$bin")" "$work/trace.txt"
done

# The same plugin sets timed in turn, pair by pair: what plugins add to a run, free of the machine's
# drift between hyperfine's blocks.
echo
echo "what plugins add to sbx run --rm busybox /bin/true (commands in turn):"
python3 bench/paired.py "$runs" \
    "sbx=$sbx run --rm busybox /bin/true" \
    "sbx 1 policy=$sbx run --rm --policy $p/deny-setuid.wasm busybox /bin/true" \
    "sbx 5 policies=$sbx run --rm $five busybox /bin/true" \
    "sbx 5 policies uncached=SBX_POLICY_CACHE=off $sbx run --rm $five busybox /bin/true"

# Lifecycle verbs against crun's and podman's in the same session: exec into a running container,
# and a detached container's whole life (run -d, stop, rm).
mkdir -p "$work/bundle-sleep"
ln -s "$work/bundle/rootfs" "$work/bundle-sleep/rootfs"
jq '.process.args=["sleep","1000"]' "$work/bundle/config.json" > "$work/bundle-sleep/config.json"
crun run -d --bundle "$work/bundle-sleep" bench-sleep
cid=$("$sbx" run -d busybox sleep 1000)
pid=$($pm run -d $pmrun localhost/busybox sleep 1000)
monitor=$(awk '{print $4}' "/proc/$("$sbx" inspect "$cid" | jq '.[0].State.Pid')/stat")
hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/exec.json" \
    -n "crun exec" "crun exec bench-sleep /bin/true" \
    -n "podman exec" "$pm exec $pid /bin/true" \
    -n "sbx exec" "$sbx exec $cid /bin/true" >&2
hyperfine --warmup 3 --runs 30 --export-json "$work/life.json" \
    -n "crun run -d, kill, delete" "crun run -d --bundle $work/bundle-sleep bench-life && crun kill bench-life KILL && crun delete -f bench-life" \
    -n "podman run -d, stop, rm" "id=\$($pm run -d $pmrun localhost/busybox sleep 1000) && $pm stop -t 0 \$id >/dev/null && $pm rm \$id >/dev/null" \
    -n "sbx run -d, stop, rm" "id=\$($sbx run -d busybox sleep 1000) && $sbx stop -t 0 \$id >/dev/null && $sbx rm \$id >/dev/null" >&2
echo
echo "lifecycle, median ms (ratio to crun):"
for f in exec life; do
    jq -r '.results as $r | ($r[0].median) as $c
        | $r[] | "  \(.command | .+ " " * (28 - length))\(.median*1000 | .*100 | round/100) ms  (\(.median/$c | .*100 | round/100)x)"' "$work/$f.json"
done
echo "  the monitor of a detached container: $(grep VmRSS "/proc/$monitor/status" | awk '{print $2}') KiB resident"
"$sbx" rm -f "$cid" >/dev/null
$pm rm -f -t 0 "$pid" >/dev/null
crun delete -f bench-sleep

# User namespaces: a container of its own ids (--userns=auto: idmapped layers) against podman's
# --userns=auto, and rootless sbx (as a user made for the bench, with the subuid ranges useradd
# gives; its runs go through setpriv, timed alone as well).
bench_user=sbxbench
id "$bench_user" >/dev/null 2>&1 || useradd -m -s /bin/sh "$bench_user"
bench_home=$(getent passwd "$bench_user" | cut -d: -f6)
install -o "$bench_user" -m 755 "$sbx" "$bench_home/sbx"
install -o "$bench_user" -m 644 "$work/busybox.tar" "$bench_home/busybox.tar"
as_user="setpriv --reuid $bench_user --regid $bench_user --init-groups env -i HOME=$bench_home"
$as_user "$bench_home/sbx" load -q -i "$bench_home/busybox.tar"
"$sbx" run --rm --userns=auto busybox /bin/true
$pm run --rm $pmrun --userns=auto localhost/busybox /bin/true
hyperfine -N --warmup 10 --runs "$runs" --export-json "$work/userns.json" \
    -n "sbx" "$sbx run --rm busybox /bin/true" \
    -n "sbx --userns=auto" "$sbx run --rm --userns=auto busybox /bin/true" \
    -n "podman --userns=auto" "$pm run --rm $pmrun --userns=auto localhost/busybox /bin/true" \
    -n "setpriv alone" "$as_user /bin/true" \
    -n "sbx rootless (setpriv)" "$as_user $bench_home/sbx run --rm busybox /bin/true" >&2
echo
echo "user namespaces, median ms (ratio to sbx with the host's ids):"
jq -r '.results as $r | ($r[0].median) as $c
    | $r[] | "  \(.command | .+ " " * (24 - length))\(.median*1000 | .*100 | round/100) ms  (\(.median/$c | .*100 | round/100)x)"' "$work/userns.json"

# Bridge networks: a run on the default bridge network against --network none, and podman's
# default network (netavark) against its none, in a network namespace made for it (the machine's
# network is not touched), with a store of sbx's own for its networks.
netns="sbx-bench-$$"
ip netns add "$netns"
ip -n "$netns" link set lo up
in_ns="nsenter --net=/run/netns/$netns"
SBX_ROOT="$work/store" $in_ns "$sbx" run --rm --network bridge busybox /bin/true
$in_ns $pm run --rm --ulimit nofile=1024:20000 --ulimit nproc=4096:4096 localhost/busybox /bin/true >/dev/null
$in_ns hyperfine -N --warmup 5 --runs "$runs" --export-json "$work/net.json" \
    -n "sbx --network none" "$sbx run --rm --network none busybox /bin/true" \
    -n "sbx --network bridge" "$sbx run --rm --network bridge busybox /bin/true" \
    -n "podman --network none" "$pm run --rm $pmrun localhost/busybox /bin/true" \
    -n "podman (its default network)" "$pm run --rm --ulimit nofile=1024:20000 --ulimit nproc=4096:4096 localhost/busybox /bin/true" \
    -n "sbx --network slirp4netns" "$sbx run --rm --network slirp4netns busybox /bin/true" \
    -n "podman --network slirp4netns" "$pm run --rm --network slirp4netns --ulimit nofile=1024:20000 --ulimit nproc=4096:4096 localhost/busybox /bin/true" >&2
ip netns del "$netns"
echo
echo "bridge networks, median ms:"
jq -r '.results[] | "  \(.command | .+ " " * (30 - length))\(.median*1000 | .*100 | round/100) ms"' "$work/net.json"
jq -r '.results as $r | ($r[0].median) as $n | ($r[1].median) as $b | ($r[2].median) as $pn | ($r[3].median) as $pb
    | "  the bridge costs sbx \(($b-$n)*1000 | .*100 | round/100) ms (goal: at most 5), podman \(($pb-$pn)*1000 | .*100 | round/100) ms",
      "  slirp4netns (rootless networking) costs sbx \(($r[4].median-$n)*1000 | .*100 | round/100) ms, podman \(($r[5].median-$pn)*1000 | .*100 | round/100) ms"' "$work/net.json"

# Image load: a 128-layer docker-archive into an empty store each time.
target/release/mkimage many:128 docker-archive "$work/many.tar"
hyperfine -N --warmup 1 --runs 5 --export-json "$work/load.json" \
    --prepare "rm -rf $work/load-store" \
    -n "sbx load (128 layers)" "env SBX_ROOT=$work/load-store $sbx load -q -i $work/many.tar" \
    -n "podman load (128 layers)" --prepare "$pm rmi -af" "$pm load -q -i $work/many.tar" >&2
echo
jq -r '.results as $r | ($r[0].median) as $s | $r[] | "\(.command): \(.median*1000 | round) ms, \(.median*1000/128 | .*100 | round/100) ms per layer (\(.median/$s | .*10 | round/10)x sbx)"' "$work/load.json"

# What one plugin costs (sbx plugin bench): compile, cached load, a call in a fresh Store from
# InstancePre, a layer check over 50,000 entries, a spec check, a hook call (audit-log's appends,
# in a directory its configuration gives it).
mkdir -p "$work/audit"
printf 'plugins:\n  - path: %s\n    preopens: [{ host: %s, guest: /audit, mode: rw }]\n' \
    "$PWD/$p/audit-log.wasm" "$work/audit" > "$work/audit.yaml"
for plugin in allow-all deny-setuid drop-capabilities audit-log; do
    echo
    echo "sbx plugin bench $plugin:"
    "$sbx" --config "$work/audit.yaml" plugin bench --entries 50000 "$p/$plugin.wasm" | sed 's/^/  /'
done

# sbx build against buildah bud (bench/build.sh, its own stores).
echo
RUNS=5 bench/build.sh
