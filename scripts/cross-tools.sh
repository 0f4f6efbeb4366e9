#!/usr/bin/env bash
# Installs, from Debian's packages, what building and testing kapokmq for
# the platforms other than this machine's needs (once; a later run finds
# them and installs nothing):
#   rustc-web, cargo-web            Debian's Rust (1.96): /usr/bin/cargo, /usr/bin/rustc
#   libstd-rust-web-dev:arm64       its standard library for aarch64-unknown-linux-gnu
#   rust-web-src                    its standard library's sources, to build std for
#                                   the musl and Windows targets (-Z build-std)
#   binutils-aarch64-linux-gnu,     strip for aarch64 and Windows libraries,
#   binutils-mingw-w64-x86-64       dlltool for the MSVC import library
#   gcc-aarch64-linux-gnu, musl-tools, gcc-mingw-w64-x86-64
#                                   C compilers for the test programs
#   qemu-user-static                runs aarch64 programs on x86_64
#   libc6:arm64, musl, musl:arm64,  the C libraries (and loaders) they run on,
#   musl-dev:arm64                  and arm64 musl's headers and gcc specs
#   wine                            runs Windows programs
# zig (through cargo-zigbuild) links every library: see dist-tools.sh.
#
# Needs root (apt-get); adds the arm64 architecture to dpkg. Prints nothing
# on stdout. Env: KMQ_CROSS_TOOLS_CHECK=1 only reports what is missing.
set -euo pipefail

packages=(
    rustc-web cargo-web libstd-rust-web-dev:arm64 rust-web-src
    binutils-aarch64-linux-gnu binutils-mingw-w64-x86-64
    gcc-aarch64-linux-gnu g++-aarch64-linux-gnu musl-tools gcc-mingw-w64-x86-64
    qemu-user-static libc6:arm64 musl musl:arm64 musl-dev:arm64 wine wine64
)

installed() {
    dpkg-query -W -f='${Status}\n' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

missing=()
if dpkg --print-foreign-architectures | grep -qx arm64; then
    for p in "${packages[@]}"; do
        installed "$p" || missing+=("$p")
    done
else
    missing=("${packages[@]}")
fi
[[ ${#missing[@]} -eq 0 ]] && exit 0
if [[ ${KMQ_CROSS_TOOLS_CHECK:-} == 1 ]]; then
    echo "cross-tools: missing ${missing[*]}" >&2
    exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "cross-tools: installing ${missing[*]} needs root (apt-get)" >&2
    exit 1
fi

echo "cross-tools: installing ${missing[*]}" >&2
dpkg --add-architecture arm64
apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
