#!/usr/bin/env bash
# The C suite (tests/c/run.sh) against the libraries `make dist` built for
# Linux aarch64 (glibc), x86_64 musl and aarch64 musl: each test program is
# compiled with the platform's C compiler against the platform's C SDK
# (shared and static) and run under qemu-aarch64 or, on x86_64 musl,
# directly through musl's loader; the broker is this machine's kmq-broker.
#
#   tests/c/cross.sh [PLATFORM...] [-- TESTS...]
#
# Env: KMQ_DIST_DIR (default dist), KMQ_BROKER.
# Prints each platform's lines and, last, "N passed, M failed, K skipped"
# over all of them.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
source "$repo/scripts/platforms.sh"
dist=$(cd "$repo" && cd "${KMQ_DIST_DIR:-dist}" 2>/dev/null && pwd) || dist="$repo/${KMQ_DIST_DIR:-dist}"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)
tools=$(bash "$repo/scripts/dist-tools.sh")
bash "$repo/scripts/cross-tools.sh"

platforms=()
while [[ $# -gt 0 && $1 != -- ]]; do
    platforms+=("$1")
    shift
done
[[ ${1:-} == -- ]] && shift
[[ ${#platforms[@]} -gt 0 ]] || platforms=(linux-aarch64 linux-x86_64-musl linux-aarch64-musl)

work=$(mktemp -d /tmp/kapokmq-cross.XXXXXX)
trap 'rm -rf "$work"' EXIT
total_passed=0 total_failed=0 total_skipped=0
for name in "${platforms[@]}"; do
    kmq_platform "$name"
    sdk="$dist/kapokmq-$version-$name.tar.gz"
    [[ -f $sdk ]] || { echo "missing $sdk: run make dist" >&2; exit 2; }
    tar -xzf "$sdk" -C "$work"
    lib="$work/kapokmq-$version-$name/lib/libkapokmq.so"
    settings=(KAPOKMQ_LIB="$lib" KMQ_CROSS="$name")
    case $name in
        linux-aarch64)
            settings+=(CC=aarch64-linux-gnu-gcc CXX=aarch64-linux-gnu-g++ KMQ_TEST_RUNNER=qemu-aarch64-static)
            ;;
        linux-*-musl)
            # Debian's musl (1.2.3, the one that runs the programs here)
            # through gcc's specs file for programs linked with the shared
            # library. Its gcc's libgcc_eh is glibc's, so the static ones
            # are linked by zig with its libunwind instead (on Alpine, gcc's
            # libgcc_s serves).
            arch=${name#linux-}
            arch=${arch%-musl}
            gcc=gcc
            [[ $arch == aarch64 ]] && gcc=aarch64-linux-gnu-gcc
            # -mno-outline-atomics: the cross libgcc's atomics ask glibc for
            # the CPU's features.
            printf '#!/bin/sh\nexec %s "$@" -specs /usr/lib/%s-linux-musl/musl-gcc.specs %s\n' "$gcc" "$arch" \
                "$([[ $arch == aarch64 ]] && echo -mno-outline-atomics)" >"$work/musl-gcc-$arch"
            printf '#!/bin/sh\nexec "%s" -m ziglang cc -target %s-linux-musl "$@"\n' "$tools/python" "$arch" \
                >"$work/zig-cc-$arch"
            chmod +x "$work/musl-gcc-$arch" "$work/zig-cc-$arch"
            settings+=(CC="$work/musl-gcc-$arch" KMQ_STATIC_CC="$work/zig-cc-$arch" KMQ_STATIC_LIBS="-lunwind"
                KMQ_NO_CXX="Debian has no C++ library for musl (the header compiles as C++ on glibc)")
            [[ $arch == aarch64 ]] && settings+=(KMQ_TEST_RUNNER=qemu-aarch64-static)
            ;;
        *) echo "cross.sh: no C suite for $name" >&2; exit 2 ;;
    esac
    echo "== $name: the C suite ($plat_target)"
    out="$work/$name.out"
    env "${settings[@]}" bash "$repo/tests/c/run.sh" "$@" | tee "$out" || true
    counts=$(tail -n 1 "$out")
    if [[ ! $counts =~ ^([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped$ ]]; then
        echo "FAIL $name: the C suite ended without its counts"
        total_failed=$((total_failed + 1))
        continue
    fi
    total_passed=$((total_passed + BASH_REMATCH[1]))
    total_failed=$((total_failed + BASH_REMATCH[2]))
    total_skipped=$((total_skipped + BASH_REMATCH[3]))
done
echo "$total_passed passed, $total_failed failed, $total_skipped skipped"
[[ $total_failed -eq 0 ]]
