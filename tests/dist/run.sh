#!/usr/bin/env bash
# Tests what `make dist` put in dist/ the way users install it: each
# artifact in a fresh directory under /tmp, outside the checkout, with no
# KAPOKMQ_LIB, PYTHONPATH or LD_LIBRARY_PATH and no Rust toolchain on the
# PATH (except to build the sdist, which compiles the library), then a
# produce/consume round trip against a kmq-broker on a free port:
#   - the library in the wheel, the npm package and the C SDK needs glibc
#     2.17 at most (readelf) and has no debug info; auditwheel agrees
#     with the wheel's manylinux2014 tag;
#   - the wheel with pip into a fresh venv;
#   - the sdist, unpacked alone, built by pip with cargo;
#   - the npm tarball with npm into an empty project, through require and
#     import;
#   - the C SDK unpacked anywhere: C with pkg-config --define-prefix (shared
#     and static), C++ with CMake's find_package (shared and static).
#
# Env: KMQ_DIST_DIR (default dist), KMQ_BROKER, KMQ_DIST_TOOLS,
#      KMQ_SDIST_TARGET_DIR (cargo's target directory for the sdist build,
#      kept between runs so that only the crate itself recompiles; default
#      target/sdist-check), KEEP_BUILD=1 (keep the work directory).
# Prints one line per check and, last, "N passed, M failed".
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$repo/tests/dist"
dist=$(cd "$repo" && cd "${KMQ_DIST_DIR:-dist}" 2>/dev/null && pwd) || dist="$repo/${KMQ_DIST_DIR:-dist}"
broker_bin=${KMQ_BROKER:-$repo/target/release/kmq-broker}
sdist_target=${KMQ_SDIST_TARGET_DIR:-$repo/target/sdist-check}
tools=$(bash "$repo/scripts/dist-tools.sh")

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n 1)
arch=$(uname -m)
node_arch=$(node -p process.arch)
wheel="$dist/kapokmq-$version-py3-none-manylinux_2_17_$arch.manylinux2014_$arch.whl"
sdist="$dist/kapokmq-$version.tar.gz"
npm_tgz="$dist/kapokmq-$version.tgz"
sdk_name="kapokmq-$version-linux-$arch"
sdk="$dist/$sdk_name.tar.gz"
for f in "$wheel" "$sdist" "$npm_tgz" "$sdk" "$broker_bin"; do
    [[ -f $f ]] || { echo "missing $f: run make dist (and make build)" >&2; exit 2; }
done

source "$here/common.sh"

# ---------------------------------------------------------------------------
# The library each artifact carries

mkdir -p "$work/libs/npm" "$work/libs/sdk"
python3 -c 'import sys, zipfile; sys.stdout.buffer.write(zipfile.ZipFile(sys.argv[1]).read("kapokmq/libkapokmq.so"))' "$wheel" >"$work/libs/wheel.so"
tar -xzf "$npm_tgz" -C "$work/libs/npm"
tar -xzf "$sdk" -C "$work/libs/sdk"
declare -A libs=(
    [wheel]="$work/libs/wheel.so"
    [npm]="$work/libs/npm/package/prebuilds/linux-$node_arch/libkapokmq.so"
    [sdk]="$work/libs/sdk/$sdk_name/lib/libkapokmq.so.$version"
)
for what in wheel npm sdk; do
    lib=${libs[$what]}
    if [[ ! -s $lib ]]; then
        fail "$what: carries no library at ${lib#"$work"/}"
        continue
    fi
    if newest=$(bash "$repo/scripts/glibc-needed.sh" --at-most 2.17 "$lib"); then
        pass "$what: the library needs GLIBC_$newest at most (<= 2.17)"
    else
        fail "$what: the library needs GLIBC_$newest, newer than 2.17"
    fi
    debug=$(readelf -S --wide "$lib" | grep -c '\.debug_' || true)
    if [[ $debug -eq 0 ]]; then
        pass "$what: the library has no debug info ($(du -h "$lib" | cut -f1))"
    else
        fail "$what: the library has $debug debug sections"
    fi
done
if cmp -s "${libs[wheel]}" "${libs[npm]}"; then
    pass "the wheel and the npm package carry the same build"
else
    fail "the wheel and the npm package carry different builds"
fi

# auditwheel wraps its lines: read them as one.
if "$tools/auditwheel" show "$wheel" >"$work/out" 2>&1 &&
    tr -s '\n ' '  ' <"$work/out" | grep -q "consistent with the following platform tag: \"manylinux_2_17_$arch\""; then
    pass "auditwheel: the wheel is consistent with manylinux_2_17_$arch (manylinux2014)"
else
    fail "auditwheel: the wheel is not manylinux2014"
    indent "$work/out"
fi

# ---------------------------------------------------------------------------
# A broker for the round trips

start_broker

# ---------------------------------------------------------------------------
# Python: the wheel, then the sdist

mkdir -p "$work/wheel"
cp "$here/roundtrip.py" "$work/"
if as_user python3 -m venv "$work/wheel/venv" >"$work/out" 2>&1 &&
    as_user "$work/wheel/venv/bin/python" -m pip install --quiet --disable-pip-version-check --no-index "$wheel" >"$work/out" 2>&1; then
    pass "wheel: pip installs $(basename "$wheel") with no Rust toolchain"
    check "wheel: round trip" "round-tripped, library $work/wheel/venv/.*/site-packages/kapokmq/libkapokmq.so" \
        as_user "$work/wheel/venv/bin/python" "$work/roundtrip.py" "$port" "$(topic wheel)"
else
    fail "wheel: pip install"
    indent "$work/out"
fi

# The sdist alone: unpacked where no checkout is around it.
mkdir -p "$work/sdist"
tar -xzf "$sdist" -C "$work/sdist"
if python3 -m venv "$work/sdist/venv" >"$work/out" 2>&1 &&
    (cd "$work" && env -u KAPOKMQ_LIB CARGO_TARGET_DIR="$sdist_target" \
        "$work/sdist/venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "$work/sdist/kapokmq-$version") >"$work/out" 2>&1; then
    pass "sdist: pip builds and installs it from $work/sdist alone"
    check "sdist: round trip" "round-tripped, library $work/sdist/venv/.*/site-packages/kapokmq/libkapokmq.so" \
        as_user "$work/sdist/venv/bin/python" "$work/roundtrip.py" "$port" "$(topic sdist)"
else
    fail "sdist: pip install"
    indent "$work/out"
fi

# ---------------------------------------------------------------------------
# Node: the tarball in an empty project

mkdir -p "$work/npm"
cp "$here"/roundtrip.js "$here"/roundtrip.mjs "$here"/roundtrip-common.js "$work/npm/"
if (cd "$work/npm" && as_user sh -c "cd '$work/npm' && npm init -y >/dev/null && npm install --no-audit --no-fund --loglevel=error '$npm_tgz'") >"$work/out" 2>&1; then
    pass "npm: installs $(basename "$npm_tgz") in an empty project"
    for f in roundtrip.js roundtrip.mjs; do
        check "npm: round trip ($f)" "round-tripped .*, library $work/npm/node_modules/kapokmq/prebuilds/linux-$node_arch/libkapokmq.so" \
            as_user node "$work/npm/$f" "$port" "$(topic "$f")"
    done
else
    fail "npm: npm install"
    indent "$work/out"
fi

# ---------------------------------------------------------------------------
# C and C++: the SDK unpacked in a directory of the user's choosing

prefix="$work/sdk/somewhere/$sdk_name"
mkdir -p "$work/sdk/somewhere"
tar -xzf "$sdk" -C "$work/sdk/somewhere"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc_flags() { pkg-config --define-prefix "$@"; }
if cc -o "$work/sdk/smoke_shared" "$repo/tests/install/smoke.c" $(cc_flags --cflags --libs kapokmq) >"$work/out" 2>&1; then
    check "sdk: C, shared (pkg-config)" "^received: " \
        as_user env LD_LIBRARY_PATH="$prefix/lib" "$work/sdk/smoke_shared" "$port" "$(topic c-shared)"
else
    fail "sdk: C, shared: cc"
    indent "$work/out"
fi
if cc -o "$work/sdk/smoke_static" "$repo/tests/install/smoke.c" $(cc_flags --static --cflags --libs kapokmq-static) >"$work/out" 2>&1; then
    check "sdk: C, static (pkg-config)" "^received: " \
        as_user "$work/sdk/smoke_static" "$port" "$(topic c-static)"
else
    fail "sdk: C, static: cc"
    indent "$work/out"
fi
unset PKG_CONFIG_PATH
if command -v cmake >/dev/null && command -v c++ >/dev/null; then
    cm_build="$work/sdk/cmake"
    if cmake -S "$repo/tests/install" -B "$cm_build" -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_BUILD_TYPE=Release >"$work/out" 2>&1 &&
        cmake --build "$cm_build" --target smoke_cpp_shared smoke_cpp_static >>"$work/out" 2>&1; then
        check "sdk: C++, shared (CMake kapokmq::kapokmq)" "^received: " \
            as_user env LD_LIBRARY_PATH="$prefix/lib" "$cm_build/smoke_cpp_shared" "$port" "$(topic cpp-shared)"
        check "sdk: C++, static (CMake kapokmq::kapokmq_static)" "^received: " \
            as_user "$cm_build/smoke_cpp_static" "$port" "$(topic cpp-static)"
    else
        fail "sdk: C++: cmake"
        indent "$work/out"
    fi
else
    echo "SKIP sdk: C++ (no cmake or c++)"
fi

echo "$passed passed, $failed failed"
[[ $failed -eq 0 ]]
