#!/usr/bin/env bash
# Writes host/link-order.txt, the order in which lld puts the functions `sbx run --rm` executes at
# the start of sbx's text (host/link-ordered.sh says why; bench/link_order.py how the list is found). Run
# as root, after examples/setup.sh, when much of the code has changed; it builds sbx four times.
set -euo pipefail
cd "$(dirname "$0")/.."
for tool in perf python3; do
    command -v "$tool" >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf python3 >/dev/null; break; }
done

work=$(mktemp -d /var/tmp/sbx-link-order.XXXXXX)
trap 'rm -rf "$work"' EXIT
export SBX_ROOT="$work/store" SBX_NETWORK=none SBX_PLUGIN_CACHE="$work/cache"
sbx=target/release/sbx
. bench/plugin-cases.sh

# The cases of bench/plugins.sh, as link_order.py runs them (from here): BINARY N KIND.
cat > "$work/runs" <<EOF
#!/bin/sh
set -e
sbx=\$1
five="$five"
export SBX_POLICY_CACHE=off
for i in \$(seq \$2); do
    case \$3 in
    none) \$sbx run --rm busybox /bin/true ;;
    five) \$sbx run --rm \$five busybox /bin/true ;;
    others)
        \$sbx run --rm --policy $p/python/deny-setuid.wasm busybox /bin/true
        \$sbx run --rm --policy $p/js/deny-setuid.wasm busybox /bin/true
        \$sbx --config $work/hook-rust.yaml run --rm busybox /bin/true
        \$sbx --config $work/hook-python.yaml run --rm busybox /bin/true
        \$sbx run --rm --hook $p/js/log-events.wasm busybox /bin/true
        SBX_POLICY_CACHE=on \$sbx run --rm \$five busybox /bin/true ;;
    esac >/dev/null 2>&1
done
EOF
chmod +x "$work/runs"
python3 bench/link_order.py "$work/runs"
