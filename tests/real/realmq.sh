#!/usr/bin/env bash
# The real KapokMQ in the loop: builds the real node, the Serena registry and
# programs that use the official Go client, from their source trees, then runs
# the test suites or the benchmark against them.
#
#   tests/real/realmq.sh build    build into target/real/ (the other commands do it first)
#   tests/real/realmq.sh test     the C, Python, Node, cluster, fault and delivery suites
#                                 against real processes, and interop with the Go client;
#                                 closes with "N passed, N failed, N skipped"
#   tests/real/realmq.sh bench    `kmq bench` on a real node with the Go client's rows:
#                                 docs/bench/real/ (64 B, 1 KiB and 16 KiB payloads)
#   tests/real/realmq.sh record   record the node and Serena into tests/recorded/ (record.sh)
#   tests/real/realmq.sh loss [ARGS]  what the node loses of confirmed messages on kill -9 (loss.sh)
#
# Sources (never part of this repository): KAPOKMQ_SERVER_SRC (github.com/dpwgc/kapokmq),
# SERENA_SRC (github.com/dpwgc/serena), KAPOKMQ_GO_CLIENT_SRC
# (github.com/dpwgc/kapokmq-go-client). An unset one is cloned into
# ${XDG_CACHE_HOME:-~/.cache}/kapokmq-real where GitHub is reachable.
# Needs go, and the release build (cargo build --release --workspace).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${CARGO_TARGET_DIR:-$repo/target}/real
cache=${XDG_CACHE_HOME:-$HOME/.cache}/kapokmq-real
here=$repo/tests/real

# source_of VAR REPO: the source tree named by VAR, or a clone of REPO.
source_of() {
    local var=$1 name=$2 dir=${!1:-}
    if [[ -n $dir ]]; then
        [[ -f $dir/go.mod ]] || { echo "realmq: $var=$dir has no go.mod" >&2; exit 2; }
        echo "$dir"
        return
    fi
    dir=$cache/$name
    if [[ ! -f $dir/go.mod ]]; then
        rm -rf "$dir" && mkdir -p "$cache"
        if ! timeout 120 git clone -q --depth 1 "https://github.com/dpwgc/$name" "$dir" >/dev/null 2>&1; then
            rm -rf "$dir"
            echo "realmq: set KAPOKMQ_SERVER_SRC, SERENA_SRC and KAPOKMQ_GO_CLIENT_SRC to source trees of github.com/dpwgc/kapokmq, serena and kapokmq-go-client ($var is unset and github.com/dpwgc/$name cannot be cloned)" >&2
            exit 2
        fi
    fi
    echo "$dir"
}

# go_program SRC_DIR OUT_BINARY [TAGS]: a copy of SRC_DIR built against the
# Go client's source tree (a replace directive; the committed go.mod stays as it is).
go_program() {
    local src=$1 bin=$2 tags=${3:-} work
    work=$out/build/$(basename "$bin")
    rm -rf "$work" && mkdir -p "$work" && cp -r "$src"/. "$work"/
    # cli/bench/go asks for "latest", which go mod edit does not parse: drop it first.
    sed -i '/^require github.com\/dpwgc\/kapokmq-go-client /d' "$work/go.mod"
    (cd "$work" &&
        go mod edit -replace "github.com/dpwgc/kapokmq-go-client=$client_src" \
            -require github.com/dpwgc/kapokmq-go-client@v0.0.0 &&
        go build ${tags:+-tags "$tags"} -o "$bin" .)
}

build() {
    command -v go >/dev/null || { echo "realmq: go is not installed" >&2; exit 2; }
    server_src=$(source_of KAPOKMQ_SERVER_SRC kapokmq)
    serena_src=$(source_of SERENA_SRC serena)
    client_src=$(source_of KAPOKMQ_GO_CLIENT_SRC kapokmq-go-client)
    client_src=$(cd "$client_src" && pwd)
    # Module mode with the versions pinned in each go.mod, from the module proxy;
    # timetzdata: the node and the client load Asia/Shanghai.
    export GOFLAGS=-mod=mod
    mkdir -p "$out/node" "$out/serena"
    echo "realmq: building the node ($server_src), Serena ($serena_src) and the Go programs ($client_src)" >&2
    (cd "$server_src" && go build -tags timetzdata -o "$out/node/kapokmq" .)
    # The node renders view/index.html at start: kmq-real-broker links it in.
    ln -sfn "$(cd "$server_src" && pwd)/view" "$out/node/view"
    (cd "$serena_src" && go build -tags timetzdata -o "$out/serena/serena" .)
    go_program "$repo/cli/bench/go" "$out/bench_go" "kmqack timetzdata"
    go_program "$here/interop" "$out/interop_go" timetzdata
    for f in "$repo/target/release/libkapokmq.so" "$repo/target/release/kmq"; do
        [[ -f $f ]] || { echo "realmq: missing $f: run cargo build --release --workspace" >&2; exit 2; }
    done
}

# The suites take their server from KMQ_BROKER: kmq-real-broker speaks
# kmq-broker's command line and runs the real processes.
use_real() {
    export KMQ_BROKER=$here/kmq-real-broker
    export KMQ_REAL_NODE=$out/node/kapokmq KMQ_REAL_SERENA=$out/serena/serena
    export KAPOKMQ_LIB=$repo/target/release/libkapokmq.so
    KMQ_REAL_STATE=$(mktemp -d "${TMPDIR:-/tmp}/kmq-real.XXXXXX")
    export KMQ_REAL_STATE
    trap 'rm -rf "$KMQ_REAL_STATE"' EXIT
}

passed=0 failed=0 skipped=0
# count SUITE LOG PASS_REGEX FAIL_REGEX SKIP_REGEX: adds what a runner's summary says.
count() {
    local suite=$1 log=$2 p f s
    # grep finds nothing for a suite with no failures: not an error here.
    p=$( (grep -oP "$3" "$log" || true) | awk '{n+=$1} END {print n+0}')
    f=$( (grep -oP "$4" "$log" || true) | awk '{n+=$1} END {print n+0}')
    s=$( (grep -oP "$5" "$log" || true) | awk '{n+=$1} END {print n+0}')
    echo "realmq: $suite: $p passed, $f failed, $s skipped"
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

# run SUITE COMMAND...: runs one suite with its output kept; a suite that
# exits non-zero without counting a failure counts one.
run() {
    local suite=$1 log=$out/logs/$1.log status=0 failed_before=$failed
    shift
    mkdir -p "$out/logs"
    echo "realmq: === $suite: $*"
    "$@" >"$log" 2>&1 || status=$?
    grep -E '^(FAIL|SKIP|not ok)|# SKIP|^SKIPPED|^SKIP |FAILED|panicked' "$log" | head -40 || true
    case $suite in
        c) count "$suite" "$log" '^\d+(?= passed, \d+ failed)' '(?<= passed, )\d+(?= failed)' '(?<=failed, )\d+(?= skipped)' ;;
        python) count "$suite" "$log" '\d+(?= passed)' '\d+(?= failed)' '\d+(?= skipped)' ;;
        node) count "$suite" "$log" '(?<=^# pass )\d+' '(?<=^# fail )\d+' '(?<=^# skipped )\d+' ;;
        rust)
            # cargo counts a test that skipped itself as passed.
            local skips
            skips=$(grep -c '^SKIP ' "$log" || true)
            count "$suite" "$log" '(?<=test result: )\w+\. \K\d+(?= passed)' '\d+(?= failed;)' 'x^'
            passed=$((passed - skips)) skipped=$((skipped + skips))
            echo "realmq: rust: of those passed, $skips skipped themselves" ;;
        interop) count "$suite" "$log" '^\d+(?= passed, \d+ failed)' '(?<= passed, )\d+(?= failed)' 'x^' ;;
    esac
    # Judged by this suite's own count, not by earlier suites' failures.
    if [[ $status -ne 0 && $failed -eq $failed_before ]]; then
        echo "realmq: $suite exited with status $status (see $log)"
        failed=$((failed + 1))
    fi
}

test_real() {
    use_real
    run c bash "$repo/tests/c/run.sh"
    run python env PYTHONPATH="$repo/bindings/python/src" python3 -m pytest -q -rs "$repo/bindings/python/tests"
    run node bash -c "cd '$repo/bindings/node' && npm ci --no-audit --no-fund --loglevel=error >/dev/null && npm test"
    run rust cargo test --release --no-fail-fast --test cluster --test faults --test delivery --test connections --test drain --test reconnect -- --nocapture
    run interop python3 "$here/interop.py" "$out/interop_go"
    echo "$passed passed, $failed failed, $skipped skipped"
    [[ $failed -eq 0 ]]
}

# The make-bench table on a real node (push throttle off), the Go client's
# rows filled in; then the throughput rows at 1 KiB and 16 KiB.
bench_real() {
    local dir=docs/bench/real
    mkdir -p "$repo/$dir"
    cd "$repo"
    export KMQ_BENCH_GO=$out/bench_go
    # Per-call costs of the bindings are kmq-broker figures (docs/bench/results.txt):
    # on the node they would time its confirmations instead. --no-bindings leaves
    # out only those: the Python end-to-end row runs.
    # The node's pace varies from run to run: the median of seven runs a figure.
    local repeat=${KMQ_REAL_BENCH_REPEAT:-7}
    KMQ_BENCH_CSV=$dir/results.csv bash cli/bench/run.sh --no-bindings --repeat "$repeat" --sizes "${KMQ_REAL_BENCH_N:-100000}"
    # --only-throughput keeps every throughput row: also connections=2 and 4,
    # the batch call, the thread blocked in kmq_receive and Python's for loop.
    KMQ_BENCH_CSV=$dir/results-1k.csv bash cli/bench/run.sh --only-throughput --repeat "$repeat" --payload 1024 \
        --sizes "${KMQ_REAL_BENCH_N_1K:-50000}"
    KMQ_BENCH_CSV=$dir/results-16k.csv bash cli/bench/run.sh --only-throughput --repeat "$repeat" --payload 16384 \
        --sizes "${KMQ_REAL_BENCH_N_16K:-10000}"
}

case ${1:-} in
    build) build ;;
    test) build && test_real ;;
    bench) build && use_real && bench_real ;;
    record) build && use_real && bash "$here/record.sh" ;;
    loss) shift && build && use_real && bash "$here/loss.sh" "$@" ;;
    *) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
