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
            # zig's compilers target musl; its libunwind takes the place of
            # libgcc_s in a static link.
            arch=${name#linux-}
            arch=${arch%-musl}
            printf '#!/bin/sh\nexec "%s" -m ziglang "$@"\n' "$tools/python" >"$work/zig"
            chmod +x "$work/zig"
            settings+=(CC="$work/zig-cc-$arch" CXX="$work/zig-c++-$arch" KMQ_STATIC_LIBS="-lunwind")
            printf '#!/bin/sh\nexec "%s" cc -target %s-linux-musl "$@"\n' "$work/zig" "$arch" >"$work/zig-cc-$arch"
            printf '#!/bin/sh\nexec "%s" c++ -target %s-linux-musl "$@"\n' "$work/zig" "$arch" >"$work/zig-c++-$arch"
            chmod +x "$work/zig-cc-$arch" "$work/zig-c++-$arch"
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
