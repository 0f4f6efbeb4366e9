#!/usr/bin/env bash
# Builds what kapokmq ships into dist/:
#   kapokmq-VERSION-py3-none-manylinux_2_17_ARCH.manylinux2014_ARCH.whl  the Python wheel
#   kapokmq-VERSION.tar.gz                                               the Python sdist (builds with cargo)
#   kapokmq-VERSION.tgz                                                  the npm package
#   kapokmq-VERSION-linux-ARCH.tar.gz                                    the C/C++ SDK
# The wheel, the npm package and the SDK carry one library, compiled once
# against glibc 2.17 (cargo-zigbuild; the `dist` profile: no debug info)
# and stripped, so they load on any Linux with glibc 2.17 or newer.
#
# Env: KMQ_DIST_DIR (default dist), KMQ_DIST_TOOLS (see dist-tools.sh),
#      CARGO, NPM.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
out=$(mkdir -p "${KMQ_DIST_DIR:-dist}" && cd "${KMQ_DIST_DIR:-dist}" && pwd)
tools=$(bash scripts/dist-tools.sh)
export PATH="$tools:$PATH" # cargo-zigbuild finds zig through `python3 -m ziglang`

[[ $(uname -s) == Linux ]] || { echo "dist: builds Linux artifacts only" >&2; exit 1; }
arch=$(uname -m)
glibc=2.17
target="$arch-unknown-linux-gnu"
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
wheel_plat="manylinux_2_17_$arch.manylinux2014_$arch"
stage="$out/.stage"
rm -rf "$stage"
mkdir -p "$stage/lib"

# 1. The library, once, for glibc 2.17. The host target with a glibc
# suffix: no other Rust target needs installing.
"${CARGO:-cargo}" zigbuild --lib -p kapokmq --profile dist --target "$target.$glibc"
built="target/$target/dist"
for f in libkapokmq.so libkapokmq.a; do
    cp "$built/$f" "$stage/lib/$f"
    # The dist profile has no debug info of its own, but the standard
    # library's comes along.
    strip --strip-debug "$stage/lib/$f"
done
lib="$stage/lib/libkapokmq.so"

newest=$(bash scripts/glibc-needed.sh "$lib")
if [[ $(printf '%s\n%s\n' "$newest" "$glibc" | sort -V | tail -n 1) != "$glibc" ]]; then
    echo "dist: $lib needs GLIBC_$newest, newer than $glibc" >&2
    exit 1
fi
echo "dist: libkapokmq.so needs glibc $newest at most" >&2

# 2. The Python wheel and sdist.
rm -f "$out"/kapokmq-"$version"-*.whl "$out/kapokmq-$version.tar.gz"
KAPOKMQ_PREBUILT_LIB="$lib" KAPOKMQ_WHEEL_PLAT="$wheel_plat" \
    python3 -m build --wheel --outdir "$out" bindings/python >"$stage/wheel.log" 2>&1 \
    || { cat "$stage/wheel.log" >&2; exit 1; }
python3 -m build --sdist --outdir "$out" bindings/python >"$stage/sdist.log" 2>&1 \
    || { cat "$stage/sdist.log" >&2; exit 1; }
rm -rf bindings/python/build bindings/python/src/kapokmq.egg-info

# 3. The npm package (its prepack step copies the library in).
rm -f "$out/kapokmq-$version.tgz"
(cd bindings/node && KAPOKMQ_PREBUILT_LIB="$lib" "${NPM:-npm}" pack --silent --pack-destination "$out" >/dev/null)

# 4. The C SDK: `make install` of that library into a relocatable tree.
# Its pkg-config files say prefix=/kapokmq-...: use them with
# `pkg-config --define-prefix`; the CMake package finds itself.
sdk_name="kapokmq-$version-linux-$arch"
rm -rf "$stage/$sdk_name"
make -s --no-print-directory -f mk/install.mk install KMQ_RELEASE_DIR="$stage/lib" \
    PREFIX="/$sdk_name" 'LIBDIR=$(PREFIX)/lib' 'INCLUDEDIR=$(PREFIX)/include' RELOCATABLE=1 \
    DESTDIR="$stage" PATCHELF="$tools/patchelf" >/dev/null
cat >"$stage/$sdk_name/README" <<EOF
kapokmq $version for C and C++ on Linux $arch (glibc 2.17 or newer)

include/   kapokmq.h (the C API) and kapokmq.hpp (the C++ wrapper)
lib/       libkapokmq.so (soname libkapokmq.so.${version%%.*}), libkapokmq.a,
           pkg-config modules kapokmq and kapokmq-static, CMake package kapokmq

Unpack it anywhere, say in DIR:
  cc app.c \$(PKG_CONFIG_PATH=DIR/lib/pkgconfig pkg-config --define-prefix --cflags --libs kapokmq)
  cc app.c \$(PKG_CONFIG_PATH=DIR/lib/pkgconfig pkg-config --define-prefix --static --cflags --libs kapokmq-static)
  cmake -DCMAKE_PREFIX_PATH=DIR ...   # find_package(kapokmq): kapokmq::kapokmq, kapokmq::kapokmq_static
A program linked with the shared library finds it through LD_LIBRARY_PATH=DIR/lib or an rpath.
EOF
tar -C "$stage" --owner=0 --group=0 -czf "$out/$sdk_name.tar.gz" "$sdk_name"

rm -rf "$stage"
for f in "$out"/kapokmq-"$version"*; do
    printf '%8s  %s\n' "$(du -h "$f" | cut -f1)" "${f#"$repo"/}"
done
