#!/usr/bin/env bash
# Builds the same ten-step Dockerfile (ENV, WORKDIR, a COPY of 1000 small files, RUNs, a LABEL,
# a CMD) with `sbx build` and with `buildah bud` in the same hyperfine session, cold (--no-cache)
# and fully cached, and prints medians and sbx's ratio to buildah. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
examples/setup.sh >&2
for tool in hyperfine buildah jq; do
    command -v "$tool" >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine buildah jq >/dev/null; break; }
done
runs="${RUNS:-10}"
work=$(mktemp -d /var/tmp/sbx-bench-build.XXXXXX)
# buildah with a store of its own, no network (as sbx), runc (Debian's crun refuses this machine's
# hybrid cgroups) and rlimits this machine allows.
bh="buildah --root $work/buildah --runroot $work/buildah-run --storage-driver overlay"
bud="$bh bud --runtime runc --network none --ulimit nofile=1024:20000 --ulimit nproc=4096:4096 --layers -q"
cleanup() {
    $bh rm -a >/dev/null 2>&1 || true
    $bh rmi -af >/dev/null 2>&1 || true
    grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export SBX_ROOT="$work/store"
install -m 755 target/release/sbx "$work/sbx"
sbx="$work/sbx"

target/release/mkimage busybox docker-archive "$work/busybox.tar"
"$sbx" load -q -i "$work/busybox.tar"
$bh pull -q "docker-archive:$work/busybox.tar" >/dev/null
$bh tag "$($bh images -q | head -1)" busybox

ctx="$work/ctx"
mkdir -p "$ctx/files"
for i in $(seq 1 1000); do echo "file $i" > "$ctx/files/f$i.txt"; done
cat > "$ctx/Dockerfile" <<'EOF'
FROM busybox
ENV APP=/app MODE=bench
WORKDIR /app
COPY files/ /app/files/
RUN ls /app/files | wc -l > /app/count
RUN mkdir -p /app/out && for i in 1 2 3 4 5; do echo $i > /app/out/$i; done
LABEL bench=yes
COPY Dockerfile /app/
RUN cat /app/count
CMD ["cat", "/app/count"]
EOF
# Both fill their caches first, then the cold builds make every step again.
"$sbx" build -q --network none -t bench "$ctx" >/dev/null
$bud -t bench "$ctx" >/dev/null
hyperfine -N --warmup 1 --runs "$runs" --export-json "$work/build.json" \
    -n "sbx build (cold)" "$sbx build -q --no-cache --network none -t bench $ctx" \
    -n "buildah bud (cold)" "$bud --no-cache -t bench $ctx" \
    -n "sbx build (cached)" "$sbx build -q --network none -t bench $ctx" \
    -n "buildah bud (cached)" "$bud -t bench $ctx" >&2
median() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .median * 1000' "$work/build.json"; }
printf '%-22s %10s\n' "build (10 steps)" "median ms"
for n in "sbx build (cold)" "buildah bud (cold)" "sbx build (cached)" "buildah bud (cached)"; do
    printf '%-22s %10.1f\n' "$n" "$(median "$n")"
done
for kind in cold cached; do
    s=$(median "sbx build ($kind)"); b=$(median "buildah bud ($kind)")
    printf 'sbx/buildah %-7s %.3fx (goal: at most 0.5x)\n' "$kind" "$(echo "$s / $b" | bc -l)"
done

# A context of 100k small files (100 directories of 1000) copied by one COPY, cold, once each.
big="$work/big"
mkdir -p "$big/files"
for d in $(seq 0 99); do
    mkdir -p "$big/files/$d"
    for f in $(seq 0 999); do echo "$f" > "$big/files/$d/f$f"; done
done
printf 'FROM busybox\nCOPY files/ /app/\nRUN find /app -type f | wc -l\n' > "$big/Dockerfile"
hyperfine -N --runs 1 --export-json "$work/big.json" \
    -n "sbx build 100k files" "$sbx build -q --no-cache --network none $big" \
    -n "buildah bud 100k files" "$bud --no-cache $big" >&2
s=$(jq -r '.results[0].median * 1000' "$work/big.json"); b=$(jq -r '.results[1].median * 1000' "$work/big.json")
printf '%-22s %10.1f\n%-22s %10.1f\n' "sbx 100k files" "$s" "buildah 100k files" "$b"
printf 'sbx/buildah 100k     %.3fx\n' "$(echo "$s / $b" | bc -l)"
