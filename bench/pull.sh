#!/usr/bin/env bash
# Pulls and pushes through Debian's docker-registry on 127.0.0.1 (plain HTTP, a store of its own),
# sbx against skopeo (`copy docker://... oci:...`) and podman in the same hyperfine session, for an
# image of 64 small layers and one of a single 200 MB layer (incompressible, gzip); then the peak
# RSS of each pulling the 200 MB layer. Prints medians and ratios. Run as root.
set -euo pipefail
cd "$(dirname "$0")/.."
examples/setup.sh >&2
for tool in hyperfine podman skopeo docker-registry jq python3; do
    command -v "$tool" >/dev/null || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine podman skopeo docker-registry jq python3 >/dev/null; break; }
done

runs="${RUNS:-10}"
work=$(mktemp -d /var/tmp/sbx-pull.XXXXXX)
# The registry and every tool's store live on an ext4 file system of the bench's own, with a
# journal as Debian's installer makes it. On ext4 without a journal (some cloud images' root file
# system, this project's test machine's among them) the inode allocator passes over every inode
# freed in the last 30 s (recently_deleted), which charges the deleting between runs to whichever
# tool creates the most files: sbx unpacks 64 layers where skopeo writes 66 blobs.
truncate -s 8G "$work.img"
mkfs.ext4 -q -F "$work.img"
mount -o loop "$work.img" "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
reg="127.0.0.1:$port"
pm="podman --root $work/podman --runroot $work/podman-run --events-backend none"
cleanup() {
    [ -n "${regpid:-}" ] && kill "$regpid" 2>/dev/null || true
    [ -f "$work/registry.pid" ] && kill "$(cat "$work/registry.pid")" 2>/dev/null || true
    $pm rmi -af >/dev/null 2>&1 || true
    grep -o " $work/[^ ]*" /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    umount "$work" 2>/dev/null || umount -l "$work" || true
    rm -rf "$work" "$work.img"
}
trap cleanup EXIT

cat > "$work/registry.yml" <<EOF
version: 0.1
log: { level: error, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: $work/registry }, delete: { enabled: true } }
http: { addr: $reg }
EOF
docker-registry serve "$work/registry.yml" > "$work/registry.log" 2>&1 &
regpid=$!
printf 'registries:\n  insecure: ["%s"]\n' "$reg" > "$work/sbx.yaml"
install -m 755 target/release/sbx "$work/sbx"
sbx="$work/sbx --config $work/sbx.yaml"
export SBX_ROOT="$work/store"
for _ in $(seq 50); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$port))" 2>/dev/null && break; sleep 0.1; done

# The images, made and pushed by sbx under names of another registry (so no push can mount from
# what sbx knows of this one).
target/release/mkimage many:64 oci "$work/many"
$sbx load -q -i "$work/many"
mkdir -p "$work/big-root"
head -c $((200 << 20)) /dev/urandom > "$work/big-root/blob"
tar -C "$work/big-root" -cf - . | gzip -1 > "$work/big.tar.gz"
$sbx import "$work/big.tar.gz" bench/big:1 > /dev/null
$sbx tag many64:latest bench/many:1
$sbx push -q bench/many:1 "$reg/many:1" > /dev/null
$sbx push -q bench/big:1 "$reg/big:1" > /dev/null

hf() { hyperfine -N --runs "$runs" --warmup 1 --export-json "$work/$1.json" "${@:2}" > /dev/null; }
show() {
    jq -r --arg base "$2" '.results as $r | ([$r[] | select(.command != $base) | .median] | min) as $best
        | $r[] | "  \(.command | .+ " " * (20 - length))\(.median*1000 | round) ms  (\(.median/$best | .*100 | round/100)x the fastest other)"' "$work/$1.json"
}

for image in many big; do
    hf "pull-$image" \
        --prepare "rm -rf $work/s1 $work/sk" -n sbx "env SBX_ROOT=$work/s1 $work/sbx --config $work/sbx.yaml pull -q $reg/$image:1" \
        --prepare "rm -rf $work/sk" -n skopeo "skopeo copy -q --src-tls-verify=false docker://$reg/$image:1 oci:$work/sk:$image" \
        --prepare "$pm rmi -af" -n podman "$pm pull -q --tls-verify=false $reg/$image:1"
    echo "pull $image (median of $runs):"
    show "pull-$image" sbx
done

# Pushes to a registry emptied before each (nothing there to skip or mount, whatever a tool
# remembers of where blobs were).
$pm pull -q --tls-verify=false "$reg/big:1" > /dev/null
skopeo copy -q --src-tls-verify=false "docker://$reg/big:1" "oci:$work/sk-src:big"
{
    echo "kill \$(cat $work/registry.pid); while kill -0 \$(cat $work/registry.pid) 2>/dev/null; do sleep 0.05; done"
    echo "rm -rf $work/registry"
    echo "docker-registry serve $work/registry.yml > $work/registry.log 2>&1 &"
    echo "echo \$! > $work/registry.pid"
    echo "until python3 -c \"import socket; socket.create_connection(('127.0.0.1',$port))\" 2>/dev/null; do sleep 0.05; done"
} > "$work/fresh.sh"
echo "$regpid" > "$work/registry.pid"
regpid=
hf push --prepare "sh $work/fresh.sh" \
    -n sbx "$work/sbx --config $work/sbx.yaml push -q bench/big:1 $reg/pushed:1" \
    -n skopeo "skopeo copy -q --dest-tls-verify=false oci:$work/sk-src:big docker://$reg/pushed:1" \
    -n podman "$pm push -q --tls-verify=false $reg/big:1 $reg/pushed:1"
echo "push big (median of $runs):"
show push sbx
sh "$work/fresh.sh"
$sbx push -q bench/big:1 "$reg/big:1" > /dev/null

peak() { python3 -c 'import os,subprocess,sys; p=subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL); print(os.wait4(p.pid,0)[2].ru_maxrss//1024)' "$@"; }
rm -rf "$work/s1" "$work/sk"; $pm rmi -af > /dev/null
echo "peak RSS pulling the 200 MB layer (MiB; goal for sbx: under 64):"
echo "  sbx      $(SBX_ROOT=$work/s1 peak $work/sbx --config $work/sbx.yaml pull -q "$reg/big:1")"
echo "  skopeo   $(peak skopeo copy -q --src-tls-verify=false "docker://$reg/big:1" "oci:$work/sk:big")"
echo "  podman   $(peak $pm pull -q --tls-verify=false "$reg/big:1")"
