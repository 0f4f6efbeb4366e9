"""Metrics a dashboard scrapes and events it alerts on: ``stats_json()``,
``kapokmq.prometheus_text()`` read by the official Prometheus parser, and
``on_event``."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Dict, List, Tuple

import pytest
from prometheus_client.parser import text_string_to_metric_families

import kapokmq
from kapokmq import aio

N = 100


def _samples(page: str) -> Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]:
    """Every sample of the page, by name and sorted labels, as the official
    parser reads it (it raises on anything malformed)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(page)
        for s in family.samples
    }


def _key(name: str, **labels: str) -> Tuple[str, Tuple[Tuple[str, str], ...]]:
    return name, tuple(sorted(labels.items()))


def _wait_for(check, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def test_stats_and_a_prometheus_page_of_a_running_producer_and_consumer(broker, topic) -> None:
    with broker.clients(topic) as (c, p):
        for i in range(N):
            p.send_wait(f"m{i}", timeout=5)
        received = [c.receive(timeout=5) for _ in range(N)]
        for m in received[:60]:
            c.ack(m)

        s = p.stats_json()
        assert (s["role"], s["topic"], s["client_id"], s["client"]) == ("producer", topic, "p", p.serial)
        assert (s["enqueued"], s["confirmed"], s["failed"], s["in_flight"]) == (N, N, 0, 0)
        latency = s["confirm_latency_us"]
        assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"] < 5_000_000
        assert latency["count"] >= 1 and latency["window_s"] == 60
        (link,) = s["connections"]
        assert link["node"] == f"{broker.host}:{broker.port}"
        assert link["state"] == "connected" and link["last_error"] is None
        assert link["connected_since_ms"] <= s["time_ms"]
        assert link["confirmed"] == N and link["bytes_out"] > N * 6 and link["bytes_in"] >= N * 4

        assert _wait_for(lambda: c.stats_json()["acks_written"] == 60), c.stats_json()
        d = c.stats_json()
        assert (d["received"], d["acked"], d["unacked"], d["buffered"]) == (N, 60, 40, 0)
        assert d["buffer_capacity"] == 10_000 and d["connections"][0]["received"] == N

        page = kapokmq.prometheus_text()
        samples = _samples(page)
        assert samples[_key("kapokmq_producer_confirmed_total", topic=topic, client_id="p")] == N
        assert samples[_key("kapokmq_producer_in_flight", topic=topic, client_id="p")] == 0
        p99 = samples[_key("kapokmq_producer_confirm_latency_seconds", topic=topic, client_id="p", quantile="0.99")]
        assert p99 == pytest.approx(latency["p99"] / 1e6, rel=0.5)
        assert samples[_key("kapokmq_producer_confirm_latency_seconds_count", topic=topic, client_id="p")] >= 1
        assert samples[_key("kapokmq_consumer_unacked", topic=topic, client_id="c")] == 40
        assert samples[_key("kapokmq_consumer_received_total", topic=topic, client_id="c")] == N
        up = _key("kapokmq_producer_connection_up", topic=topic, client_id="p", node=link["node"], connection="0")
        assert samples[up] == 1

        # Only the clients asked for.
        only = _samples(kapokmq.prometheus_text([p]))
        assert not any(name.startswith("kapokmq_consumer_") for name, _ in only)

    # Closed clients leave the default page; their last figures stay.
    assert f'topic="{topic}"' not in kapokmq.prometheus_text()
    assert p.stats_json()["closed"] is True and p.stats_json()["confirmed"] == N
    with pytest.raises(TypeError):
        kapokmq.prometheus_text(["not a client"])


def test_events_tell_a_restart_as_it_happened(broker, topic) -> None:
    seen: List[kapokmq.Event] = []
    threads: List[int] = []

    def on_event(e: kapokmq.Event) -> None:
        threads.append(threading.get_ident())
        seen.append(e)

    with kapokmq.Producer(producer_id="p", reconnect_max_ms=200, on_event=on_event, **broker.config(topic)) as p:
        with kapokmq.Producer(producer_id="other", **broker.config(topic)):
            assert _wait_for(lambda: [e.type for e in seen] == ["connected"]), seen
            broker.restart()
            p.send_wait("after the restart", timeout=10)
            kinds = lambda: [e.type for e in seen]  # noqa: E731
            assert _wait_for(lambda: kinds()[-1:] == ["connected"] and len(kinds()) >= 4), kinds()
            types = kinds()
    assert types[:2] == ["connected", "disconnected"] and "reconnecting" in types, types
    assert types.index("reconnecting") < len(types) - 1 and types[-1] == "connected"
    lost = seen[1]
    assert lost.reason and lost.node == f"{broker.host}:{broker.port}"
    assert (lost.role, lost.topic, lost.client_id, lost.client) == ("producer", topic, "p", p.serial)
    retry = next(e for e in seen if e.type == "reconnecting")
    assert retry.attempt >= 1 and 0 <= retry.delay_ms <= 200
    assert all(e.client == p.serial for e in seen), "another client's events never reach on_event"
    # Those that came before the constructor returned are handed over by
    # it; the rest come on the library's log thread.
    assert threading.get_ident() not in threads[1:], "events come on the library's thread"


def test_aio_clients_hand_events_to_the_loop_and_read_stats(broker, topic) -> None:
    async def main() -> Tuple[List[str], int, bool]:
        loop_thread = threading.get_ident()
        on_loop: List[bool] = []
        seen: List[str] = []

        def on_event(e: kapokmq.Event) -> None:
            on_loop.append(threading.get_ident() == loop_thread)
            seen.append(e.type)

        async with aio.Producer(producer_id="p", on_event=on_event, **broker.config(topic)) as p:
            await p.send("x")
            for _ in range(100):
                if seen:
                    break
                await asyncio.sleep(0.02)
            confirmed = p.stats_json()["confirmed"]
        return seen, confirmed, all(on_loop)

    seen, confirmed, on_loop = asyncio.run(main())
    assert seen[:1] == ["connected"] and confirmed == 1 and on_loop
