#!/bin/sh
# The linker of the `sbx` binary (host/link-static.sh names it): cc, as rustc would run it, given
# the order in which lld is to put the functions a run executes. host/link-order.txt lists them
# (bench/link-order.sh writes it from a profile), and lld puts them first in the text, together.
# Scattered over sbx's 23 MB of code, they cost a run without plugins 90 to 130 page faults (each
# maps a 64 KiB window of the file) and a run with five policies 115 to 160; together, 37 and 43.
# In paired runs of fresh copies, `sbx run --rm busybox /bin/true` took 0.19 to 0.23 ms less, with
# five Rust policies 0.18 to 0.48 ms less, with a Python policy 0.55 ms less (100 and 150 pairs).
# A stale list costs speed, never correctness; SBX_LINK_ORDER=off when building leaves the order to
# the linker.
#
# Each line of the list is a function's name without the hashes rustc puts in symbol names ("17h"
# and 16 hex digits at the end of a legacy name, ".llvm." and digits after a function ThinLTO made
# global) and its size in hex. The hashes change with where the source is and with the crates'
# features, which cargo chooses per build. Without them, a legacy name of a generic function names
# all its instances (780 of `RawVec::grow_one`); the size tells them apart. Here each line becomes
# every function of the objects being linked with that name and size; one that none has is skipped,
# and if the list cannot be read, sbx is linked without it. Written here, not taken from a tool: lld
# takes only exact names, and none maps a profile's names onto another build's.
set -eu
order="$(dirname "$0")/link-order.txt"
resolved=$(mktemp "${TMPDIR:-/tmp}/sbx-link-order.XXXXXX")
trap 'rm -f "$resolved"' EXIT

# The exact names, in the list's order, of the functions in the objects named in "$@".
resolve() {
    objects=
    for arg in "$@"; do
        case "$arg" in *.o) objects="$objects $arg" ;; esac
    done
    # shellcheck disable=SC2086 # one word per object
    { grep -v '^#' "$order"; echo --; [ -z "$objects" ] || nm --defined-only --format=posix $objects; } | awk '
        function plain(name) { sub(/\.llvm\.[0-9]+$/, "", name); sub(/17h[0-9a-f]+E$/, "", name); return name }
        !listed && $0 == "--" { listed = 1; next }
        !listed { rank[$1 " " $2] = ++n; name[n] = $1; listed_as[$1]++; next }
        $2 ~ /^[tTwW]$/ && $4 != "" {
            size = $4
            sub(/^0+/, "", size)
            key = plain($1) " " size
            if (key in rank) { names[rank[key]] = names[rank[key]] $1 "\n"; next }
            found[plain($1)]++
            only[plain($1)] = $1
        }
        # A listed name is also given as it is: that of a C function (glibc, libseccomp) is exact.
        # One that matched no size is still placed when the list and the objects each have one
        # function of that name: an edit changes the size of a function, rarely its name.
        END {
            for (i = 1; i <= n; i++) {
                if (names[i] == "" && listed_as[name[i]] == 1 && found[name[i]] == 1) names[i] = only[name[i]] "\n"
                printf "%s\n%s", name[i], names[i]
            }
        }
    '
}
if ! resolve "$@" > "$resolved"; then
    echo "host/link-ordered.sh: cannot read $order or the objects' names; linking without the order" >&2
    : > "$resolved"
fi
cc "$@" -Wl,--symbol-ordering-file="$resolved" -Wl,--no-warn-symbol-ordering
