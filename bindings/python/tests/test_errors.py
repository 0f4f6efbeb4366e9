"""Each exception class, raised by the situation it names, against a real broker."""

from __future__ import annotations

import builtins
import threading
import time

import pytest

import kapokmq


def test_wrong_key_is_auth_error(start_broker, topic) -> None:
    broker = start_broker("--secret-key", "right")
    with pytest.raises(kapokmq.AuthError):
        kapokmq.Producer(producer_id="p", secret_key="wrong", **broker.config(topic))
    with pytest.raises(kapokmq.AuthError):
        kapokmq.Consumer(consumer_id="c", secret_key="wrong", **broker.config(topic))
    with kapokmq.Producer(producer_id="p", secret_key="right", **broker.config(topic)) as p:
        p.send_wait("the right key works", timeout=5)


def test_receive_timeout_returns_none(broker, topic) -> None:
    with kapokmq.Consumer(consumer_id="c", **broker.config(topic)) as c:
        assert c.receive(timeout=0) is None
        started = time.monotonic()
        assert c.receive(timeout=0.5) is None
        elapsed = time.monotonic() - started
        assert 0.45 <= elapsed < 2.0


def test_send_wait_timeout_against_stalled_acks(start_broker, topic) -> None:
    broker = start_broker("--stall-acks")
    with kapokmq.Producer(producer_id="p", **broker.config(topic)) as p:
        started = time.monotonic()
        with pytest.raises(kapokmq.TimeoutError) as info:
            p.send_wait("never confirmed", timeout=0.3)
        assert 0.25 <= time.monotonic() - started < 2.0
        assert isinstance(info.value, builtins.TimeoutError)
        assert info.value.code == "KMQ_ERR_TIMEOUT"
        with pytest.raises(kapokmq.TimeoutError, match="flush"):
            p.flush(timeout=0.2)
        with pytest.raises(kapokmq.TimeoutError, match="close"):
            p.close(timeout=0)


def test_calls_on_a_closed_handle_are_closed_error(broker, topic) -> None:
    c = kapokmq.Consumer(consumer_id="c", **broker.config(topic))
    p = kapokmq.Producer(producer_id="p", **broker.config(topic))
    p.close()
    c.close()
    for call in (
        lambda: p.send("x"),
        lambda: p.send("x", on_delivery=lambda e, i: None),
        lambda: p.send_wait("x", timeout=1),
        lambda: p.flush(timeout=1),
        lambda: p.poll(0),
        lambda: c.receive(timeout=0),
        lambda: c.ack("0" * 32),
    ):
        with pytest.raises(kapokmq.ClosedError):
            call()
    assert list(c) == []


def test_close_from_another_thread_wakes_a_blocked_receive(broker, topic) -> None:
    c = kapokmq.Consumer(consumer_id="c", **broker.config(topic))
    timer = threading.Timer(0.3, c.close)
    timer.start()
    started = time.monotonic()
    with pytest.raises(kapokmq.ClosedError):
        c.receive(timeout=None)
    assert time.monotonic() - started < 1.5
    timer.join()


@pytest.mark.parametrize(
    "data, match",
    [(b"\xff\xfe", "UTF-8"), (b"ok then \xc3", "UTF-8"), ("", "empty"), (b"", "empty")],
)
def test_bad_data_is_invalid_argument(broker, topic, data, match) -> None:
    with kapokmq.Producer(producer_id="p", **broker.config(topic)) as p:
        for send in (p.send, p.send_wait, lambda d: p.send(d, on_delivery=lambda e, i: None)):
            with pytest.raises(kapokmq.InvalidArgumentError, match=match):
                send(data)
        with pytest.raises(TypeError):
            p.send(12345)  # type: ignore[arg-type]
        assert p.stats().enqueued == 0


def test_queue_full_with_queue_max_one(start_broker, topic) -> None:
    broker = start_broker("--stall-acks")
    with kapokmq.Producer(producer_id="p", queue_max=1, **broker.config(topic)) as p:
        p.send("held until confirmed, which never happens")
        with pytest.raises(kapokmq.QueueFullError, match="queue_max"):
            p.send("one too many")
        assert p.stats().in_flight == 1
        with pytest.raises(kapokmq.TimeoutError):
            p.close(timeout=0)
