#!/usr/bin/env python3
"""End to end through the Python binding, written the way most consumers are.

A producer thread sends N messages with ``Producer.send`` (then flushes)
while the main thread runs ``for m in consumer: consumer.ack(m)`` until N
came back: the time from the first send to the last message received.

    python3 bindings/python/bench_e2e.py HOST PORT TOPIC N PAYLOAD KEY

Prints ``RESULT secs=... count=... cpu_secs=...`` as the C and Go bench
programs do (`kmq bench` runs it; cpu_secs is this process's CPU while
timed). It uses the installed package if there is one, else the source
tree with $KAPOKMQ_LIB (default target/release/libkapokmq.so).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
if importlib.util.find_spec("kapokmq") is None:  # not installed: the source tree and its build
    sys.path.insert(0, str(HERE / "src"))
    os.environ.setdefault("KAPOKMQ_LIB", str(HERE.parents[1] / "target" / "release" / "libkapokmq.so"))

import kapokmq  # noqa: E402

# A lost message would leave the loop waiting for ever: past this, the
# consumer is closed, which ends the loop short of N.
LIMIT_S = 120.0


def send_all(producer: "kapokmq.Producer", n: int, payload: str, errors: "list[BaseException]") -> None:
    try:
        for _ in range(n):
            producer.send(payload)
        producer.flush(timeout=LIMIT_S)
    except BaseException as e:  # reported by the main thread
        errors.append(e)


def main() -> int:
    if len(sys.argv) != 7:
        print(f"usage: {sys.argv[0]} HOST PORT TOPIC N PAYLOAD KEY", file=sys.stderr)
        return 2
    host, port, topic, n, payload, key = sys.argv[1:]
    n = int(n)
    common = dict(mq_addr=host, mq_port=port, topic=topic, secret_key=key, message_timeout_ms=300_000)
    # The consumer first, so that no message waits for the retry.
    consumer = kapokmq.Consumer(consumer_id="py-bench", receive_buffer=100_000, **common)
    producer = kapokmq.Producer(producer_id="py-bench", queue_max=n + 1, **common)
    errors: "list[BaseException]" = []
    sender = threading.Thread(target=send_all, args=(producer, n, payload, errors))
    watchdog = threading.Timer(LIMIT_S, consumer.close)
    watchdog.start()
    cpu0, t0 = time.process_time(), time.perf_counter()
    sender.start()
    got = 0
    for m in consumer:
        consumer.ack(m)
        got += 1
        if got == n:
            break
    took, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    watchdog.cancel()
    sender.join()
    producer.close()
    consumer.close()
    if errors or got < n:
        print(f"bench_e2e: {got} of {n} received; {errors[0] if errors else 'timed out'}", file=sys.stderr)
        return 1
    print(f"RESULT secs={took:.6f} count={got} cpu_secs={cpu:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
