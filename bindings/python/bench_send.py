#!/usr/bin/env python3
"""Measures what one ``Producer.send`` costs the calling thread.

Sends 100,000 messages in batches of 1,000, times each batch with
``time.perf_counter_ns`` and prints the median of the per-batch averages
(target: at most 5 µs per send); then the same 100,000 again as 100
``Producer.send_many`` calls of 1,000 (the list built once), timed per call
(``send_many:`` line, per message). Flushes to check every message was
confirmed.

    python3 bindings/python/bench_send.py                 # starts its own kmq-broker
    python3 bindings/python/bench_send.py 127.0.0.1 8011  # an existing broker

It uses the installed package if there is one, else the source tree with
$KAPOKMQ_LIB (default target/release/libkapokmq.so); the broker binary is
$KMQ_BROKER (default target/release/kmq-broker).
"""

from __future__ import annotations

import importlib.util
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
if importlib.util.find_spec("kapokmq") is None:  # not installed: the source tree and its build
    sys.path.insert(0, str(HERE / "src"))
    os.environ.setdefault("KAPOKMQ_LIB", str(REPO / "target" / "release" / "libkapokmq.so"))

import kapokmq  # noqa: E402

TOTAL = 100_000
BATCH = 1_000
TARGET_US = 5.0


def start_broker() -> "tuple[subprocess.Popen[str], str, int]":
    binary = os.environ.get("KMQ_BROKER", str(REPO / "target" / "release" / "kmq-broker"))
    proc = subprocess.Popen(
        [binary, "--port", "0", "--push-speed-ms", "0"], stdout=subprocess.PIPE, text=True
    )
    line = proc.stdout.readline().strip()  # type: ignore[union-attr]
    host, _, port = line.rpartition(" ")[2].rpartition(":")
    return proc, host, int(port)


def main() -> int:
    proc = None
    if len(sys.argv) >= 3:
        host, port = sys.argv[1], int(sys.argv[2])
    else:
        proc, host, port = start_broker()
    try:
        with kapokmq.Producer(topic="bench", producer_id="bench", mq_addr=host, mq_port=port) as p:
            payload = "a message of a typical small size, forty-odd bytes"
            for _ in range(BATCH):  # warm up: connection, allocator, caches
                p.send(payload)
            per_send_ns = []
            send = p.send
            clock = time.perf_counter_ns
            for _ in range(TOTAL // BATCH):
                started = clock()
                for _ in range(BATCH):
                    send(payload)
                per_send_ns.append((clock() - started) / BATCH)
            p.flush(timeout=60)
            batch = [payload] * BATCH
            p.send_many(batch)  # warm up
            per_many_ns = []
            send_many = p.send_many
            for _ in range(TOTAL // BATCH):
                started = clock()
                send_many(batch)
                per_many_ns.append((clock() - started) / BATCH)
            p.flush(timeout=60)
            stats = p.stats()
        median_us = statistics.median(per_send_ns) / 1000
        print(
            f"Producer.send: {median_us:.2f} µs per message "
            f"(median of {len(per_send_ns)} batches of {BATCH}; "
            f"best batch {min(per_send_ns) / 1000:.2f} µs, worst {max(per_send_ns) / 1000:.2f} µs; "
            f"{stats.confirmed} confirmed, {stats.failed} failed; target <= {TARGET_US} µs)"
        )
        print(
            f"send_many: {statistics.median(per_many_ns) / 1000:.2f} µs per message "
            f"(median of {len(per_many_ns)} calls of {BATCH} messages; "
            f"best call {min(per_many_ns) / 1000:.2f} µs, worst {max(per_many_ns) / 1000:.2f} µs per message)"
        )
        return 0 if stats.failed == 0 else 1
    finally:
        if proc is not None:
            proc.kill()
            proc.wait()


if __name__ == "__main__":
    sys.exit(main())
