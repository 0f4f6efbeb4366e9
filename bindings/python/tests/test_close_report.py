"""Producer.close(timeout) returns what became of the messages."""

from __future__ import annotations

import pytest

import kapokmq


def test_a_close_that_flushed_everything_reports_it(broker, topic) -> None:
    p = kapokmq.Producer(producer_id="p", **broker.config(topic))
    p.send_many([f"m{i}" for i in range(100)])
    report = p.close(timeout=10)
    assert report == kapokmq.CloseReport(confirmed=100, failed=0, in_flight=0)
    assert p.close() == report, "closing again returns the first report"


def test_a_close_whose_flush_ran_out_reports_what_was_in_flight(start_broker, topic) -> None:
    broker = start_broker("--stall-acks")
    p = kapokmq.Producer(producer_id="p", **broker.config(topic))
    p.send_many([f"m{i}" for i in range(10)])
    with pytest.raises(kapokmq.TimeoutError) as caught:
        p.close(timeout=0.2)
    assert caught.value.report == kapokmq.CloseReport(confirmed=0, failed=0, in_flight=10)
    assert str(caught.value) == (
        "close: flush: 10 messages still unconfirmed after 200 ms; they failed when the producer closed"
    )
    assert p.stats().failed == 10, "the close failed what was in flight"


def test_an_aio_close_returns_the_report(broker, topic) -> None:
    import asyncio

    from kapokmq import aio

    async def main() -> None:
        p = await aio.Producer.connect(producer_id="p", **broker.config(topic))
        await asyncio.gather(*(p.send(f"m{i}") for i in range(20)))
        report = await p.close(timeout=10)
        assert report == kapokmq.CloseReport(confirmed=20, failed=0, in_flight=0)
        assert await p.close() == report

    asyncio.run(asyncio.wait_for(main(), 30))


def test_aio_flush_and_close_fail_in_the_librarys_words(start_broker, topic) -> None:
    import asyncio

    from kapokmq import aio

    broker = start_broker("--stall-acks")

    async def main() -> None:
        p = await aio.Producer.connect(producer_id="p", message_timeout_ms=60000, **broker.config(topic))
        sends = [asyncio.ensure_future(p.send(f"m{i}")) for i in range(3)]
        await asyncio.sleep(0)
        with pytest.raises(kapokmq.TimeoutError) as caught:
            await p.flush(timeout=0.2)
        assert str(caught.value) == "flush: 3 messages still unconfirmed after 200 ms"
        closing = asyncio.ensure_future(p.close(timeout=0.3))
        await asyncio.sleep(0)
        with pytest.raises(kapokmq.ClosedError):
            await p.send("after close began")
        with pytest.raises(kapokmq.TimeoutError) as caught:
            await closing
        assert str(caught.value).startswith("close: flush: 3 messages still unconfirmed after 300 ms"), caught.value
        assert caught.value.report == kapokmq.CloseReport(confirmed=0, failed=0, in_flight=3)
        for s in sends:
            with pytest.raises(kapokmq.ClosedError):
                await s

    asyncio.run(asyncio.wait_for(main(), 30))


def test_aio_flush_reports_how_many_failed(start_broker, topic) -> None:
    import asyncio

    from kapokmq import aio

    broker = start_broker("--stall-acks")

    async def main() -> None:
        async with aio.Producer(producer_id="p", message_timeout_ms=200, **broker.config(topic)) as p:
            send = asyncio.ensure_future(p.send("fails"))
            await asyncio.sleep(0)
            with pytest.raises(kapokmq.TimeoutError) as caught:
                await p.flush(timeout=5)
            assert str(caught.value).startswith(
                "flush: 1 message failed; the last because: message not confirmed within 200 ms"
            ), caught.value
            with pytest.raises(kapokmq.TimeoutError):
                await send
            await p.flush(timeout=0)  # nothing outstanding: at once

    asyncio.run(asyncio.wait_for(main(), 30))
