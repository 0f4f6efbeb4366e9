#!/usr/bin/env python3
"""What the real KapokMQ node loses of the messages it confirmed when it is
killed with SIGKILL and restarted, with snapshot + WAL persistence
(isPersistent 2, recoveryStrategy 1).

Each run: start the node (KMQ_REAL_NODE) in a fresh directory, produce
numbered messages on one socket as fast as acks come back (at most WINDOW
unconfirmed), kill -9 the node, restart it in the same directory, and
read back every stored message by consuming it. "ok" acks come in the order
of the messages, so after C acks messages 0..C-1 are the confirmed ones.

Kill moments: `--at S` kills S seconds after the first send (default: a
spread over the 5-second snapshot cycle); `--snapshot` waits until the node
is rewriting its snapshot file (MQDATA shrinks: the file is truncated
first) and kills it then.

With --kmq PATH the producer is the library itself (`kmq produce`), and
the confirmed count is the one its summary prints.

Usage: KMQ_REAL_NODE=/path/to/kapokmq tests/real/loss.py [--runs N] [--rate MSG_PER_S] [--kmq PATH] [--at S | --snapshot]
"""

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record import Proc, WS, free_port, http, node_config, wait_port, yaml  # noqa: E402

WINDOW = 2000
TOPIC = "loss"


def config(port, gossip, push_retry):
    # No push throttle, and (for reading back) every waiting message
    # re-pushed by the check once a second.
    return node_config(port, gossip, isPersistent=2, recoveryStrategy=1, persistentTime=5,
                       pushCount=100000000, pushMessagesSpeed=0, pushRetryTime=push_retry, checkSpeed=1)


def produce(port, stop, counts, rate):
    ws = WS(port, f"/Producers/Conn/{TOPIC}/loss-p")
    assert ws.recv()[1] == b"Please enter the secret key"
    ws.send(1, b"test")
    assert ws.recv()[1] == b"Secret key matching succeeded"
    window = threading.Semaphore(WINDOW)

    def sender():
        i = 0
        start = time.time()
        try:
            while not stop.is_set():
                ahead = i / rate - (time.time() - start) if rate else 0
                if ahead > 0:
                    time.sleep(ahead)
                window.acquire()
                ws.send(1, json.dumps({"MessageData": f"m-{i}", "DelayTime": 0}).encode())
                i += 1
                counts["sent"] = i
        except OSError:
            pass

    t = threading.Thread(target=sender, daemon=True)
    t.start()
    try:
        while True:
            got = ws.recv()
            if got is None:
                break
            assert got[1] == b"ok", got
            counts["acked"] += 1
            window.release()
    except OSError:
        pass
    stop.set()


def produce_with_kmq(kmq, port, stop, counts, rate):
    """The same through the library: `kmq produce` reading numbered lines on
    stdin; its summary says how many the node confirmed. Messages time out
    after 4 s, so none is resent after the kill (the node is restarted only
    once kmq has given up)."""
    proc = subprocess.Popen([kmq, "produce", "-p", str(port), "-t", TOPIC, "--id", "loss-p", "--timeout", "6",
                             "-X", "message_timeout_ms=4000"],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=1 << 16)
    start = time.time()
    i = 0
    try:
        while not stop.is_set():
            ahead = i / rate - (time.time() - start) if rate else 0
            if ahead > 0:
                proc.stdin.flush()
                time.sleep(ahead)
            proc.stdin.write(f"m-{i}\n".encode())
            i += 1
            counts["sent"] = i
            if i % 256 == 0:
                proc.stdin.flush()
    except BrokenPipeError:
        pass
    try:
        proc.stdin.close()
    except BrokenPipeError:
        pass
    err = proc.stderr.read().decode()
    proc.wait()
    summary = [line for line in err.splitlines() if line.startswith("kmq produce:")]
    if not summary:
        raise SystemExit(f"kmq produce printed no summary: {err}")
    counts["acked"] = int(summary[0].split(",")[1].split()[0])
    counts["kmq"] = summary[0]


def read_back(port, quiet_s=4.0):
    """Every message stored on the node, by its data (the check re-pushes
    unacked messages every second; stop once no new one came for a while)."""
    ws = WS(port, f"/Consumers/Conn/{TOPIC}/loss-c", timeout=1.0)
    assert ws.recv()[1] == b"Please enter the secret key"
    ws.send(1, b"test")
    assert ws.recv()[1] == b"Secret key matching succeeded"
    seen = set()
    last_new = time.time()
    while time.time() - last_new < quiet_s:
        try:
            got = ws.recv()
        except socket.timeout:
            continue
        if got is None:
            break
        data = json.loads(got[1])["MessageData"]
        if data not in seen:
            seen.add(data)
            last_new = time.time()
    ws.close()
    return seen


def size_of(path):
    return os.path.getsize(path) if os.path.exists(path) else 0


def count(port):
    _, _, body = http(port, "POST", "/Console/CountMessage", [("secretKey", "test")], b"")
    return json.loads(body)["data"]


def snapshot_started(path, t0, min_s):
    """True once the snapshot file, after min_s seconds, gets smaller (the
    node truncates it before writing the new snapshot)."""
    last = None
    while True:
        try:
            size = os.path.getsize(path)
        except OSError:
            size = None
        if time.time() - t0 >= min_s and last and size is not None and size < last:
            return
        last = size
        time.sleep(0.0005)


def run(node_bin, at, snapshot, rate, kmq):
    port, gossip = free_port(), free_port()
    node = Proc(node_bin, config(port, gossip, 300), port, "kapokmq")
    stop = threading.Event()
    counts = {"sent": 0, "acked": 0}
    if kmq:
        producer = threading.Thread(target=produce_with_kmq, args=(kmq, port, stop, counts, rate))
    else:
        producer = threading.Thread(target=produce, args=(port, stop, counts, rate))
    t0 = time.time()
    producer.start()
    if snapshot:
        snapshot_started(os.path.join(node.dir, "MQDATA"), t0, at)
    else:
        time.sleep(at)
    killed_at = time.time() - t0
    node.proc.send_signal(signal.SIGKILL)
    node.proc.wait()
    stop.set()
    producer.join()
    confirmed = counts["acked"]
    wal, snap = (size_of(os.path.join(node.dir, name)) for name in ("WAL.log", "MQDATA"))

    # Same directory, same data files; re-push waiting messages at once.
    with open(os.path.join(node.dir, "application.yaml"), "w") as f:
        f.write(yaml(config(port, gossip, 0)))
    node.log.close()
    node.log = open(os.path.join(node.dir, "out2.log"), "w")
    node.proc = subprocess.Popen([node_bin], cwd=node.dir, stdout=node.log, stderr=subprocess.STDOUT)
    try:
        wait_port(port, node.proc, "kapokmq (restarted)")
        stored = count(port)
        kept = read_back(port)
    finally:
        node.stop()
    kept_confirmed = sum(1 for i in range(confirmed) if f"m-{i}" in kept)
    lost = confirmed - kept_confirmed
    return {
        "killed_at_s": round(killed_at, 2), "sent": counts["sent"], "confirmed": confirmed,
        "snapshot_bytes": snap, "wal_bytes": wal, "stored_after_restart": stored["all"],
        "read_back": len(kept), "confirmed_kept": kept_confirmed, "confirmed_lost": lost,
        "lost_pct": round(100.0 * lost / confirmed, 2) if confirmed else 0.0,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=4)
    ap.add_argument("--at", type=float, help="kill this many seconds after the first send")
    ap.add_argument("--kmq", help="produce through the library's command line (path to target/release/kmq)")
    ap.add_argument("--rate", type=float, default=0, help="messages per second (default: as fast as acks come)")
    ap.add_argument("--snapshot", action="store_true", help="kill while the snapshot file is rewritten (after --at s, default 8)")
    args = ap.parse_args()
    node_bin = os.environ.get("KMQ_REAL_NODE")
    if not node_bin:
        raise SystemExit("set KMQ_REAL_NODE to the built kapokmq binary")
    node_bin = os.path.abspath(node_bin)
    spread = [7.0, 9.5, 12.0, 13.7, 16.2, 18.9]
    for n in range(args.runs):
        at = args.at if args.at is not None else (8.0 if args.snapshot else spread[n % len(spread)])
        result = run(node_bin, at, args.snapshot, args.rate, args.kmq and os.path.abspath(args.kmq))
        result["mode"] = "during snapshot" if args.snapshot else "timed"
        result["rate"] = args.rate or "max"
        result["producer"] = "kmq produce" if args.kmq else "raw socket"
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
