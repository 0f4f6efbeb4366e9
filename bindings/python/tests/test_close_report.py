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
