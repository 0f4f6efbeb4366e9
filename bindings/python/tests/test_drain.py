"""Consumer.drain: stop taking pushes, let the handlers finish, close; the
report accounts for every message."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

import kapokmq


def wait_buffered(c: kapokmq.Consumer, n: int) -> None:
    deadline = time.monotonic() + 10
    while c.stats().buffered < n:
        assert time.monotonic() < deadline, f"only {c.stats().buffered} of {n} buffered"
        time.sleep(0.01)


def test_a_drain_with_a_deadline_counts_every_message_once(broker, topic) -> None:
    with broker.clients(topic) as (c, p):
        p.send_many([f"m{i}" for i in range(500)])
        p.flush(timeout=10)
        wait_buffered(c, 500)
        errors: list = []

        def worker() -> None:
            try:
                for _ in range(200):
                    c.ack(c.receive(timeout=5))
                time.sleep(2.0)  # a handler that stalls past the deadline
                with pytest.raises(kapokmq.ClosedError):
                    c.receive(timeout=5)
            except BaseException as e:  # reported by the test thread
                errors.append(e)

        t = threading.Thread(target=worker)
        t.start()
        report = c.drain(timeout=1.0)
        t.join()
        assert not errors, errors
        # The worker handled 200 in all, some before the drain began.
        assert (report.unacked, report.unread) == (0, 300), report
        assert report.handed_out <= report.acked <= 200, report
        assert c.closed
        with pytest.raises(kapokmq.ClosedError):
            c.drain(timeout=0)


def test_a_drain_ends_when_a_for_loop_has_handled_everything(broker, topic) -> None:
    with broker.clients(topic) as (c, p):
        p.send_many([f"m{i}" for i in range(300)])
        p.flush(timeout=10)
        wait_buffered(c, 300)
        handled = []

        def loop() -> None:
            for m in c:  # ends when the drain closes the consumer
                handled.append(m.text)
                c.ack(m)

        t = threading.Thread(target=loop)
        t.start()
        started = time.monotonic()
        report = c.drain(timeout=30)
        t.join(timeout=10)
        assert time.monotonic() - started < 10
        assert handled == [f"m{i}" for i in range(300)]
        # The loop may have handled some before the drain began.
        assert (report.unacked, report.unread) == (0, 0), report
        assert report.handed_out <= report.acked <= 300, report


def test_an_aio_drain_lets_an_async_for_loop_finish(broker, topic) -> None:
    from kapokmq import aio

    async def main() -> None:
        cfg = broker.config(topic)
        async with aio.Consumer(consumer_id="c", **cfg) as c:
            with kapokmq.Producer(producer_id="p", **cfg) as p:
                p.send_many([f"m{i}" for i in range(200)])
                p.flush(timeout=10)
            deadline = time.monotonic() + 10
            while c.stats().buffered < 200:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.01)
            handled = []

            async def loop() -> None:
                async for m in c:
                    handled.append(m.text)
                    c.ack(m)

            task = asyncio.create_task(loop())
            report = await c.drain(timeout=30)
            await asyncio.wait_for(task, 10)
            assert handled == [f"m{i}" for i in range(200)]
            assert (report.unacked, report.unread) == (0, 0), report
            assert report.handed_out <= report.acked <= 200, report
            assert c.closed

    asyncio.run(asyncio.wait_for(main(), 60))
