"""A producer with more than one connection per node (``connections``)."""

from __future__ import annotations

import pytest

import kapokmq


def test_each_connection_counts_its_share(broker, topic) -> None:
    with kapokmq.Producer(producer_id="p", connections=3, **broker.config(topic)) as p:
        links = p.connection_stats()
        assert len(links) == 3
        assert all(l.connected and l.node == f"{broker.host}:{broker.port}" for l in links)
        p.send_many([f"m{i}" for i in range(3000)])
        p.flush(timeout=20)
        links = p.connection_stats()
        assert sum(l.confirmed for l in links) == p.stats().confirmed == 3000
        assert sum(l.written for l in links) == 3000
        assert all(l.in_flight == 0 for l in links)
    with pytest.raises(kapokmq.ClosedError):
        p.connection_stats()


def test_the_number_of_connections_is_checked(broker, topic) -> None:
    with pytest.raises(kapokmq.InvalidArgumentError, match="connections"):
        kapokmq.Producer(producer_id="p", connections=65, **broker.config(topic))

