"""Delivery callbacks and counters: which asynchronous send failed."""

from __future__ import annotations

import threading
import time
from typing import List, Optional, Tuple

import pytest

import kapokmq

Outcome = Tuple[Optional[kapokmq.KapokMQError], int]


def test_confirmed_messages_report_none_on_the_flushing_thread(broker, topic) -> None:
    outcomes: List[Outcome] = []
    threads = set()

    def on_delivery(err: Optional[kapokmq.KapokMQError], ident: int) -> None:
        outcomes.append((err, ident))
        threads.add(threading.get_ident())

    with kapokmq.Producer(producer_id="p", **broker.config(topic)) as p:
        ids = [p.send(f"m{i}", on_delivery=on_delivery) for i in range(600)]
        assert p.send("untracked") is None
        p.flush(timeout=10)
        assert sorted(i for _, i in outcomes) == sorted(ids)
        assert len(set(ids)) == 600
        assert all(err is None for err, _ in outcomes)
        assert threads == {threading.get_ident()}
        assert p.poll(0) == 0


def test_failed_messages_report_their_error(start_broker, topic) -> None:
    broker = start_broker("--stall-acks")
    outcomes: List[Outcome] = []
    with kapokmq.Producer(producer_id="p", message_timeout_ms=300, **broker.config(topic)) as p:
        ids = {p.send(f"m{i}", on_delivery=lambda e, i: outcomes.append((e, i))) for i in range(5)}
        p.send("untracked, fails too")
        give_up = time.monotonic() + 5
        while len(outcomes) < 5 and time.monotonic() < give_up:
            p.poll(timeout=1.0)
        assert {i for _, i in outcomes} == ids
        for err, ident in outcomes:
            assert isinstance(err, kapokmq.TimeoutError)
            # The library's own words, with the limit that applied.
            assert str(ident) in str(err)
            assert "not confirmed within 300 ms (message_timeout_ms)" in str(err)
        stats = p.stats()
        assert (stats.enqueued, stats.failed, stats.confirmed, stats.in_flight) == (6, 6, 0, 0)


def test_flush_reports_failures_of_untracked_messages(start_broker, topic) -> None:
    broker = start_broker("--stall-acks")
    with kapokmq.Producer(producer_id="p", message_timeout_ms=200, **broker.config(topic)) as p:
        p.send("fails")
        with pytest.raises(kapokmq.TimeoutError) as caught:
            p.flush(timeout=5)
        # The library's words, after the name of the call that raised them.
        assert str(caught.value).startswith(
            "kmq_flush: flush: 1 message failed; the last because: message not confirmed within 200 ms"
        ), caught.value


def test_poll_waits_for_the_first_report(start_broker, topic) -> None:
    broker = start_broker("--ack-delay-ms", "300")
    outcomes: List[Outcome] = []
    with kapokmq.Producer(producer_id="p", **broker.config(topic)) as p:
        assert p.poll(0) == 0
        p.send("slow", on_delivery=lambda e, i: outcomes.append((e, i)))
        started = time.monotonic()
        assert p.poll(timeout=5) == 1
        assert 0.2 <= time.monotonic() - started < 3
        assert outcomes[0][0] is None


def test_a_failing_callback_propagates_and_the_rest_run_later(broker, topic) -> None:
    calls: List[int] = []

    def on_delivery(err: Optional[kapokmq.KapokMQError], ident: int) -> None:
        calls.append(ident)
        if len(calls) == 1:
            raise RuntimeError("callback failed")

    with kapokmq.Producer(producer_id="p", **broker.config(topic)) as p:
        ids = [p.send(f"m{i}", on_delivery=on_delivery) for i in range(3)]
        with pytest.raises(RuntimeError, match="callback failed"):
            p.flush(timeout=10)
        p.poll(0)
        assert sorted(calls) == sorted(ids)


def test_stats_account_for_every_message(broker, topic) -> None:
    with broker.clients(topic) as (c, p):
        for i in range(50):
            p.send(str(i))
        s = p.stats()
        assert s.enqueued == 50 and s.enqueued == s.confirmed + s.failed + s.in_flight
        p.flush(timeout=10)
        assert p.stats().confirmed == 50
        for _ in range(50):
            m = c.receive(timeout=5)
            assert m is not None
            c.ack(m)
        cs = c.stats()
        assert (cs.received, cs.acked) == (50, 50)
        assert cs.buffered == 0
