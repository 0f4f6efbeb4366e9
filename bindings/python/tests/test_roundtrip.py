"""Messages from a Producer to a Consumer through a real broker."""

from __future__ import annotations

import collections
import re
import time
from typing import List

import kapokmq

PAYLOADS = [
    "plain ascii",
    "multi-byte: héllo wörld ✓ 日本語 🎉",
    "nul\0inside\0",
    b"bytes \xe2\x9c\x93 with a NUL \x00 here",
    "x" * 100_000,
]


def as_bytes(data) -> bytes:
    return data.encode("utf-8") if isinstance(data, str) else data


def receive_n(c: kapokmq.Consumer, n: int, timeout: float = 10.0) -> List[kapokmq.Message]:
    got = []
    while len(got) < n:
        m = c.receive(timeout=timeout)
        assert m is not None, f"only {len(got)} of {n} messages arrived"
        got.append(m)
    return got


def test_str_and_bytes_round_trip(broker, topic) -> None:
    with broker.clients(topic) as (c, p):
        for data in PAYLOADS:
            p.send_wait(data, timeout=5)
        before = int(time.time())
        got = receive_n(c, len(PAYLOADS))
        assert sorted(m.data for m in got) == sorted(as_bytes(d) for d in PAYLOADS)
        for m in got:
            assert m.text == m.data.decode("utf-8")
            assert re.fullmatch(r"[0-9a-f]{32}", m.code)
            assert m.topic == topic
            assert abs(m.create_time - before) <= 60
            assert (m.status, m.delay_time, m.consumed_time) == (-1, 0, 0)
            c.ack(m)
        assert c.receive(timeout=0.2) is None
        assert c.stats().acked == len(PAYLOADS)


def test_ten_thousand_messages_confirmed_and_received(broker, topic) -> None:
    n = 10_000
    sent = [f"message {i} ✓" for i in range(n)]
    with broker.clients(topic) as (c, p):
        for data in sent:
            p.send(data)
        p.flush(timeout=30)
        stats = p.stats()
        assert (stats.enqueued, stats.confirmed, stats.failed, stats.in_flight) == (n, n, 0, 0)
        got = receive_n(c, n)
        assert collections.Counter(m.text for m in got) == collections.Counter(sent)
        for m in got:
            c.ack(m.code)
        assert c.stats().acked == n
        assert c.stats().received == n


def test_iterating_a_consumer(broker, topic) -> None:
    with broker.clients(topic) as (c, p):
        for i in range(20):
            p.send(str(i))
        p.flush(timeout=10)
        seen = []
        for m in c:
            seen.append(m.text)
            c.ack(m)
            if len(seen) == 20:
                break
        assert sorted(seen, key=int) == [str(i) for i in range(20)]


def test_delay_reaches_the_server(start_broker, topic) -> None:
    broker = start_broker("--check-speed-ms", "200")
    with broker.clients(topic) as (c, p):
        p.send("later", delay=1)
        p.flush(timeout=5)
        m = c.receive(timeout=5)
        assert m is not None and m.text == "later" and m.delay_time == 1
