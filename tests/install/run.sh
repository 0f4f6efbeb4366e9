#!/usr/bin/env bash
# Tests the install of kapokmq for C and C++ programs (mk/install.mk):
# `make install` into a temporary prefix, then programs built from the
# installed tree alone -- C with pkg-config (shared and static), C++ with
# CMake's find_package (shared and static targets, and the tests of the
# kapokmq.hpp wrapper, under valgrind when it is there) -- each run against
# a kmq-broker. Also checks the soname, staged installs, the version rules
# of the CMake package, uninstall, and that the static link line in the
# README and bindings/c/native-static-libs.txt are what rustc reports.
#
# Needs: the release build (tests/artifacts.sh runs it when stale), patchelf, cc,
#        c++, cmake, pkg-config, readelf.
# Env: KAPOKMQ_LIB (the .so; the .a and .rlib are looked for next to it),
#      KMQ_BROKER, CC, CXX, KEEP_BUILD=1 (keep the work directory),
#      NO_VALGRIND=1.
# Prints one line per check and, last, "N passed, M failed".
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$repo/tests/install"
artifacts=$(bash "$repo/tests/artifacts.sh" --build broker lib) || exit 2
broker_bin=$(sed -n 's/^KMQ_BROKER=//p' <<<"$artifacts")
lib_so=$(sed -n 's/^KAPOKMQ_LIB=//p' <<<"$artifacts")
release_dir=$(cd "$(dirname "$lib_so")" && pwd)
cc=${CC:-cc}

for f in "$release_dir/libkapokmq.so" "$release_dir/libkapokmq.a" "$broker_bin"; do
    if [[ ! -f $f ]]; then
        echo "missing $f: run cargo build --release -p kapokmq -p kmq-broker" >&2
        exit 2
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/kapokmq-install.XXXXXX")
broker_pid=
cleanup() {
    if [[ -n $broker_pid ]]; then
        kill -KILL "$broker_pid" 2>/dev/null || true
        wait "$broker_pid" 2>/dev/null || true
    fi
    if [[ ${KEEP_BUILD:-} == 1 ]]; then
        echo "work directory: $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT

passed=0
failed=0
skipped=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }
skip() { skipped=$((skipped + 1)); echo "SKIP $*"; }
indent() { sed 's/^/    /' "$@"; }
summary() {
    if [[ $skipped -gt 0 ]]; then
        echo "$passed passed, $failed failed, $skipped skipped"
    else
        echo "$passed passed, $failed failed"
    fi
}

# What the install is expected to be called: the crate's version.
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)
major=${version%%.*}
minor=${version#*.}
minor=${minor%%.*}
native_libs=$(grep -e '^-' "$repo/bindings/c/native-static-libs.txt")

# mk/install.mk with the library this run tests and the default layout,
# whatever the environment or a calling make says; later arguments win.
install_into() {
    make -s --no-print-directory -C "$repo" -f mk/install.mk KMQ_RELEASE_DIR="$release_dir" DESTDIR= \
        'LIBDIR=$(PREFIX)/lib' 'INCLUDEDIR=$(PREFIX)/include' "$@"
}

# ---------------------------------------------------------------------------
# The install itself

prefix="$work/prefix"
built_sum=$(sha256sum "$release_dir/libkapokmq.so" "$release_dir/libkapokmq.a")
if install_into install PREFIX="$prefix" >"$work/install.log" 2>&1; then
    pass "install: make install PREFIX=<tmp>"
else
    indent "$work/install.log"
    fail "install: make install PREFIX=<tmp>"
    summary
    exit 1
fi

missing=()
for f in include/kapokmq.h include/kapokmq.hpp "lib/libkapokmq.so.$version" lib/libkapokmq.a \
    lib/pkgconfig/kapokmq.pc lib/pkgconfig/kapokmq-static.pc \
    lib/cmake/kapokmq/kapokmqConfig.cmake lib/cmake/kapokmq/kapokmqConfigVersion.cmake; do
    [[ -f $prefix/$f ]] || missing+=("$f")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    pass "install: headers, libraries, pkg-config and CMake files are there"
else
    fail "install: missing ${missing[*]}"
fi

if [[ $(readlink "$prefix/lib/libkapokmq.so.$major") == "libkapokmq.so.$version" &&
    $(readlink -f "$prefix/lib/libkapokmq.so") == "$(readlink -f "$prefix/lib/libkapokmq.so.$version")" ]]; then
    pass "install: libkapokmq.so -> libkapokmq.so.$major -> libkapokmq.so.$version"
else
    ls -l "$prefix/lib" | indent
    fail "install: the shared library's symlinks"
fi

if cmp -s "$repo/include/kapokmq.h" "$prefix/include/kapokmq.h" &&
    cmp -s "$repo/bindings/c/kapokmq.hpp" "$prefix/include/kapokmq.hpp" &&
    cmp -s "$release_dir/libkapokmq.a" "$prefix/lib/libkapokmq.a"; then
    pass "install: headers and static library are the built ones"
else
    fail "install: installed headers or static library differ from the built ones"
fi

soname=$(readelf -d "$prefix/lib/libkapokmq.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [[ $soname == "libkapokmq.so.$major" ]]; then
    pass "install: readelf -d shows soname $soname"
else
    fail "install: soname is '$soname', expected libkapokmq.so.$major"
fi

if [[ $(sha256sum "$release_dir/libkapokmq.so" "$release_dir/libkapokmq.a") == "$built_sum" ]]; then
    pass "install: the built libraries are left as they were"
else
    fail "install: make install changed the built libraries"
fi

# Without a build, install stops before it creates anything.
mkdir "$work/no-build"
if install_into install PREFIX="$work/nowhere" KMQ_RELEASE_DIR="$work/no-build" >"$work/no-build.log" 2>&1; then
    fail "install: succeeded with no built library"
elif grep -q 'missing: build first' "$work/no-build.log" && [[ ! -e $work/nowhere ]]; then
    pass "install: with no build it stops, says so, and creates nothing"
else
    indent "$work/no-build.log"
    fail "install: with no build, unclear failure or a partial install"
fi

# A staged install: files under DESTDIR, every path inside them says PREFIX.
if install_into install DESTDIR="$work/stage" PREFIX=/opt/kapokmq >"$work/stage.log" 2>&1 &&
    [[ -f $work/stage/opt/kapokmq/lib/libkapokmq.so.$version ]] &&
    grep -qx 'prefix=/opt/kapokmq' "$work/stage/opt/kapokmq/lib/pkgconfig/kapokmq.pc" &&
    grep -q '"/opt/kapokmq/lib"' "$work/stage/opt/kapokmq/lib/cmake/kapokmq/kapokmqConfig.cmake" &&
    ! grep -rqF "$work/stage" "$work/stage/opt/kapokmq/lib/pkgconfig" "$work/stage/opt/kapokmq/lib/cmake"; then
    pass "install: DESTDIR stages the files, the paths inside name PREFIX"
else
    indent "$work/stage.log"
    fail "install: DESTDIR staging"
fi
rm -rf "$work/stage"

# ---------------------------------------------------------------------------
# pkg-config

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
if [[ $(pkg-config --modversion kapokmq) == "$version" && $(pkg-config --modversion kapokmq-static) == "$version" ]]; then
    pass "pkg-config: kapokmq and kapokmq-static are version $version"
else
    fail "pkg-config: modversion is not $version"
fi

shared_libs=$(pkg-config --libs kapokmq | xargs)
private_libs=$(pkg-config --static --libs kapokmq | xargs)
if [[ $shared_libs == "-L$prefix/lib -lkapokmq" && $private_libs == "-L$prefix/lib -lkapokmq $native_libs" ]]; then
    pass "pkg-config: Libs is -lkapokmq, --static adds $native_libs"
else
    echo "    --libs: $shared_libs"
    echo "    --static --libs: $private_libs"
    fail "pkg-config: kapokmq's Libs and Libs.private"
fi

# The dynamic entries an executable needs, one per line.
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }

# Runs a smoke program (PORT TOPIC) with the environment that precedes it:
# it must exit 0 and report the installed version.
run_smoke() {
    local label=$1 topic=$2 out status=0
    shift 2
    out=$(timeout -s KILL 60 env "$@" "$broker_port" "$topic" 2>&1) || status=$?
    if [[ $status -eq 0 && $out == *"version $version"* && $out == *"received: "* ]]; then
        pass "$label: confirmed send and receive through the broker"
    else
        indent <<<"$out"
        fail "$label: exit $status"
    fi
}

# Compiles with the flags that follow; on failure shows the compiler's words.
compile_c() {
    local label=$1 exe=$2
    shift 2
    if "$cc" -std=c11 -Wall -Wextra -Werror "$here/smoke.c" -o "$exe" "$@" >"$exe.log" 2>&1; then
        pass "$label: builds from the installed tree"
        return 0
    fi
    indent "$exe.log"
    fail "$label: does not build"
    return 1
}

# ---------------------------------------------------------------------------
# One broker for every program; each uses its own topic.

# The file exists before the broker starts, so reading it cannot race the
# redirection.
: >"$work/broker.out"
"$broker_bin" --port 0 --push-speed-ms 0 >"$work/broker.out" 2>"$work/broker.err" &
broker_pid=$!
broker_port=
for ((i = 0; i < 100; i++)); do
    line=$(head -n 1 "$work/broker.out")
    if [[ $line == "kmq-broker listening on "* ]]; then
        broker_port=${line##*:}
        break
    fi
    sleep 0.1
done
if [[ -z $broker_port ]]; then
    indent "$work/broker.err"
    fail "broker: did not print its ready line"
    summary
    exit 1
fi

# C, shared, located at run time by the soname through LD_LIBRARY_PATH, as
# in a system directory after ldconfig.
exe="$work/smoke_c_shared"
# shellcheck disable=SC2046  # pkg-config prints words to split
if compile_c "C shared (pkg-config kapokmq)" "$exe" $(pkg-config --cflags --libs kapokmq); then
    if needed "$exe" | grep -qx "libkapokmq.so.$major"; then
        pass "C shared: the executable needs libkapokmq.so.$major"
    else
        needed "$exe" | indent
        fail "C shared: the executable does not name the soname"
    fi
    run_smoke "C shared" c-shared LD_LIBRARY_PATH="$prefix/lib" "$exe"
fi

exe="$work/smoke_c_static"
# shellcheck disable=SC2046
if compile_c "C static (pkg-config --static kapokmq-static)" "$exe" $(pkg-config --static --cflags --libs kapokmq-static); then
    if needed "$exe" | grep -q kapokmq; then
        fail "C static: the executable still needs a shared kapokmq"
    else
        pass "C static: the executable needs no shared kapokmq"
    fi
    run_smoke "C static" c-static "$exe"
fi

# ---------------------------------------------------------------------------
# C++ with CMake

cm_build="$work/cmake"
if cmake -S "$here" -B "$cm_build" -DCMAKE_PREFIX_PATH="$prefix" -DKAPOKMQ_WANT="$major.$minor" \
    -DCMAKE_BUILD_TYPE=Debug >"$work/cmake.log" 2>&1 &&
    cmake --build "$cm_build" -j 2 >>"$work/cmake.log" 2>&1; then
    pass "C++ CMake: find_package(kapokmq $major.$minor) and both targets build"
    if needed "$cm_build/smoke_cpp_shared" | grep -qx "libkapokmq.so.$major"; then
        pass "C++ shared: kapokmq::kapokmq links libkapokmq.so.$major"
    else
        fail "C++ shared: kapokmq::kapokmq does not link by soname"
    fi
    run_smoke "C++ shared (kapokmq::kapokmq)" cpp-shared "$cm_build/smoke_cpp_shared"
    if needed "$cm_build/smoke_cpp_static" | grep -q kapokmq; then
        fail "C++ static: kapokmq::kapokmq_static links a shared kapokmq"
    else
        pass "C++ static: kapokmq::kapokmq_static needs no shared kapokmq"
    fi
    run_smoke "C++ static (kapokmq::kapokmq_static)" cpp-static "$cm_build/smoke_cpp_static"

    # The wrapper's own cases, under valgrind when it is there: an invalid or
    # double free or a leaked handle is an error. Only definite leaks count:
    # the library's runtime lives as long as the process. Definedness
    # checks are off: optimised Rust dependencies trip them (a conditional
    # jump inside the http crate's header lookup), and they are not what
    # this test is about.
    wrapper=("$cm_build/wrapper_test")
    variant="kapokmq.hpp"
    if [[ ${NO_VALGRIND:-} != 1 ]] && command -v valgrind >/dev/null; then
        wrapper=(valgrind --quiet --error-exitcode=99 --undef-value-errors=no --leak-check=full
            --errors-for-leak-kinds=definite --show-leak-kinds=definite "${wrapper[@]}")
        variant="kapokmq.hpp under valgrind"
    fi
    status=0
    out=$(timeout -s KILL 300 "${wrapper[@]}" "$broker_port" 2>&1) || status=$?
    cases=0
    bad=0
    while IFS= read -r line; do
        case $line in
            "ok - "*) cases=$((cases + 1)); pass "[$variant] ${line#ok - }" ;;
            "not ok - "*) cases=$((cases + 1)); bad=$((bad + 1)); fail "[$variant] ${line#not ok - }" ;;
            *) echo "    $line" ;;
        esac
    done <<<"$out"
    if [[ $status -eq 99 ]]; then
        fail "[$variant] valgrind found memory errors"
    elif [[ $status -ne 0 && $bad -eq 0 ]] || [[ $cases -eq 0 ]]; then
        fail "[$variant] exited with status $status after $cases case(s)"
    fi
else
    indent "$work/cmake.log"
    fail "C++ CMake: configure or build failed"
fi

# Which versions find_package accepts: the installed one; not a later minor
# (below 1.0 a minor release may break the API, above it it adds to it)
# nor another major.
find_with() {
    local want=$1 dir="$work/probe-$1"
    mkdir -p "$dir"
    printf 'cmake_minimum_required(VERSION 3.16)\nproject(probe NONE)\nfind_package(kapokmq %s QUIET)\nif(NOT kapokmq_FOUND OR NOT TARGET kapokmq::kapokmq OR NOT TARGET kapokmq::kapokmq_static)\n  message(FATAL_ERROR "not found")\nendif()\n' \
        "$want" >"$dir/CMakeLists.txt"
    cmake -S "$dir" -B "$dir/build" -DCMAKE_PREFIX_PATH="$prefix" >"$dir/log" 2>&1
}
verdicts=()
expect_find() {
    local got=refused
    find_with "$1" && got=accepted
    [[ $got == "$2" ]] || verdicts+=("$1 $got")
}
expect_find "$version" accepted
expect_find "$major.$((minor + 1))" refused
expect_find "$((major + 1)).0" refused
if ((major == 0 && minor > 0)); then expect_find "0.$((minor - 1))" refused; fi
if ((major > 0 && minor > 0)); then expect_find "$major.0" accepted; fi
if [[ ${#verdicts[@]} -eq 0 ]]; then
    pass "C++ CMake: find_package takes $version, refuses a later minor and another major"
else
    fail "C++ CMake: find_package version rules: ${verdicts[*]}"
fi

# ---------------------------------------------------------------------------
# The list of system libraries for static links

# Every "libkapokmq.a -l..." in the README must name the listed libraries.
readme_lines=$(grep -o 'libkapokmq\.a\( -l[A-Za-z0-9_]*\)\+' "$repo/README.md" || true)
if [[ -z $readme_lines ]]; then
    fail "static libs: README.md has no 'libkapokmq.a -l...' link line"
elif [[ $(sort -u <<<"$readme_lines") == "libkapokmq.a $native_libs" ]]; then
    pass "static libs: README.md links libkapokmq.a with $native_libs"
else
    indent <<<"$readme_lines"
    fail "static libs: README.md's static link line differs from bindings/c/native-static-libs.txt: $native_libs"
fi

# What rustc says today, from a tiny staticlib over the built rlib: this
# reads the built dependencies and compiles nothing of the library again.
rlib="$release_dir/libkapokmq.rlib"
if command -v rustc >/dev/null && [[ -f $rlib ]]; then
    echo 'extern crate kapokmq;' >"$work/probe.rs"
    if rustc --edition 2021 --crate-type staticlib --crate-name kmq_probe -L "dependency=$release_dir/deps" \
        --extern "kapokmq=$rlib" --print native-static-libs -o "$work/libkmq_probe.a" "$work/probe.rs" \
        >"$work/rustc.log" 2>&1; then
        reported=$(sed -n 's/.*native-static-libs: //p' "$work/rustc.log")
        if [[ $reported == "$native_libs" ]]; then
            pass "static libs: rustc --print native-static-libs agrees: $reported"
        else
            fail "static libs: rustc now reports '$reported'; update bindings/c/native-static-libs.txt and README.md"
        fi
    else
        indent "$work/rustc.log"
        fail "static libs: rustc could not link a staticlib over $rlib"
    fi
    rm -f "$work/libkmq_probe.a"
else
    skip "static libs: no rustc or no $rlib to ask"
fi

# ---------------------------------------------------------------------------
# Uninstall takes back every file.

if install_into uninstall PREFIX="$prefix" >"$work/uninstall.log" 2>&1 &&
    [[ -z $(find "$prefix" \( -type f -o -type l \)) ]]; then
    pass "uninstall: no file of kapokmq is left"
else
    indent "$work/uninstall.log"
    find "$prefix" \( -type f -o -type l \) | indent
    fail "uninstall: files left behind"
fi

summary
[[ $failed -eq 0 ]]
