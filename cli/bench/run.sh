#!/usr/bin/env bash
# The benchmark run behind `make bench`: builds the C and Go bench programs,
# runs `kmq bench` against a fresh kmq-broker, and draws the chart.
#
#   cli/bench/run.sh            10k, 100k and 1M messages
#   cli/bench/run.sh --quick    10k and 100k only
#   (any other argument is passed on to `kmq bench`, see kmq bench --help)
#
# Needs: cargo build --release --workspace (kmq, kmq-broker, libkapokmq).
# Optional: go (the Go client baseline), python3 with matplotlib (the chart;
# installed with pip when missing), node (the Node binding's send figure).
# Writes docs/bench/results.csv, results.txt and throughput.png
# (KMQ_BENCH_CSV=path/x.csv writes x.csv, x.txt and x.png instead).
# KMQ_BENCH_GO names a Go bench program already built (with ProducerAck),
# as tests/real/realmq.sh does from the client's source tree.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
release=$repo/target/release
build=$repo/target/bench
kmq=$release/kmq
export KMQ_BROKER=${KMQ_BROKER:-$release/kmq-broker}
export KAPOKMQ_LIB=${KAPOKMQ_LIB:-$release/libkapokmq.so}
lib_dir=$(dirname "$KAPOKMQ_LIB")
go_module=github.com/dpwgc/kapokmq-go-client

for f in "$kmq" "$KMQ_BROKER" "$KAPOKMQ_LIB"; do
    [[ -f $f ]] || { echo "missing $f: run cargo build --release --workspace" >&2; exit 2; }
done
mkdir -p "$build"
args=()

echo "bench: building the C bench program" >&2
${CC:-cc} -O2 -std=c11 -Wall -Wextra -Werror -pthread -I"$repo/include" cli/bench/c/bench.c cli/bench/c/bench_many.c \
    -L"$lib_dir" -lkapokmq -Wl,-rpath,"$lib_dir" -o "$build/bench_c"
args+=(--c-bench "$build/bench_c")

# The Go program is built from a copy, so that resolving the client's
# version (GOFLAGS=-mod=mod) never rewrites the committed go.mod.
go_unavailable=
csv=${KMQ_BENCH_CSV:-docs/bench/results.csv}
if [[ -n ${KMQ_BENCH_GO:-} ]]; then
    [[ -x $KMQ_BENCH_GO ]] || { echo "KMQ_BENCH_GO=$KMQ_BENCH_GO is not a program" >&2; exit 2; }
    args+=(--go-bench "$KMQ_BENCH_GO" --go-has-ack)
elif ! command -v go >/dev/null 2>&1; then
    go_unavailable="go is not installed"
else
    echo "bench: building the Go bench program (fetches $go_module)" >&2
    rm -rf "$build/go" && cp -r cli/bench/go "$build/go"
    export GOFLAGS=-mod=mod
    if ! log=$(cd "$build/go" && timeout 180 go mod download 2>&1); then
        go_unavailable="cannot fetch $go_module: $(grep -m1 -oE '[0-9]{3} [A-Za-z ]+|not found|no such host|timeout' <<<"$log" || echo "see go mod download")"
    fi
    if [[ -z $go_unavailable ]]; then
        tags=()
        if (cd "$build/go" && go doc "$go_module/conn" ProducerAck >/dev/null 2>&1); then
            tags=(-tags kmqack)
            args+=(--go-has-ack)
        fi
        if log=$(cd "$build/go" && timeout 300 go build "${tags[@]}" -o "$build/bench_go" . 2>&1); then
            args+=(--go-bench "$build/bench_go")
        else
            go_unavailable="go build failed (the client's API differs from cli/bench/go): $(head -n1 <<<"$log")"
        fi
    fi
    [[ -z $go_unavailable ]] || echo "bench: Go client baseline unavailable: $go_unavailable" >&2
fi
[[ -z $go_unavailable ]] || args+=(--go-unavailable "$go_unavailable")

chart=1
if ! python3 -c 'import matplotlib' >/dev/null 2>&1; then
    echo "bench: installing matplotlib for the chart" >&2
    python3 -m pip install --quiet matplotlib >&2 || chart=0
fi

"$kmq" bench --repo "$repo" --csv "$csv" "${args[@]}" "$@"

if [[ $chart == 1 ]]; then
    png=${csv%.csv}.png
    [[ $csv == docs/bench/results.csv ]] && png=docs/bench/throughput.png
    python3 docs/bench/plot.py "$csv" "$png"
else
    echo "bench: matplotlib is not available (pip install matplotlib): no chart drawn" >&2
fi
