#!/usr/bin/env bash
# What policies and hooks cost in each language, against the issue's goals: `sbx run --rm busybox
# /bin/true` with no plugin, one policy in Rust, Python and JavaScript (deny-setuid, the decision
# cache off, so every run loads the plugin and asks it), five Rust policies with the decision
# cache off and on, and a hook in each language; then where five policies' time lands in a run
# (before the container's clone or after it), `sbx plugin bench` per language (load, a call, a
# fresh instance's call, a hook call), hook calls in nine processes per language, the peak RSS of
# a run with a Python policy, and how much of the link order's list the build matches.
# Commands are timed in turn (bench/paired.py), so the differences are free of the machine's
# drift. Run as root, after examples/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in python3 jq nm; do command -v "$tool" >/dev/null || { echo "bench/plugins.sh needs $tool" >&2; exit 1; }; done
command -v perf >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf >/dev/null; }

runs="${RUNS:-100}"
work=$(mktemp -d /var/tmp/sbx-bench-plugins.XXXXXX)
trap 'rm -rf "$work"' EXIT
export SBX_ROOT="$work/store" SBX_NETWORK=none SBX_PLUGIN_CACHE="$work/cache"
# Installed, as a runtime is: see bench/run.sh.
install -m 755 target/release/sbx "$work/sbx"
sbx="$work/sbx"
. bench/plugin-cases.sh
run="$sbx run --rm busybox /bin/true"
# A leading assignment: paired.py sets it without exec-ing env(1), which would add 1.4 ms.
off="SBX_POLICY_CACHE=off"
# Fills the decision cache of the cached five.
"$sbx" run --rm $five busybox /bin/true
# The compiled files (150 MB and more) are written back before the timing, not during it.
sync

echo "what plugins add to $run, commands in turn ($runs runs each):"
python3 bench/paired.py "$runs" \
    "no plugin=$run" \
    "Rust policy, uncached=$off $sbx run --rm --policy $p/deny-setuid.wasm busybox /bin/true" \
    "Python policy, uncached=$off $sbx run --rm --policy $p/python/deny-setuid.wasm busybox /bin/true" \
    "JS policy, uncached=$off $sbx run --rm --policy $p/js/deny-setuid.wasm busybox /bin/true" \
    "5 Rust policies, uncached=$off $sbx run --rm $five busybox /bin/true" \
    "5 Rust policies, cached=$sbx run --rm $five busybox /bin/true" \
    "Rust hook (audit-log)=$sbx --config $work/hook-rust.yaml run --rm busybox /bin/true" \
    "Python hook (audit-log)=$sbx --config $work/hook-python.yaml run --rm busybox /bin/true" \
    "JS hook (log-events)=$sbx run --rm --hook $p/js/log-events.wasm busybox /bin/true" | tee "$work/paired.txt"
echo "  goals: a Python or JS policy +5 ms; five Rust policies +1.5 ms uncached, +0.3 ms cached"

# Where five policies' time lands, from the scheduler's events (bench/phases.py, 30 runs each):
# before the container's clone (loading and asking them), in the child's setup (the clone copies
# the plugins' mappings and the child's exec drops them) or after the container (sbx's cleanup,
# and its exit tearing down the plugins' memory).
echo
echo "where the time of a run goes, with and without five Rust policies (medians, ms):"
for case in "no plugin|$run" "5 Rust policies, uncached|$off $sbx run --rm $five busybox /bin/true"; do
    IFS='|' read -r name cmd <<<"$case"
    python3 bench/phases.py "$name" "$sbx" "$cmd"
done

for wasm in deny-setuid.wasm python/deny-setuid.wasm js/deny-setuid.wasm audit-log.wasm python/audit-log.wasm js/log-events.wasm; do
    echo
    echo "sbx plugin bench $wasm (goal: a hook call 50 us):"
    # audit-log with the directory its configuration gives it: its hook times the appends it makes
    # in a run, not the denial it answers without one.
    config=
    case $wasm in audit-log.wasm) config="--config $work/hook-rust.yaml" ;; python/audit-log.wasm) config="--config $work/hook-python.yaml" ;; esac
    "$sbx" $config plugin bench --calls 100 --entries 10000 "$p/$wasm" 2>/dev/null | grep -v '^compile' | sed 's/^/  /'
done

# On one 2-core VM a hook call's median differed between processes, in every language: about 1.5
# times as long in a third to a half of them (Rust 15 and 21 us, Python 36 and 51-58, JavaScript
# 45 and 71-84), without address randomization and on one CPU alike; on another, every process
# was alike (13, 24 and 28 us). One process per plugin, as above, shows either mode; nine show
# both where both occur.
echo
echo "hook calls in nine processes each, sorted (us; goal 50):"
for hook in "Rust audit-log|--config $work/hook-rust.yaml|audit-log.wasm" \
    "Python audit-log|--config $work/hook-python.yaml|python/audit-log.wasm" "JS log-events||js/log-events.wasm"; do
    IFS='|' read -r name config wasm <<<"$hook"
    for i in $(seq 9); do
        "$sbx" $config plugin bench --calls 100 "$p/$wasm" 2>/dev/null | awk '/^hook:/ { print $2 * 1000 }'
    done | sort -n | tr '\n' ' ' | sed "s/^/  $name: /"
    echo
done

echo
for lang in python js; do
    rss=$( { SBX_POLICY_CACHE=off /usr/bin/time -f %M "$sbx" run --rm --policy "$p/$lang/deny-setuid.wasm" busybox /bin/true; } 2>&1 | tail -1)
    echo "peak RSS of sbx run with a $lang policy: $((rss / 1024)) MiB (goal: under 64)"
done
rss=$( { /usr/bin/time -f %M "$sbx" run --rm busybox /bin/true; } 2>&1 | tail -1)
echo "peak RSS of sbx run without plugins: $((rss / 1024)) MiB"

# The link order (host/link-ordered.sh) places the functions these runs execute by name and size;
# as the code changes, sizes change and the runs fault in more of sbx's text. How much of the list
# this build still matches exactly (a unique name is placed even so):
python3 - "$sbx" <<'EOF'
import sys
sys.path.insert(0, "bench")
from link_order import ORDER, Functions
listed = {line.strip() for line in open(ORDER) if line.strip() and not line.startswith("#")}
have = {key for _, key in Functions(sys.argv[1]).functions}
print(f"link order: {len(listed & have)} of {len(listed)} listed functions match this build"
      " (when many do not, run bench/link-order.sh)")
EOF
