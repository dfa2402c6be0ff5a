#!/bin/sh
# rustc, for the workspace's own crates (cargo's build.rustc-workspace-wrapper, .cargo/config.toml).
# It links the `sbx` binary as a static executable, and leaves every other crate as it was.
#
# Why: a dynamically linked sbx had the loader map libc, libm, libgcc_s and libseccomp and bind
# their symbols at every start, and libgcc_s's constructor probes the CPU (cpuid traps to the
# hypervisor on a VM: 6 us each here). Static, `sbx run --rm --cgroups=disabled busybox /bin/true`
# took 0.48 ms less (4.57 -> 4.08 ms, 100 pairs, fresh copies of both binaries). Only the final
# binary can be made static: cargo would apply `-C target-feature=+crt-static` to proc-macro
# crates too, which cannot be built so, unless every build named a --target (and moved
# target/release).
# Name resolution (registries) keeps working: glibc's files and dns lookups are built into libc.a.
# glibc and libseccomp are LGPL-2.1: a static link must leave users able to relink with their own
# versions, which building sbx from this source does.
# SBX_PIE=1 when building links it dynamically, as a PIE (host/build.rs).
rustc="$1"
shift
case " $* " in
*" --crate-name sbx "*"--crate-type bin "*)
    [ "${SBX_PIE:-0}" = 1 ] || set -- "$@" -C target-feature=+crt-static -C relocation-model=static
    # The functions a run executes together at the start of the text (host/link-ordered.sh), where
    # rustc links with its own lld (x86_64 Linux, since Rust 1.90) and no flag chooses a linker.
    case " $* " in
    *linker* | *link-self-contained* | *" --target "*) ;;
    *) [ "$(uname -m)" != x86_64 ] || [ "${SBX_LINK_ORDER:-on}" = off ] ||
        set -- "$@" -C linker="$(cd "$(dirname "$0")" && pwd)/link-ordered.sh" ;;
    esac
    ;;
esac
exec "$rustc" "$@"
