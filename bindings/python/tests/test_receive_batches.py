"""A consumer's receive takes buffered messages from the library in batches
and hands them out one by one, in order."""

from __future__ import annotations

import time

import pytest

import kapokmq


def test_a_for_loop_takes_buffered_messages_in_batches_and_stops_at_close(broker, topic) -> None:
    with broker.clients(topic) as (c, p):
        p.send_many([f"m{i}" for i in range(500)])
        p.flush(timeout=10)
        deadline = time.monotonic() + 10
        while c.stats().buffered < 500 and time.monotonic() < deadline:
            time.sleep(0.01)
        got = []
        for m in c:
            got.append(m.text)
            c.ack(m)
            if len(got) == 100:
                break
        assert got == [f"m{i}" for i in range(100)]
        # Taken from the library in batches: fewer left there than handed out.
        assert c.stats().buffered < 400
        c.close()
        with pytest.raises(kapokmq.ClosedError):
            c.receive(timeout=0)
        assert list(c) == []
