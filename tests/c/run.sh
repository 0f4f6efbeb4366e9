#!/usr/bin/env bash
# Builds and runs the C tests of kapokmq, each test program linked twice:
# against the shared library and against the static one. Also builds the C
# examples and runs them once against a broker.
#
#   tests/c/run.sh              # every test
#   tests/c/run.sh delay close  # only tests/c/test_delay.c and test_close.c
#   tests/c/run.sh header       # only the header under C89 ... C++11
#   tests/c/run.sh --valgrind [tests...]
#       the shared-library builds under valgrind's memcheck: any memory error
#       or definite leak fails the program (suppressions: valgrind.supp)
#   tests/c/run.sh --asan [tests...]
#       the tests built with -fsanitize=address (leak checks included) and
#       linked against the shared library
#
# Uses the release build in cargo's target directory (CARGO_TARGET_DIR
# honoured), running cargo build --release --workspace first when it is
# older than its sources (tests/artifacts.sh).
# Env: KAPOKMQ_LIB (the .so; the .a is looked for next to it), KMQ_BROKER,
#      CC (default cc), CXX (default c++), KEEP_BUILD=1 (keep the build
#      directory). For a library of another platform (tests/cross/run.sh):
#      KMQ_TEST_RUNNER (a command that runs the programs, such as
#      qemu-aarch64-static), KMQ_STATIC_CC (the compiler for the programs
#      linked with the static library; default CC), KMQ_STATIC_LIBS (what
#      a static link adds, instead of bindings/c/native-static-libs.txt),
#      KMQ_CROSS (the platform's name), KMQ_NO_CXX (why the header is not
#      compiled as C++: no C++ compiler for the platform).
# Prints one line per test case and, last, "N passed, M failed".
set -euo pipefail

mode=plain
case ${1:-} in
    --valgrind | --asan) mode=${1#--}; shift ;;
    --*) echo "unknown option $1" >&2; exit 2 ;;
esac

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
here="$repo/tests/c"
artifacts=$(bash "$repo/tests/artifacts.sh" --build broker lib) || exit 2
export KMQ_BROKER=$(sed -n 's/^KMQ_BROKER=//p' <<<"$artifacts")
lib_so=$(sed -n 's/^KAPOKMQ_LIB=//p' <<<"$artifacts")
lib_dir=$(cd "$(dirname "$lib_so")" && pwd)
lib_a="$lib_dir/libkapokmq.a"
export KMQ_REPO=$repo # test_tls finds tests/tls/make_certs.sh there
cc=${CC:-cc}
read -ra static_cc <<<"${KMQ_STATIC_CC:-$cc}"
read -ra cross_runner <<<"${KMQ_TEST_RUNNER:-}"

cflags=(-std=c11 -Wall -Wextra -Werror -pthread -I"$repo/include")
variants=(shared static)
runner=("${cross_runner[@]}")
program_timeout=180
case $mode in
    valgrind)
        command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }
        variants=(shared)
        runner=(valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
            --show-leak-kinds=definite --suppressions="$here/valgrind.supp")
        # Everything runs 20-50 times slower.
        program_timeout=1200
        export KMQ_TEST_CASE_TIMEOUT_S=${KMQ_TEST_CASE_TIMEOUT_S:-600}
        ;;
    asan)
        variants=(asan)
        export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:halt_on_error=1}
        ;;
esac
shared_link=(-L"$lib_dir" -lkapokmq -Wl,-rpath,"$lib_dir")
# From `cargo rustc --release -p kapokmq --crate-type staticlib -- --print native-static-libs`.
static_link=("$lib_a" -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc)
if [[ -n ${KMQ_STATIC_LIBS:-} ]]; then
    read -ra static_link <<<"$lib_a $KMQ_STATIC_LIBS"
fi

for f in "$lib_so" "$lib_a" "$KMQ_BROKER"; do
    if [[ ! -f $f ]]; then
        echo "missing $f: run cargo build --release -p kapokmq -p kmq-broker" >&2
        exit 2
    fi
done

build=$(mktemp -d "${TMPDIR:-/tmp}/kapokmq-ctests.XXXXXX")
if [[ ${KEEP_BUILD:-} == 1 ]]; then
    echo "build directory: $build"
else
    trap 'rm -rf "$build"' EXIT
fi

passed=0
failed=0
skipped=0
pass() { passed=$((passed + 1)); echo "PASS $*"; }
skip() { skipped=$((skipped + 1)); echo "SKIP $*"; }
fail() { failed=$((failed + 1)); echo "FAIL $*"; }

# Runs one test program and turns its "ok - name" / "not ok - name" lines
# into PASS/FAIL lines; a program that dies or reports nothing is a failure.
run_program() {
    local variant=$1 name=$2 exe=$3 out status=0 cases=0 bad=0 line
    local run=("${runner[@]}")
    # fork() copies no thread, so a forked child cannot reach what the
    # parent's runtime threads own (tokio's workers and their tasks): by
    # design the child leaves it alone, and memcheck would call it lost.
    # Memory errors are still checked there; leaks everywhere else.
    if [[ $mode == valgrind && $name == test_fork ]]; then
        run+=(--leak-check=no)
    fi
    out=$(cd "$build" && timeout -s KILL "$program_timeout" "${run[@]}" "$exe" 2>&1) || status=$?
    while IFS= read -r line; do
        case $line in
            "ok - "*" # SKIP "*) cases=$((cases + 1)); skip "[$variant] $name: ${line#ok - }" ;;
            "ok - "*) cases=$((cases + 1)); pass "[$variant] $name: ${line#ok - }" ;;
            "not ok - "*) cases=$((cases + 1)); bad=$((bad + 1)); fail "[$variant] $name: ${line#not ok - }" ;;
            *) echo "    $line" ;;
        esac
    done <<<"$out"
    if [[ $mode == valgrind && $status -eq 99 ]]; then
        fail "[$variant] $name: valgrind found memory errors or definite leaks (see above)"
    elif [[ $status -ne 0 && $bad -eq 0 ]] || [[ $cases -eq 0 ]]; then
        fail "[$variant] $name: exited with status $status after $cases case(s)"
    fi
}

# Compiles $1 (a .c file) to $2 with the link flags that follow.
# A program linked with the static library is compiled by $static_cc.
compile() {
    local src=$1 exe=$2 compiler=("$cc")
    shift 2
    [[ $exe != *.static ]] || compiler=("${static_cc[@]}")
    "${compiler[@]}" "${cflags[@]}" "$src" -o "$exe" "$@" 2>"$exe.log"
}

selected=("$@")
for src in "$here"/test_*.c; do
    name=$(basename "$src" .c)
    # The soak test measures RSS, which valgrind and ASan inflate on purpose
    # (shadow memory, a quarantine of freed blocks).
    if [[ $mode != plain && $name == test_soak ]]; then
        continue
    fi
    # The logging test compares throughput, which valgrind's one-thread-at-a-
    # time scheduling makes meaningless.
    if [[ $mode == valgrind && $name == test_logging ]]; then
        continue
    fi
    # Under an emulator, RSS is the emulator's and throughput its pace.
    if [[ ${#cross_runner[@]} -gt 0 && ($name == test_soak || $name == test_logging) ]]; then
        skip "[${KMQ_CROSS:-cross}] $name: measures this machine (RSS, throughput), not the library, under ${cross_runner[0]}"
        continue
    fi
    if [[ ${#selected[@]} -gt 0 ]]; then
        wanted=0
        for s in "${selected[@]}"; do
            [[ $name == "test_$s" || $name == "$s" ]] && wanted=1
        done
        [[ $wanted == 1 ]] || continue
    fi
    for variant in "${variants[@]}"; do
        exe="$build/$name.$variant"
        case $variant in
            shared) link=("${shared_link[@]}") ;;
            static) link=("${static_link[@]}") ;;
            asan) link=(-fsanitize=address -fno-omit-frame-pointer -g "${shared_link[@]}") ;;
        esac
        if ! compile "$src" "$exe" "${link[@]}"; then
            sed 's/^/    /' "$exe.log"
            fail "[$variant] $name: does not compile"
            continue
        fi
        run_program "$variant" "$name" "$exe"
    done
done

# The examples: they must build cleanly and work as documented against a
# broker on a free port.
examples_smoke() {
    local ex="$repo/examples" broker_pid port line i out
    for prog in producer consumer cluster_producer event_loop; do
        if ! compile "$ex/$prog.c" "$build/$prog.static" "${static_link[@]}"; then
            sed 's/^/    /' "$build/$prog.static.log"
            fail "[static] examples: $prog.c does not compile"
        else
            pass "[static] examples: $prog.c builds"
        fi
        if ! compile "$ex/$prog.c" "$build/$prog" "${shared_link[@]}"; then
            sed 's/^/    /' "$build/$prog.log"
            fail "[shared] examples: $prog.c does not compile"
            return
        fi
    done
    "$KMQ_BROKER" --port 0 --push-speed-ms 0 >"$build/broker.out" 2>/dev/null &
    broker_pid=$!
    port=
    for ((i = 0; i < 100; i++)); do
        line=$(head -n 1 "$build/broker.out")
        if [[ $line == "kmq-broker listening on "* ]]; then
            port=${line##*:}
            break
        fi
        sleep 0.1
    done
    if [[ -z $port ]]; then
        kill -KILL "$broker_pid" 2>/dev/null || true
        fail "[shared] examples: the broker did not start"
        return
    fi
    export KAPOKMQ_PORT=$port KAPOKMQ_TOPIC=examples
    # The consumer connects first: the server pushes only to consumers
    # it has registered when a message arrives.
    registered() {
        for ((i = 0; i < 300; i++)); do
            curl -fsS -X POST -H 'secretKey: test' "http://127.0.0.1:$port/Console/GetClients" 2>/dev/null |
                grep -q "\"Topic\":\"$1\"" && return
            sleep 0.1
        done
    }
    timeout -s KILL 30 "${cross_runner[@]}" "$build/consumer" 5 10 >"$build/consumer.out" 2>&1 &
    local consumer_pid=$! consumer_status=0 producer_status=0
    registered examples
    out=$(timeout -s KILL 30 "${cross_runner[@]}" "$build/producer" hello "kapok mq" 'ünïcode' 2>&1 &&
        timeout -s KILL 30 "${cross_runner[@]}" "$build/producer" -n 2 2>&1) || producer_status=$?
    wait "$consumer_pid" || consumer_status=$?
    # The event loop: messages in through kmq_consumer_fd, replies' reports
    # through kmq_producer_fd.
    local loop_status=0
    KAPOKMQ_TOPIC=loop timeout -s KILL 30 "${cross_runner[@]}" "$build/event_loop" 2 10 >"$build/event_loop.out" 2>&1 &
    local loop_pid=$!
    registered loop
    KAPOKMQ_TOPIC=loop timeout -s KILL 30 "${cross_runner[@]}" "$build/producer" one two >/dev/null 2>&1 || true
    wait "$loop_pid" || loop_status=$?
    kill -KILL "$broker_pid" 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
    unset KAPOKMQ_PORT KAPOKMQ_TOPIC
    sed 's/^/    producer: /' <<<"$out"
    sed 's/^/    consumer: /' "$build/consumer.out"
    if [[ $producer_status -eq 0 && $consumer_status -eq 0 ]] &&
        grep -q ' kapok mq$' "$build/consumer.out" && grep -q ' ünïcode$' "$build/consumer.out" &&
        grep -q ' message 2$' "$build/consumer.out" && grep -q '^5 messages received$' "$build/consumer.out"; then
        pass "[shared] examples: producer sent 3 words and 2 lines, consumer printed them"
    else
        fail "[shared] examples: producer exit $producer_status, consumer exit $consumer_status"
    fi
    sed 's/^/    event_loop: /' "$build/event_loop.out"
    if [[ $loop_status -eq 0 ]] && grep -q '^2 messages received$' "$build/event_loop.out" &&
        [[ $(grep -c '^reply to [0-9a-f]* confirmed$' "$build/event_loop.out") -eq 2 ]] &&
        grep -q '^replies: 2 confirmed, 0 failed, 0 failed by the close$' "$build/event_loop.out"; then
        pass "[shared] examples: event_loop received 2 messages, saw both replies confirmed and closed without loss"
    else
        fail "[shared] examples: event_loop exit $loop_status"
    fi
}

if [[ $mode == plain ]] && { [[ ${#selected[@]} -eq 0 ]] || [[ " ${selected[*]} " == *" examples "* ]]; }; then
    examples_smoke
fi

# The header under every language standard a C or C++ user may build with:
# tests/c/header_std.c must compile with -pedantic and no warning, link and
# pass as C89, C99, C11, C++98 and C++11.
header_standards() {
    local std compiler exe
    local strict=(-pedantic -Wall -Wextra -Werror -I"$repo/include")
    for std in c89 c99 c11 c++98 c++11; do
        if [[ $std == c++* && -n ${KMQ_NO_CXX:-} ]]; then
            skip "[$std] header: $KMQ_NO_CXX"
            continue
        fi
        case $std in
            c++*) compiler=(${CXX:-c++} -x c++) ;;
            *) compiler=("$cc") ;;
        esac
        exe="$build/header_std.$std"
        if ! "${compiler[@]}" -std="$std" "${strict[@]}" "$here/header_std.c" -x none -o "$exe" \
            "${shared_link[@]}" 2>"$exe.log"; then
            sed 's/^/    /' "$exe.log"
            fail "[$std] header: kapokmq.h does not compile cleanly"
            continue
        fi
        pass "[$std] header: kapokmq.h compiles with -pedantic -Werror"
        run_program "$std" header_std "$exe"
    done
}

if [[ $mode == plain ]] && { [[ ${#selected[@]} -eq 0 ]] || [[ " ${selected[*]} " == *" header "* ]]; }; then
    header_standards
fi

echo "$passed passed, $failed failed, $skipped skipped"
[[ $failed -eq 0 ]]
