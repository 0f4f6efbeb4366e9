#!/usr/bin/env bash
# Profiles the library's hot paths with the C bench program: perf when the
# machine has hardware counters (`perf stat -e instructions true` works),
# else valgrind's callgrind, which counts instructions on any machine.
#
#   cli/bench/profile.sh [MODE=throughput|e2e|percall] [N=50000]
#
# Needs: cargo build --release --workspace; cli/bench/run.sh or this script
# builds the C program. Output: target/bench/profile-MODE.* and, on stdout,
# the functions with the most instructions (exclusive and inclusive).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$repo"
mode=${1:-throughput}
n=${2:-50000}
release=$repo/target/release
build=$repo/target/bench
mkdir -p "$build"
${CC:-cc} -O2 -g -std=c11 -Wall -Wextra -Werror -I"$repo/include" cli/bench/c/bench.c \
    -L"$release" -lkapokmq -Wl,-rpath,"$release" -o "$build/bench_c"

broker_out=$(mktemp)
"$release/kmq-broker" --port 0 --push-speed-ms 0 >"$broker_out" &
broker=$!
trap 'kill $broker 2>/dev/null; rm -f "$broker_out"' EXIT
for _ in $(seq 50); do grep -q listening "$broker_out" && break; sleep 0.1; done
port=$(sed -n 's/^kmq-broker listening on .*:\([0-9]*\)$/\1/p' "$broker_out")
payload=$(printf 'kapokmq-bench-payload-%.0s' 1 2 3 | head -c 64)
run=("$build/bench_c" "$mode" 127.0.0.1 "$port" "profile-$mode" "$n" "$payload" test)

if perf stat -e instructions true 2>&1 | grep -q '[0-9] *instructions'; then
    out=$build/profile-$mode.perf.data
    perf record -g -o "$out" -- "${run[@]}"
    perf report -i "$out" --no-children --percent-limit 1 --stdio | head -80
    echo "--- inclusive"
    perf report -i "$out" --children --percent-limit 3 --stdio | grep -E '^ +[0-9]' | head -40
else
    echo "profile: no hardware counters here; using callgrind (instruction counts, all threads)" >&2
    out=$build/profile-$mode.callgrind
    valgrind --tool=callgrind --callgrind-out-file="$out" -- "${run[@]}" 2>"$build/profile-$mode.valgrind.log"
    echo "--- exclusive (self) instructions"
    callgrind_annotate --threshold=90 "$out" | sed -n '/^-*$/,$p' | grep -E '^ *[0-9,]+ ' | head -35
    echo "--- inclusive instructions"
    callgrind_annotate --inclusive=yes --threshold=95 "$out" | grep -E '^ *[0-9,]+ ' | head -45
fi
