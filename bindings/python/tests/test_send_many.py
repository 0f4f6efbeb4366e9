"""Producer.send_many and aio.Producer.send_many: a batch in one call into
the library; a refusal keeps the messages before it and says how many."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Coroutine, List, Optional, Tuple

import pytest

import kapokmq
from kapokmq import aio


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 60))


def receive_texts(c: kapokmq.Consumer, n: int, quiet: float = 0.0) -> List[str]:
    """``n`` messages' texts, acked; then checks nothing more comes within ``quiet`` s."""
    got = []
    for _ in range(n):
        m = c.receive(timeout=10)
        assert m is not None, f"only {len(got)} of {n} messages came"
        got.append(m.text)
        c.ack(m)
    if quiet:
        extra = c.receive(timeout=quiet)
        assert extra is None, f"unexpected message {extra.text!r}"
    return got


def test_a_thousand_in_order(broker, topic) -> None:
    texts = [f"batch {i:04d} \u00e9\u20ac\U0001f600" for i in range(1000)]
    with broker.clients(topic) as (c, p):
        assert p.send_many(texts) is None
        p.flush(timeout=10)
        stats = p.stats()
        assert (stats.enqueued, stats.confirmed, stats.failed) == (1000, 1000, 0)
        assert receive_texts(c, 1000) == texts


def test_str_bytes_iterables_and_empty_batches(broker, topic) -> None:
    with broker.clients(topic) as (c, p):
        p.send_many(["text", b"bytes", bytearray(b"array"), memoryview(b"view"), "nul\0inside"])
        p.send_many(f"gen {i}" for i in range(3))
        p.send_many([])
        p.send_many((), delay=0)
        p.flush(timeout=5)
        assert receive_texts(c, 8, quiet=0.3) == [
            "text", "bytes", "array", "view", "nul\0inside", "gen 0", "gen 1", "gen 2"
        ]


def test_wrong_types_send_nothing(broker, topic) -> None:
    with kapokmq.Producer(producer_id="p", **broker.config(topic)) as p:
        with pytest.raises(TypeError, match=r"messages\[1\]"):
            p.send_many(["fine", 42, "never"])
        with pytest.raises(TypeError, match="not one message"):
            p.send_many("one string")
        with pytest.raises(kapokmq.InvalidArgumentError, match=r"messages\[1\]") as info:
            p.send_many(["fine", "lone surrogate \udc80"])
        assert info.value.accepted == 0
        assert p.stats().enqueued == 0


def test_a_bad_message_stops_the_batch_at_its_index(broker, topic) -> None:
    with broker.clients(topic) as (c, p):
        batch = [b"m0", b"m1", b"m2", b"\xff not UTF-8", b"m4"]
        with pytest.raises(kapokmq.InvalidArgumentError, match=r"msgs\[3\].*UTF-8") as info:
            p.send_many(batch)
        assert info.value.accepted == 3
        assert "3 of 5 messages enqueued" in str(info.value)
        with pytest.raises(kapokmq.InvalidArgumentError, match=r"msgs\[1\].*empty") as info:
            p.send_many(["e0", "", "e2"])
        assert info.value.accepted == 1
        p.flush(timeout=5)
        assert receive_texts(c, 4, quiet=0.3) == ["m0", "m1", "m2", "e0"]


def test_queue_full_part_way(start_broker, topic) -> None:
    broker = start_broker("--stall-acks")
    p = kapokmq.Producer(producer_id="p", queue_max=10, **broker.config(topic))
    try:
        p.send_many(["held"] * 4)
        with pytest.raises(kapokmq.QueueFullError, match="queue_max") as info:
            p.send_many([f"m{i}" for i in range(25)])
        assert info.value.accepted == 6
        assert info.value.code == "KMQ_ERR_QUEUE_FULL"
        assert p.stats().enqueued == 10
    finally:
        with pytest.raises(kapokmq.TimeoutError):
            p.close(timeout=0)  # the ten held fail


def test_tracked_batches_report_consecutive_ids(broker, topic) -> None:
    outcomes: List[Tuple[Optional[kapokmq.KapokMQError], int]] = []
    with kapokmq.Producer(producer_id="p", **broker.config(topic)) as p:
        single = p.send("single", on_delivery=lambda e, i: outcomes.append((e, i)))
        first = p.send_many(
            [f"t{i}" for i in range(300)], on_delivery=lambda e, i: outcomes.append((e, i))
        )
        assert first is not None and single is not None and first > single
        p.flush(timeout=10)
        assert sorted(i for _, i in outcomes) == [single, *range(first, first + 300)]
        assert all(e is None for e, _ in outcomes)
        with pytest.raises(kapokmq.InvalidArgumentError) as info:
            p.send_many(["a", "b", ""], on_delivery=lambda e, i: outcomes.append((e, i)))
        assert info.value.accepted == 2
        p.flush(timeout=10)
        assert len(outcomes) == 303


def test_a_closed_producer_enqueues_none(broker, topic) -> None:
    p = kapokmq.Producer(producer_id="p", **broker.config(topic))
    p.close()
    with pytest.raises(kapokmq.ClosedError) as info:
        p.send_many(["x"])
    assert info.value.accepted == 0


def test_cluster_producer_sends_batches(start_broker, topic) -> None:
    reg = start_broker("--registry")
    start_broker("--join", f"127.0.0.1:{reg.port}")
    cfg = {"registry_addr": reg.host, "registry_port": reg.port, "topic": topic, "mq_port": 1}
    with kapokmq.ClusterConsumer(consumer_id="c", **cfg) as c:
        with kapokmq.ClusterProducer(producer_id="p", **cfg) as p:
            p.send_many([f"cluster {i}" for i in range(50)])
            p.flush(timeout=10)
            assert p.stats().confirmed == 50
        got = set()
        for m in c:
            got.add(m.text)
            c.ack(m)
            if len(got) == 50:
                break
        assert got == {f"cluster {i}" for i in range(50)}


def test_aio_send_many_resolves_once_all_are_confirmed(broker, topic) -> None:
    async def main() -> None:
        cfg = broker.config(topic)
        async with aio.Consumer(consumer_id="c", **cfg) as c, aio.Producer(producer_id="p", **cfg) as p:
            await p.send_many([f"m{i}" for i in range(1000)])
            assert p.stats().confirmed == 1000
            await p.send_many([])
            got = []
            async for m in c:
                got.append(m.text)
                c.ack(m)
                if len(got) == 1000:
                    break
            assert got == [f"m{i}" for i in range(1000)]

    run(main())


def test_aio_send_many_raises_the_first_failure_once_all_settled(start_broker, topic) -> None:
    broker = start_broker("--stall-acks")

    async def main() -> None:
        async with aio.Producer(producer_id="p", message_timeout_ms=300, **broker.config(topic)) as p:
            t0 = time.monotonic()
            with pytest.raises(kapokmq.TimeoutError, match=r"5 of 5 messages failed; the first, messages\[0\]") as info:
                await p.send_many([f"m{i}" for i in range(5)])
            assert info.value.accepted == 5
            assert time.monotonic() - t0 >= 0.25
            stats = p.stats()
            assert (stats.failed, stats.in_flight) == (5, 0)

    run(main())


def test_aio_send_many_refused_part_way(start_broker, topic) -> None:
    broker = start_broker("--stall-acks")

    async def main() -> None:
        cfg = broker.config(topic)
        async with aio.Producer(producer_id="p", queue_max=10, message_timeout_ms=300, **cfg) as p:
            with pytest.raises(kapokmq.QueueFullError) as info:
                await p.send_many([f"m{i}" for i in range(25)])
            assert info.value.accepted == 10
            # Raised once the ten enqueued were settled (here: failed).
            assert p.stats().in_flight == 0
            with pytest.raises(kapokmq.InvalidArgumentError) as info:
                await p.send_many(["", "x"])
            assert info.value.accepted == 0

    run(main())
