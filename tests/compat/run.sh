#!/usr/bin/env bash
# Runs the docker command lines of tests/compat/cases.txt against sbx and, where podman is
# installed, against podman (each with a store of its own, the busybox test image loaded), and
# prints a table: works (the exit code and output docker gives), differs (it ran, but not as
# docker), missing (the verb or a flag is unknown). Ends with the counts. Run as root, after
# examples/setup.sh: `bash tests/compat/run.sh [--sbx-only]`.
set -uo pipefail
cd "$(dirname "$0")/../.."
# crun (podman's runtime) refuses hybrid cgroup machines (v1 controllers plus a v2 mount holding
# a controller): both engines then run in a mount namespace without that v2 mount, as bench/ does.
if [ -z "${SBX_COMPAT_NS:-}" ] && [ -d /sys/fs/cgroup/unified ] && grep -q . /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null; then
    exec env SBX_COMPAT_NS=1 unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && exec bash "$0" "$@"' "$0" "$@"
fi
sbx="${SBX_BIN:-$PWD/target/release/sbx}"
work=$(mktemp -d /var/tmp/sbx-compat.XXXXXX)
export SBX_ROOT="$work/sbx" HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1
engines=(sbx)
if [ "${1:-}" != "--sbx-only" ] && command -v podman >/dev/null; then
    engines+=(podman)
    # A podman of its own: its own store, no network by default (as sbx's), nothing pulled.
    # Limits within this machine's hard ones (podman's defaults ask for more than root may have here).
    printf '[containers]\nnetns = "none"\ndefault_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]\n' > "$work/containers.conf"
    export CONTAINERS_CONF="$work/containers.conf"
fi
podman_cmd=(podman --root "$work/podman/root" --runroot "$work/podman/run" --storage-driver overlay)

cleanup() {
    "$sbx" rm -f $("$sbx" ps -aq 2>/dev/null) >/dev/null 2>&1
    if [ ${#engines[@]} -gt 1 ]; then
        "${podman_cmd[@]}" rm -af -t 0 >/dev/null 2>&1
        "${podman_cmd[@]}" system reset -f >/dev/null 2>&1
    fi
    rm -rf "$work" /tmp/sbx-compat-*
}
trap cleanup EXIT

target/release/mkimage busybox docker-archive "$work/busybox.tar" >/dev/null
"$sbx" load -i "$work/busybox.tar" >/dev/null || { echo "compat: cannot load the test image into sbx" >&2; exit 1; }
if [ ${#engines[@]} -gt 1 ]; then
    "${podman_cmd[@]}" load -i "$work/busybox.tar" >/dev/null 2>&1 &&
        "${podman_cmd[@]}" tag busybox:latest docker.io/library/busybox:latest >/dev/null 2>&1 ||
        { echo "compat: podman cannot load the test image; comparing sbx alone" >&2; engines=(sbx); }
fi

# What an engine says when it does not know a verb or flag.
unknown='is not an sbx command|unexpected argument|unrecognized (subcommand|command)|unknown (flag|shorthand|command)|unknown option|not supported'

# Each engine is reached as `docker` through a wrapper on PATH, so a case is the very line a
# docker user types.
for e in "${engines[@]}"; do
    mkdir -p "$work/bin-$e"
    case $e in
        sbx) printf '#!/bin/sh\nexec %q "$@"\n' "$sbx" > "$work/bin-$e/docker" ;;
        podman) printf '#!/bin/sh\nexec %s "$@"\n' "$(printf '%q ' "${podman_cmd[@]}")" > "$work/bin-$e/docker" ;;
    esac
    chmod +x "$work/bin-$e/docker"
done

classify() { # engine, expected code, stdout pattern, command line -> works|differs|missing
    local out err rc
    out=$(mktemp); err=$(mktemp)
    PATH="$work/bin-$1:$PATH" timeout 60 bash -c "$4" >"$out" 2>"$err" </dev/null
    rc=$?
    if [ "$rc" -eq "$2" ] && { [ "$3" = - ] || grep -Eq -- "$3" "$out"; }; then
        echo works
    elif grep -Eqi -- "$unknown" "$err"; then
        echo missing
    else
        echo differs
    fi
    rm -f "$out" "$err"
}

declare -A count
printf '%-8s %-8s %s\n' SBX "$([ ${#engines[@]} -gt 1 ] && echo PODMAN || echo -)" "COMMAND"
while IFS=$'\t' read -r code pattern line; do
    case "$code" in ''|'#'*) continue ;; esac
    row=()
    for e in "${engines[@]}"; do
        r=$(classify "$e" "$code" "$pattern" "$line")
        count[$e-$r]=$(( ${count[$e-$r]:-0} + 1 ))
        row+=("$r")
    done
    printf '%-8s %-8s %s\n' "${row[0]}" "${row[1]:--}" "$line"
done < tests/compat/cases.txt
echo
for e in "${engines[@]}"; do
    total=$(( ${count[$e-works]:-0} + ${count[$e-differs]:-0} + ${count[$e-missing]:-0} ))
    echo "$e: ${count[$e-works]:-0} of $total work as in docker, ${count[$e-differs]:-0} differ, ${count[$e-missing]:-0} missing"
done
