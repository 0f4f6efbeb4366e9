#!/usr/bin/env bash
# Starts a kmq-broker, sends messages with the C producer example, receives
# them with the C consumer example, then stops the broker.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
release="$root/target/release"
work="$(mktemp -d)"
trap 'kill "$broker_pid" 2>/dev/null || true; rm -rf "$work"' EXIT

for prog in producer consumer; do
  cc -std=c11 -Wall -O2 -I"$root/include" "$root/examples/$prog.c" \
     -L"$release" -lkapokmq -Wl,-rpath,"$release" -o "$work/$prog"
done

"$release/kmq-broker" --port 0 --push-speed-ms 0 > "$work/broker.out" &
broker_pid=$!
for _ in $(seq 100); do grep -q listening "$work/broker.out" && break; sleep 0.05; done
port="$(sed -n 's/.*listening on .*:\([0-9]*\)$/\1/p' "$work/broker.out")"
echo "kmq-broker listening on 127.0.0.1:$port"

export KAPOKMQ_ADDR=127.0.0.1 KAPOKMQ_PORT="$port" KAPOKMQ_TOPIC=demo
"$work/consumer" 5 > "$work/received.txt" &
consumer_pid=$!
sleep 0.3
echo "--- producer"
"$work/producer" "hello from C" "héllo wörld" "third message" "fourth" "fifth"
wait "$consumer_pid"
echo "--- consumer"
cat "$work/received.txt"
