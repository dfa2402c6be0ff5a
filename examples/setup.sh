#!/usr/bin/env bash
# Installs what sbx needs on Debian 12 (as root) and builds it: the sbx binary, the plugins
# (wasm32-wasip2 components) and the test image builder. Safe to run again: it installs only what
# is missing and cargo rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
    busybox-static                             # the tiny rootfs of the demo and test images
    gcc make pkg-config                        # C parts of crates (zstd)
    libseccomp-dev                             # compiles seccomp profiles to BPF
    uidmap                                     # newuidmap/newgidmap: rootless sbx maps its ids
    libc6-dev                                  # static libc for the escape probe of the tests
    jq                                         # the demo reads the audit log with it
    nftables iproute2                          # bridge networks: masquerade and isolation rules; the tests look with ip
    slirp4netns                                # rootless networking (--network slirp4netns)
    containerd                                 # the runtime tests drive sbx through its runc shim
    podman                                     # ...and run containers with sbx as podman's --runtime
    buildah                                    # sbx build compared with buildah bud (tests, bench)
    runc                                       # ...and compare sbx's runtime with runc's (conformance)
    docker-registry openssl apache2-utils      # the registry tests: Distribution's registry, a test CA, htpasswd
    skopeo                                     # ...and round trips of what sbx pushes and saves
    mmdebstrap apt-utils                       # the Debian rootfs and apt repository of the build test
    rustc-web cargo-web rust-web-src wasi-libc # the plugin toolchain (shared/WASM-TOOLCHAIN.md)
    python3-venv                               # Python plugins: componentize-py, pip-installed in a venv
)
# JavaScript plugins: componentize-js, npm-installed. A machine with another Node.js (NodeSource's
# carries its own npm) keeps it.
command -v npm >/dev/null || packages+=(nodejs npm)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --userns=auto takes each container's ids from the ranges of the user "containers", as podman's
# auto mode does; give it the upper half of the id space unless the machine already has a range.
for f in /etc/subuid /etc/subgid; do
    if ! grep -q '^containers:' "$f" 2>/dev/null; then
        echo "setup: adding containers:2147483647:2147483648 to $f (for --userns=auto)"
        echo "containers:2147483647:2147483648" >> "$f"
    fi
done

# A rootless sbx's slirp4netns opens /dev/net/tun as the user: udev makes it 0666 on Debian, but a
# machine without udev (a container, a minimal VM) may have it 0600.
if [ -c /dev/net/tun ] && [ "$(stat -c %a /dev/net/tun)" != 666 ]; then
    echo "setup: making /dev/net/tun usable by every user (mode 0666, as udev does)"
    chmod 0666 /dev/net/tun
fi

if ! command -v cargo >/dev/null || ! command -v rustup >/dev/null; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v rustup >/dev/null; then
    echo "setup: sbx needs a rustup toolchain (Rust 1.95 or later): https://rustup.rs" >&2
    exit 1
fi

tests/debian-fixture.sh

echo "setup: building sbx and the test image builder"
cargo build --release -p sbx -p sbx-tests --bins
echo "setup: building the plugins"
plugins/build.sh
