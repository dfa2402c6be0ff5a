#!/usr/bin/env bash
# Before and after, in the same run: this tree's sbx against the sbx of an earlier commit (BEFORE,
# default 8d5f888, the last before the admission split of WIT 0.5.0 and the bounds on plugins and
# images), each with the plugins built from its own tree. Compares, pair by pair (bench/paired.py):
# admission (`run --rm` with no, one and five policies, the decision cache off), what one plugin
# call, a layer check and a spec check cost (`sbx plugin bench`, medians of five), and unpacking (a
# 128-layer and a 5,000-file image loaded into an empty store). Prints ratios after/before.
# The earlier tree is built once into target/before/ (a full build: about 20 minutes here).
# Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
before="${BEFORE:-8d5f888}"
runs="${RUNS:-100}"

examples/setup.sh >&2
tree=target/before/src
if [ "$(git -C "$tree" rev-parse HEAD 2>/dev/null)" != "$(git rev-parse "$before^{commit}")" ]; then
    git worktree remove --force "$tree" 2>/dev/null || rm -rf "$tree"
    git worktree add --detach "$tree" "$before" >&2
fi
# Its own target directory: the two trees' wasmtime builds would otherwise replace each other.
(cd "$tree" && cargo build --release -p sbx >&2 && plugins/build.sh >&2)

work=$(mktemp -d /root/sbx-before-after.XXXXXX)
cleanup() {
    grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
# Installed copies (see bench/run.sh: the linker's output execs slower), stores and compile caches
# of their own.
install -m 755 "$tree/target/release/sbx" "$work/sbx-before"
install -m 755 target/release/sbx "$work/sbx-after"
target/release/mkimage busybox docker-archive "$work/busybox.tar"
target/release/mkimage many:128 docker-archive "$work/many.tar"
target/release/mkimage files:5000 docker-archive "$work/files.tar"
for side in before after; do
    plugins=$tree/target/plugins
    [ "$side" = after ] && plugins=target/plugins
    env SBX_ROOT="$work/$side" SBX_PLUGIN_CACHE="$work/$side-cache" "$work/sbx-$side" load -q -i "$work/busybox.tar"
    p=$(realpath "$plugins")
    declare "five_$side=--policy $p/allow-all.wasm --policy $p/deny-setuid.wasm --policy $p/max-layer-size.wasm --policy $p/drop-capabilities.wasm --policy $p/no-escalation.wasm"
    declare "one_$side=--policy $p/deny-setuid.wasm"
    declare "plugins_$side=$p"
done
cmd() { # cmd SIDE ARGS...: a command line of that side's sbx, with its store and cache
    echo "env SBX_ROOT=$work/$1 SBX_PLUGIN_CACHE=$work/$1-cache SBX_POLICY_CACHE=off $work/sbx-$1 ${*:2}"
}
# Fill the compile caches.
for side in before after; do
    five="five_$side"
    $(cmd "$side" run --rm "${!five}" busybox /bin/true)
done

# compare NAME RUNS BEFORE AFTER: the two commands in turn, RUNS pairs; prints their medians and
# after/before as 1 + the median of the pairs' differences over before's median (robust to the
# machine's drift, which a ratio of two medians is not).
compare() {
    python3 bench/paired.py "$2" "before=$3" "after=$4" | python3 -c '
import re, sys
rows = [re.match(r"\s+(\S+)\s+([0-9.]+) ms\s+([-+][0-9.]+) ms", l) for l in sys.stdin]
(_, b, _), (_, a, d) = [m.groups() for m in rows if m]
print(f"  {sys.argv[1]:<34} before {float(b):8.2f} ms  after {float(a):8.2f} ms  after/before {1 + float(d) / float(b):.3f}x")
' "$1"
}

echo "admission: sbx run --rm busybox /bin/true, the decision cache off (pairs in turn):"
compare "without plugins" "$runs" "$(cmd before run --rm busybox /bin/true)" "$(cmd after run --rm busybox /bin/true)"
compare "1 policy" "$runs" "$(cmd before run --rm "$one_before" busybox /bin/true)" "$(cmd after run --rm "$one_after" busybox /bin/true)"
compare "5 policies" "$runs" "$(cmd before run --rm "$five_before" busybox /bin/true)" "$(cmd after run --rm "$five_after" busybox /bin/true)"

echo
echo "one plugin (sbx plugin bench, median of 5 benches each):"
for plugin in allow-all deny-setuid drop-capabilities; do
    for side in before after; do
        dir="plugins_$side"
        for _ in 1 2 3 4 5; do
            $(cmd "$side" plugin bench --entries 20000 "${!dir}/$plugin.wasm")
        done >"$work/$plugin-$side.txt"
    done
    python3 - "$work/$plugin-before.txt" "$work/$plugin-after.txt" "$plugin" <<'EOF'
import re, statistics, sys
def read(path):
    rows = {}
    for line in open(path):
        m = re.match(r"(cached load|call|fresh call|layer check|spec check):\s+([0-9.]+) ms", line)
        if m:
            rows.setdefault(m.group(1), []).append(float(m.group(2)))
    return {k: statistics.median(v) for k, v in rows.items()}
before, after, name = read(sys.argv[1]), read(sys.argv[2]), sys.argv[3]
# Before, every call had a fresh instance; after, an admission's calls share one, and hooks get a
# fresh one: both are set against the one call of before.
before["fresh call"] = before.get("call")
for key in ("cached load", "call", "fresh call", "layer check", "spec check"):
    if before.get(key) and key in after:
        print(f"  {name:<18} {key:<12} before {before[key]:7.3f} ms  after {after[key]:7.3f} ms  ({after[key]/before[key]:.2f}x)")
EOF
done
echo "  (call: after, in the admission's instance; fresh call: after, in a new one; before, every call had a new one)"

echo
# Both load into the same directory: on ext4 the cost of making an inode depends on the block
# group a directory lands in (here up to 2x between two fresh directories), which would swamp
# what the code does.
echo "unpacking: sbx load into an empty store, the same directory for both (pairs in turn):"
load() { echo "sh -c 'rm -rf $work/load && SBX_ROOT=$work/load $work/sbx-$1 load -q -i $work/$2'"; }
compare "128 layers" 20 "$(load before many.tar)" "$(load after many.tar)"
compare "5000 files in one layer" 10 "$(load before files.tar)" "$(load after files.tar)"
