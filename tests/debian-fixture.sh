#!/usr/bin/env bash
# The Debian fixture of sbx build's apt test (tests/tests/build.rs): a minbase Debian 12 rootfs
# (mmdebstrap) and a one-package apt repository (hello), fetched here from the machine's package
# mirror, so that the test itself reaches nothing but 127.0.0.1 inside a network namespace of its
# own. Made once per machine; if the mirror cannot be reached, the reason is written to UNREACHABLE
# and the test says it skips for that reason alone.
set -euo pipefail
dir=${SBX_DEBIAN_FIXTURE:-/var/cache/sbx-tests/debian-bookworm-1}
[ -f "$dir/rootfs.tar" ] && [ -f "$dir/repo/Packages" ] && exit 0

echo "setup: making the Debian fixture of the build tests in $dir (once)"
rm -rf "$dir.tmp" && mkdir -p "$dir.tmp/repo"
# The one package of the repository comes first: it tells whether the mirror can be reached at all.
if ! err=$(cd "$dir.tmp/repo" && apt-get -q -o APT::Sandbox::User=root download hello 2>&1); then
    echo "setup: the Debian mirror could not be reached; the apt build test will skip: $err" >&2
    mkdir -p "$dir" && printf '%s\n' "$err" > "$dir/UNREACHABLE"
    rm -rf "$dir.tmp"
    exit 0
fi
mmdebstrap --variant=minbase --quiet \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    bookworm "$dir.tmp/rootfs.tar"
(cd "$dir.tmp/repo" && apt-ftparchive packages . > Packages)
rm -rf "$dir" && mv "$dir.tmp" "$dir"
