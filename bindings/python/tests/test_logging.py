"""The native library's log messages reach Python's logging."""

from __future__ import annotations

import logging
import time
from typing import Callable

import pytest

import kapokmq
from conftest import Broker


def test_a_lost_connection_is_logged_as_a_warning(
    start_broker: Callable[..., Broker], topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    broker = start_broker()
    caplog.set_level(logging.INFO, logger="kapokmq")
    with kapokmq.Producer(producer_id="p", **broker.config(topic)) as p:
        p.send_wait("before", timeout=5.0)
        broker.kill()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and not caplog.records:
            time.sleep(0.05)
        p.close(timeout=0)
    lost = [r for r in caplog.records if r.name == "kapokmq" and "lost" in r.getMessage()]
    assert lost, [r.getMessage() for r in caplog.records]
    assert lost[0].levelno == logging.WARNING
    assert str(broker.port) in lost[0].getMessage()


def test_set_log_level_rejects_nothing_and_takes_effect(
    start_broker: Callable[..., Broker], topic: str, caplog: pytest.LogCaptureFixture
) -> None:
    kapokmq.set_log_level(logging.ERROR)
    try:
        broker = start_broker()
        caplog.set_level(logging.DEBUG, logger="kapokmq")
        with kapokmq.Producer(producer_id="p", **broker.config(topic)) as p:
            p.send_wait("x", timeout=5.0)
            broker.kill()
            time.sleep(0.5)
            p.close(timeout=0)
        assert not [r for r in caplog.records if r.levelno < logging.ERROR]
    finally:
        kapokmq.set_log_level(logging.INFO)
