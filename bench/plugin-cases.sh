# The plugin cases that bench/plugins.sh times and bench/link-order.sh profiles. Sourced from the
# repository's root with $work (a scratch directory holding SBX_ROOT and SBX_PLUGIN_CACHE) and $sbx
# set; it loads busybox, compiles every plugin the cases use, writes the audit-log hooks' configs
# ($work/hook-rust.yaml, $work/hook-python.yaml), and sets $p (the plugins) and $five (five Rust
# policies' flags) for the command lines.
p=target/plugins
five="--policy $p/allow-all.wasm --policy $p/deny-setuid.wasm --policy $p/max-layer-size.wasm --policy $p/drop-capabilities.wasm --policy $p/no-escalation.wasm"
target/release/mkimage busybox docker-archive "$work/busybox.tar"
"$sbx" load -q -i "$work/busybox.tar"
for lang in rust python; do
    dir=$p; [ $lang = rust ] || dir=$p/$lang
    mkdir -p "$work/audit-$lang"
    printf 'plugins:\n  - path: %s\n    preopens: [{ host: %s, guest: /audit, mode: rw }]\n' \
        "$PWD/$dir/audit-log.wasm" "$work/audit-$lang" > "$work/hook-$lang.yaml"
done
"$sbx" plugin compile $p/{allow-all,deny-setuid,max-layer-size,drop-capabilities,no-escalation,audit-log}.wasm \
    $p/{python,js}/deny-setuid.wasm $p/python/audit-log.wasm $p/js/log-events.wasm >/dev/null
