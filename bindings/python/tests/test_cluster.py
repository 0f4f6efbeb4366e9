"""Cluster clients, with a registry (kmq-broker --registry, or Serena under
tests/real) and a node that joined it."""

from __future__ import annotations

import pytest

import kapokmq


def registry_of(broker, topic):
    return {
        "registry_addr": broker.host,
        "registry_port": broker.port,
        "topic": topic,
        # Never the node: the cluster clients must learn it from the registry.
        "mq_port": 1,
    }


@pytest.fixture
def registry(start_broker):
    """A registry with one node listed in it."""
    reg = start_broker("--registry")
    start_broker("--join", f"127.0.0.1:{reg.port}")
    return reg


def test_cluster_round_trip(registry, topic) -> None:
    with kapokmq.ClusterConsumer(consumer_id="c", **registry_of(registry, topic)) as c:
        with kapokmq.ClusterProducer(producer_id="p", **registry_of(registry, topic)) as p:
            assert isinstance(p, kapokmq.Producer) and isinstance(c, kapokmq.Consumer)
            for i in range(10):
                p.send(f"cluster {i} ✓")
            p.flush(timeout=10)
            assert p.stats().confirmed == 10
        got = set()
        for m in c:
            got.add(m.text)
            c.ack(m)
            if len(got) == 10:
                break
        assert got == {f"cluster {i} ✓" for i in range(10)}


def test_registry_rejecting_the_key_is_auth_error(start_broker, topic) -> None:
    broker = start_broker("--registry", "--secret-key", "right")
    with pytest.raises(kapokmq.AuthError):
        kapokmq.ClusterProducer(producer_id="p", secret_key="wrong", **registry_of(broker, topic))
    with pytest.raises(kapokmq.AuthError):
        kapokmq.ClusterConsumer(consumer_id="c", secret_key="wrong", **registry_of(broker, topic))


def test_cluster_producer_needs_a_registry(topic) -> None:
    with pytest.raises(kapokmq.InvalidArgumentError, match="registry_addr"):
        kapokmq.ClusterProducer(producer_id="p", topic=topic)
