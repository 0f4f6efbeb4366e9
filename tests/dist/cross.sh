#!/usr/bin/env bash
# Tests what `make dist` built for the platforms other than this machine's
# (scripts/platforms.sh), each run under emulation against a kmq-broker on
# this machine's loopback:
#   - every platform: its wheel, npm prebuild and C SDK carry one library,
#     built for the platform (architecture; glibc 2.17 at most, or musl's
#     libc.so alone, or system DLLs alone on Windows, exporting every
#     function of kapokmq.h); auditwheel agrees with each Linux wheel's tag;
#   - every platform: a C round trip (tests/install/smoke.c) linked against
#     the SDK's shared and static libraries, and the C examples (the
#     consumer prints what the producer sent), compiled with the platform's
#     C compiler and run with qemu-aarch64 (aarch64), directly (x86_64
#     musl, through musl's loader) or with Wine (Windows; MSVC's import
#     library, MinGW's, and the static library), and on Windows the
#     readiness descriptors with select();
#   - linux-aarch64: the wheel's round trip with Debian's arm64 Python and
#     the npm tarball's (require and import) with arm64 Node, under qemu.
#
# Env: KMQ_DIST_DIR (default dist), KMQ_BROKER, KMQ_PLATFORMS (default
#      every platform but linux-x86_64, which tests/dist/run.sh tests),
#      KEEP_BUILD=1 (keep the work directory).
# Prints one line per check and, last, "N passed, M failed".
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$repo/tests/dist"
source "$repo/scripts/platforms.sh"
dist=$(cd "$repo" && cd "${KMQ_DIST_DIR:-dist}" 2>/dev/null && pwd) || dist="$repo/${KMQ_DIST_DIR:-dist}"
broker_bin=${KMQ_BROKER:-$repo/target/release/kmq-broker}
tools=$(bash "$repo/scripts/dist-tools.sh")
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)
read -ra platforms <<<"${KMQ_PLATFORMS:-$(kmq_platforms | grep -vx linux-x86_64 | tr '\n' ' ')}"
bash "$repo/scripts/cross-tools.sh"

source "$here/common.sh"
start_broker
zig=("$tools/python" -m ziglang)

# Every function the header declares, which every library must export.
header_functions=$(sed -n 's/^[a-z].*[ *]\(kmq_[a-z0-9_]*\)(.*/\1/p' "$repo/include/kapokmq.h" | sort -u)

# ---------------------------------------------------------------------------
# How each platform's programs are built and run

# Sets cc (the C compiler, an array), run (the emulator, an array),
# static_libs (what a static link adds) and exe (a program's suffix).
toolchain() {
    exe=
    run=()
    case $1 in
        linux-aarch64)
            cc=(aarch64-linux-gnu-gcc)
            run=(qemu-aarch64-static)
            static_libs=$(grep -e '^-' "$repo/bindings/c/native-static-libs.txt")
            ;;
        linux-*-musl)
            # zig's C compiler targets musl on both architectures, and links
            # its own libunwind where the SDK's static line says -lgcc_s (on
            # Alpine, gcc's libgcc_s serves).
            local arch=${1#linux-}
            cc=("${zig[@]}" cc -target "${arch%-musl}-linux-musl")
            [[ $arch == aarch64-* ]] && run=(qemu-aarch64-static)
            static_libs="-lunwind"
            ;;
        windows-x86_64)
            cc=(x86_64-w64-mingw32-gcc)
            # Debian's wine64 loader itself: the `wine` script asks for a 32-bit Wine too.
            run=(env WINEPREFIX="$wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml=" /usr/lib/wine/wine64)
            static_libs=$KMQ_WINDOWS_STATIC_LIBS
            exe=.exe
            ;;
    esac
}

# Wine keeps its prefix (a fake C: drive) between runs: making one takes
# seconds. Wine 8 lacks bcryptprimitives.dll, which Rust's std on Windows
# needs: a stand-in (tests/dist/wine/) goes next to each program.
wineprefix=${KMQ_CROSS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/kapokmq-cross}/wineprefix
windows_shim() {
    local dir=$1
    x86_64-w64-mingw32-gcc -O2 -shared -o "$dir/bcryptprimitives.dll" "$here/wine/bcryptprimitives.c" \
        "$here/wine/bcryptprimitives.def" -ladvapi32
}

# ---------------------------------------------------------------------------
# The library each artifact carries

# Checks platform $name's library $1 (from the SDK) and sets lib_ok.
check_library() {
    local lib=$1 newest machine imports missing
    case $plat_os in
        linux)
            machine=$(readelf -h "$lib" | sed -n 's/^ *Machine: *//p')
            case ${plat_triple%%-*} in
                aarch64) [[ $machine == AArch64 ]] ;;
                x86_64) [[ $machine == *X86-64* ]] ;;
            esac && pass "$name: the library is built for $machine" || fail "$name: the library is built for $machine"
            local old_enough=yes
            newest=$(bash "$repo/scripts/glibc-needed.sh" --at-most 2.17 "$lib") || old_enough=no
            if [[ $plat_triple == *-musl ]]; then
                imports=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
                if [[ $newest == 0 && $imports == "libc.musl-${plat_triple%%-*}.so.1 " ]]; then
                    pass "$name: the library needs musl's libc (${imports% }) alone"
                else
                    fail "$name: the library needs ${imports}(glibc $newest)"
                fi
            elif [[ $old_enough == yes ]]; then
                pass "$name: the library needs GLIBC_$newest at most (<= 2.17)"
            else
                fail "$name: the library needs GLIBC_$newest, newer than 2.17"
            fi
            missing=$(comm -23 <(echo "$header_functions") \
                <(readelf -W --dyn-syms "$lib" | awk '$7 != "UND" { print $8 }' | sort -u))
            ;;
        windows)
            imports=$(x86_64-w64-mingw32-objdump -p "$lib" | sed -n 's/^\s*DLL Name: //p' | sort -fu | tr '\n' ' ')
            if grep -Eqiv '^(kernel32|ntdll|msvcrt|advapi32|userenv|ws2_32|bcrypt|bcryptprimitives|crypt32|api-ms-win-[a-z0-9-]+)\.dll$' \
                <<<"$(tr ' ' '\n' <<<"$imports" | sed '/^$/d')"; then
                fail "$name: the DLL imports DLLs that are not Windows' own: $imports"
            else
                pass "$name: the DLL imports Windows' own DLLs only ($imports)"
            fi
            missing=$(comm -23 <(echo "$header_functions") <(bash "$repo/scripts/def-file.sh" "$lib" | sed -n 's/^    //p' | sort -u))
            ;;
    esac
    if [[ -z $missing ]]; then
        pass "$name: the library exports all $(wc -l <<<"$header_functions") functions of kapokmq.h"
    else
        fail "$name: the library does not export $(tr '\n' ' ' <<<"$missing")"
    fi
}

# ---------------------------------------------------------------------------
# C: the SDK

# Builds $1 (a C file) into $2 with the flags that follow; fails the check
# named $3 on an error.
build_c() {
    local src=$1 out=$2 what=$3
    shift 3
    if ! "${cc[@]}" -std=c11 -O1 "$src" -o "$out" "$@" >"$work/out" 2>&1; then
        fail "$what: does not build"
        indent "$work/out"
        return 1
    fi
}

# Unpacks platform $name's SDK; sets prefix, inc_flags, shared_flags and
# static_flags.
unpack_sdk() {
    local dir="$work/$name/sdk"
    mkdir -p "$dir"
    if [[ $plat_os == windows ]]; then
        (cd "$dir" && python3 -m zipfile -e "$dist/kapokmq-$version-$name.zip" .)
        prefix="$dir/kapokmq-$version-$name"
        inc_flags=(-I"$prefix/include")
        shared_flags=("$prefix/lib/kapokmq.lib")
        static_flags=("$prefix/lib/libkapokmq.a" $static_libs)
    else
        tar -xzf "$dist/kapokmq-$version-$name.tar.gz" -C "$dir"
        prefix="$dir/kapokmq-$version-$name"
        local pc=(env PKG_CONFIG_PATH="$prefix/lib/pkgconfig" pkg-config --define-prefix)
        read -ra inc_flags <<<"$("${pc[@]}" --cflags kapokmq)"
        read -ra shared_flags <<<"$("${pc[@]}" --libs kapokmq) -Wl,-rpath,$prefix/lib"
        static_flags=("$prefix/lib/libkapokmq.a" $static_libs)
    fi
}

# A program of the SDK's, run as its platform runs it: $1 the check's name,
# $2 the pattern its output must match, then the program and arguments.
run_c() {
    local what=$1 expect=$2
    shift 2
    check "$what" "$expect" as_user timeout -s KILL 120 "${run[@]}" "$@"
}

c_round_trips() {
    local dir="$work/$name" variant flags
    for variant in shared static; do
        if [[ $variant == shared ]]; then flags=("${shared_flags[@]}"); else flags=("${static_flags[@]}"); fi
        build_c "$repo/tests/install/smoke.c" "$dir/smoke_$variant$exe" "$name: C round trip ($variant)" \
            "${inc_flags[@]}" "${flags[@]}" -pthread || continue
        run_c "$name: C round trip ($variant)" "^received: " "$dir/smoke_$variant$exe" "$port" "$(topic "$name-$variant")"
    done
    if [[ $plat_os == windows ]]; then
        # MinGW's own import library as well as MSVC's.
        build_c "$repo/tests/install/smoke.c" "$dir/smoke_mingw.exe" "$name: C round trip (libkapokmq.dll.a)" \
            "${inc_flags[@]}" -L"$prefix/lib" -lkapokmq &&
            run_c "$name: C round trip (shared, libkapokmq.dll.a)" "^received: " "$dir/smoke_mingw.exe" "$port" \
                "$(topic "$name-mingw")"
        # The readiness descriptors are sockets there: select() waits on them.
        build_c "$here/wine/readiness.c" "$dir/readiness.exe" "$name: readiness descriptors" \
            "${inc_flags[@]}" "${shared_flags[@]}" -lws2_32 &&
            run_c "$name: readiness descriptors with select()" "^readiness: ok" "$dir/readiness.exe" "$port" \
                "$(topic "$name-readiness")"
    fi
}

# The examples: the consumer, started first, prints what the producer sends.
c_examples() {
    local dir="$work/$name" prog status=0
    for prog in producer consumer; do
        build_c "$repo/examples/$prog.c" "$dir/$prog$exe" "$name: examples/$prog.c" \
            "${inc_flags[@]}" "${shared_flags[@]}" || return 0
    done
    export KAPOKMQ_PORT=$port KAPOKMQ_TOPIC
    KAPOKMQ_TOPIC=$(topic "$name-examples")
    as_user timeout -s KILL 120 "${run[@]}" "$dir/consumer$exe" 3 60 >"$dir/consumer.out" 2>&1 &
    local consumer_pid=$!
    # The consumer must be connected before the producer sends (the node
    # pushes only to consumers connected then); emulation starts slowly.
    wait_for_consumer "$KAPOKMQ_TOPIC" || echo "    the broker lists no consumer of $KAPOKMQ_TOPIC"
    # A Windows program gets its arguments in the ANSI code page, not UTF-8.
    local last='ünïcode'
    [[ $plat_os != windows ]] || last='on windows'
    as_user timeout -s KILL 120 "${run[@]}" "$dir/producer$exe" hello "kapok mq" "$last" >"$dir/producer.out" 2>&1 || status=$?
    wait "$consumer_pid" || status=$?
    unset KAPOKMQ_PORT KAPOKMQ_TOPIC
    if [[ $status -eq 0 ]] && grep -q ' kapok mq' "$dir/consumer.out" && grep -q " $last" "$dir/consumer.out" &&
        grep -q '^3 messages received' "$dir/consumer.out"; then
        pass "$name: examples: the consumer printed the producer's 3 messages"
    else
        fail "$name: examples (exit $status)"
        indent "$dir/producer.out" "$dir/consumer.out"
    fi
}

# ---------------------------------------------------------------------------
# Python and Node on aarch64, under qemu

python_and_node_arm64() {
    local runtimes python node dir="$work/$name"
    runtimes=$(bash "$here/emulated-runtimes.sh")
    python=$(sed -n 's/^PYTHON_ARM64=//p' <<<"$runtimes")
    node=$(sed -n 's/^NODE_ARM64=//p' <<<"$runtimes")

    # pip takes the wheel only for the platform it names; the arm64 Python
    # then imports the package from where pip put it.
    mkdir -p "$dir/python"
    cp "$here/roundtrip.py" "$dir/python/"
    if pip_out=$(python3 -m pip install --quiet --disable-pip-version-check --no-index --no-deps \
        --target "$dir/python/site" --platform manylinux2014_aarch64 --only-binary=:all: "$wheel" 2>&1); then
        pass "$name: pip installs $(basename "$wheel") for manylinux2014_aarch64"
        check "$name: wheel round trip (arm64 Python under qemu)" \
            "round-tripped, library $dir/python/site/kapokmq/libkapokmq.so" \
            as_user env PYTHONPATH="$dir/python/site" qemu-aarch64-static "$python" "$dir/python/roundtrip.py" \
            "$port" "$(topic "$name-python")"
    else
        fail "$name: pip install --platform manylinux2014_aarch64"
        echo "$pip_out" | indent
    fi

    # npm installs koffi's arm64 build when told the CPU.
    mkdir -p "$dir/npm"
    cp "$here"/roundtrip.js "$here"/roundtrip.mjs "$here"/roundtrip-common.js "$dir/npm/"
    if (cd "$dir/npm" && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error \
        --cpu=arm64 --os=linux "$npm_tgz") >"$work/out" 2>&1; then
        pass "$name: npm installs $(basename "$npm_tgz") for arm64"
        for f in roundtrip.js roundtrip.mjs; do
            check "$name: npm round trip ($f, arm64 Node under qemu)" \
                "round-tripped .*, library $dir/npm/node_modules/kapokmq/prebuilds/$plat_node/libkapokmq.so" \
                as_user qemu-aarch64-static "$node" "$dir/npm/$f" "$port" "$(topic "$name-$f")"
        done
    else
        fail "$name: npm install --cpu=arm64"
        indent "$work/out"
    fi
}

# ---------------------------------------------------------------------------

npm_tgz="$dist/kapokmq-$version.tgz"
mkdir -p "$work/npm-package"
tar -xzf "$npm_tgz" -C "$work/npm-package"
for name in "${platforms[@]}"; do
    kmq_platform "$name"
    toolchain "$name"
    mkdir -p "$work/$name"
    echo "== $name ($plat_target)"
    wheel="$dist/kapokmq-$version-py3-none-$plat_wheel.whl"
    for f in "$wheel" "$dist/kapokmq-$version-$name".*; do
        [[ -f $f ]] || { fail "$name: missing $(basename "$f"): run make dist"; continue 2; }
    done
    unpack_sdk
    if [[ $plat_os == windows ]]; then
        sdk_lib="$prefix/bin/$plat_lib"
        windows_shim "$work/$name"
        # Programs find kapokmq.dll next to them, as Windows programs do.
        cp "$sdk_lib" "$work/$name/"
    else
        sdk_lib="$prefix/lib/libkapokmq.so.$version"
    fi
    check_library "$sdk_lib"

    # The wheel and the npm package carry the SDK's build (the SDK's copy
    # differs only by its soname on Linux).
    python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("kapokmq/" + sys.argv[2]))' \
        "$wheel" "$plat_lib" >"$work/$name/wheel-lib"
    if cmp -s "$work/$name/wheel-lib" "$work/npm-package/package/prebuilds/$plat_node/$plat_lib"; then
        pass "$name: the wheel and the npm package (prebuilds/$plat_node) carry the same build"
    else
        fail "$name: the wheel and the npm package's prebuilds/$plat_node differ (or one is missing)"
    fi
    if [[ $plat_os == linux ]]; then
        tag=${plat_wheel%%.*}
        ldpaths=()
        if [[ $plat_triple == *-musl ]]; then
            # auditwheel looks for musl's libc by its soname where a musl
            # system keeps it; here it is Debian's musl package's.
            mkdir -p "$work/$name/ld"
            ln -sf "/usr/lib/${plat_triple%%-*}-linux-musl/libc.so" "$work/$name/ld/libc.musl-${plat_triple%%-*}.so.1"
            ldpaths=(--ldpaths "$work/$name/ld")
        fi
        if "$tools/auditwheel" show "${ldpaths[@]}" "$wheel" >"$work/out" 2>&1 &&
            tr -s '\n ' '  ' <"$work/out" | grep -q "consistent with the following platform tag: \"$tag\""; then
            pass "$name: auditwheel: the wheel is consistent with $tag"
        else
            fail "$name: auditwheel: the wheel is not $tag"
            indent "$work/out"
        fi
    fi

    c_round_trips
    c_examples
    [[ $name != linux-aarch64 ]] || python_and_node_arm64
done

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
