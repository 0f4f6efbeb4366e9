#!/usr/bin/env python3
"""Interop with the official KapokMQ Go client on the real node, both ways.

    interop.py GO_INTEROP_PROGRAM

Starts a real node through kmq-real-broker (KMQ_BROKER, KMQ_REAL_NODE), then:
  1. a Go consumer receives what kapokmq's Producer sends;
  2. kapokmq's Consumer receives what the Go producer sends;
payloads compared byte for byte, in order. Prints PASS/FAIL lines and a closing
"N passed, N failed". Run by tests/real/realmq.sh.
"""
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bindings" / "python" / "src"))
import kapokmq  # noqa: E402

PAYLOADS = [
    "hello",
    "ünïcödé 中文 🎉",
    'quotes " and \\ backslashes',
    "line one\nline two\r\n\ttab",
    "NUL \x00 inside",
    "<html>&amp;</html> \u2028\u2029",
    "x" * 65536,
    "{\"looks\":\"like json\"}",
]
KEY = "test"
results = {"passed": 0, "failed": 0}


def report(ok, what, detail=""):
    results["passed" if ok else "failed"] += 1
    print(f"{'PASS' if ok else 'FAIL'} interop: {what}{': ' + detail if detail and not ok else ''}", flush=True)


def start_node():
    proc = subprocess.Popen([os.environ["KMQ_BROKER"], "--port", "0", "--push-speed-ms", "0"],
                            stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("kmq-broker listening on "):
        sys.exit(f"interop: the real node did not start: {line!r}")
    return proc, int(line.rsplit(":", 1)[1])


def go_consumer(program, port, topic, n):
    """Starts the Go consumer; returns (process, list filled with payloads as they arrive)."""
    proc = subprocess.Popen([program, "consume", "127.0.0.1", str(port), topic, KEY, str(n), "30"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    got, ready = [], threading.Event()

    def read():
        for line in proc.stdout:
            if line.startswith("READY"):
                ready.set()
            elif line.startswith("DATA "):
                got.append(json.loads(line[5:]))
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    ready.wait(15)
    return proc, got


def kapokmq_to_go(program, port):
    topic = f"interop-to-go-{os.getpid()}"
    proc, got = go_consumer(program, port, topic, len(PAYLOADS))
    time.sleep(0.5)  # the node pushes only to consumers connected when a message arrives
    with kapokmq.Producer(topic=topic, producer_id="py-interop-p", mq_port=port) as p:
        for data in PAYLOADS:
            p.send(data)
        p.flush(timeout=10.0)
    try:
        proc.wait(40)
    except subprocess.TimeoutExpired:
        proc.kill()
    err = proc.stderr.read().strip()
    report(got == PAYLOADS, f"kapokmq producer -> Go consumer, {len(PAYLOADS)} payloads byte for byte",
           f"got {len(got)} of {len(PAYLOADS)}, first difference at "
           f"{next((i for i, (a, b) in enumerate(zip(got, PAYLOADS)) if a != b), len(got))} {err}")


def go_to_kapokmq(program, port):
    topic = f"interop-from-go-{os.getpid()}"
    with kapokmq.Consumer(topic=topic, consumer_id="py-interop-c", mq_port=port) as c:
        time.sleep(0.3)
        feed = "".join(json.dumps(p) + "\n" for p in PAYLOADS)
        out = subprocess.run([program, "produce", "127.0.0.1", str(port), topic, KEY],
                             input=feed, capture_output=True, text=True, timeout=60)
        report(f"SENT {len(PAYLOADS)}" in out.stdout, "Go producer: every payload confirmed by the node",
               out.stderr.strip())
        got = []
        while len(got) < len(PAYLOADS):
            m = c.receive(timeout=10.0)
            if m is None:
                break
            got.append(m.data)
            c.ack(m)
        want = [p.encode() for p in PAYLOADS]
        report(got == want, f"Go producer -> kapokmq consumer, {len(PAYLOADS)} payloads byte for byte",
               f"got {len(got)} of {len(want)}")


def main():
    program = sys.argv[1]
    node, port = start_node()
    try:
        kapokmq_to_go(program, port)
        go_to_kapokmq(program, port)
    finally:
        node.kill()
        node.wait()
    print(f"{results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()
