"""kapokmq.aio: asyncio clients that wait on the library's readiness
descriptors."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Callable, Coroutine, Dict, List

import pytest

import kapokmq
from kapokmq import aio

def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def test_a_client_used_before_connecting_is_an_error() -> None:
    async def main() -> None:
        p = aio.Producer(topic="t", producer_id="p")
        with pytest.raises(kapokmq.ClosedError, match="not connected"):
            await p.send("x")

    run(main())


def test_round_trip_of_1000_concurrent_sends(broker: Any, topic: str) -> None:
    async def main() -> None:
        cfg = broker.config(topic)
        async with aio.Consumer(consumer_id="c1", **cfg) as c, aio.Producer(producer_id="p1", **cfg) as p:
            threads = threading.active_count()
            await asyncio.gather(*(p.send(f"m{i}") for i in range(1000)))
            await p.flush(timeout=10.0)
            # Waiting sends hold no thread each.
            assert threading.active_count() <= threads
            assert p.stats().confirmed == 1000
            seen = set()
            async for m in c:
                seen.add(m.text)
                c.ack(m)
                if len(seen) == 1000:
                    break
            assert seen == {f"m{i}" for i in range(1000)}
        assert c.closed and p.closed
        assert c.stats().received >= 1000

    run(main())


def test_a_waiting_receive_leaves_the_event_loop_free(broker: Any, topic: str) -> None:
    async def main() -> None:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        c = await aio.Consumer.connect(consumer_id="c1", **broker.config(topic))
        t = asyncio.get_running_loop().create_task(ticker())
        t0 = time.monotonic()
        assert await c.receive(timeout=0.5) is None
        took = time.monotonic() - t0
        t.cancel()
        assert 0.45 <= took < 3, took
        # 50 if the loop never waited; a blocked loop gives 0 or 1.
        assert ticks >= 25, ticks
        await c.close()

    run(main())


def test_close_wakes_a_waiting_receive_and_ends_async_for(broker: Any, topic: str) -> None:
    async def main() -> None:
        c = await aio.Consumer.connect(consumer_id="c1", **broker.config(topic))
        waiting = asyncio.ensure_future(c.receive())

        async def drain() -> List[Any]:
            return [m async for m in c]

        looping = asyncio.ensure_future(drain())
        await asyncio.sleep(0.2)
        await c.close()
        with pytest.raises(kapokmq.ClosedError):
            await waiting
        assert await looping == []
        with pytest.raises(kapokmq.ClosedError):
            await c.receive(timeout=0)

    run(main())


def test_close_flushes_sends_nobody_awaited(broker: Any, topic: str) -> None:
    async def main() -> None:
        p = await aio.Producer.connect(producer_id="p1", **broker.config(topic))
        tasks = [asyncio.ensure_future(p.send(f"u{i}")) for i in range(500)]
        await asyncio.sleep(0)  # every task has enqueued its message
        await p.close()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        assert [o for o in outcomes if o is not None] == []
        assert p.stats().confirmed == 500
        with pytest.raises(kapokmq.ClosedError):
            await p.send("late")

    run(main())


def test_unconfirmed_sends_fail_on_close_and_close_names_the_flush(start_broker: Callable[..., Any], topic: str) -> None:
    stalled = start_broker("--stall-acks")

    async def main() -> None:
        p = await aio.Producer.connect(producer_id="p1", **stalled.config(topic))
        send = asyncio.ensure_future(p.send("never confirmed"))
        await asyncio.sleep(0)  # the task has enqueued its message
        with pytest.raises(kapokmq.TimeoutError, match="1 message"):
            await p.flush(timeout=0.2)
        t0 = time.monotonic()
        with pytest.raises(kapokmq.TimeoutError, match="failed when the producer closed"):
            await p.close(timeout=0.3)
        assert time.monotonic() - t0 >= 0.25
        with pytest.raises(kapokmq.ClosedError):
            await send
        assert p.stats().failed == 1

    run(main())


def test_a_full_queue_raises_at_once(start_broker: Callable[..., Any], topic: str) -> None:
    stalled = start_broker("--stall-acks")

    async def main() -> None:
        cfg: Dict[str, Any] = dict(producer_id="p1", queue_max=1, **stalled.config(topic))
        p = await aio.Producer.connect(**cfg)
        first = asyncio.ensure_future(p.send("fills the queue"))
        await asyncio.sleep(0)
        with pytest.raises(kapokmq.QueueFullError):
            await p.send("one too many")
        with pytest.raises(kapokmq.TimeoutError):
            await p.close(timeout=0)
        with pytest.raises(kapokmq.ClosedError):
            await first

    run(main())
