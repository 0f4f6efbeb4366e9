"""The console (a node's HTTP API) against a real broker."""

from __future__ import annotations

import datetime
import re
import socket
import threading
import time
from typing import Any, Callable, Iterator, List, Optional, TypeVar

import pytest

import kapokmq
from conftest import Broker

T = TypeVar("T")

# Wide enough for any time zone the node may read the times in.
DAY = datetime.timedelta(days=1)


def console_of(broker: Broker, **extra: Any) -> kapokmq.Console:
    return kapokmq.Console(mq_addr=broker.host, mq_port=broker.port, **extra)


def listed(console: kapokmq.Console, topic: str, status: int = 3) -> List[str]:
    now = datetime.datetime.now()
    return [m["MessageCode"] for m in console.list_messages(now - DAY, now + DAY, status, topic)]


def eventually(probe: Callable[[], T], done: Callable[[T], bool], timeout: float = 5.0) -> T:
    """``probe()`` once ``done`` holds for it; the last value after ``timeout`` s."""
    give_up = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value) or time.monotonic() > give_up:
            return value
        time.sleep(0.05)


def test_a_sent_message_is_stored_counted_and_listed(broker: Broker, topic: str) -> None:
    with console_of(broker) as console:
        console.ping()
        codes = [console.send(topic, "héllo ✓"), console.send(topic, b"bytes \xe2\x9c\x93")]
        other = console.send(topic + "-other", "elsewhere")
        for code in codes + [other]:
            assert re.fullmatch(r"[0-9a-f]{32}", code)
        stored = console.get_message(codes[0])
        assert stored is not None
        assert (stored["MessageCode"], stored["Topic"]) == (codes[0], topic)
        assert (stored["MessageData"], stored["Status"]) == ("héllo ✓", -1)
        assert console.get_message(codes[1])["MessageData"] == "bytes ✓"  # type: ignore[index]
        assert console.count() == {"all": 3, "consumed": 0, "delay": 0, "unconsumed": 3}
        # Only the topic asked for, newest first (by CreateTime in whole
        # seconds: the node leaves the order within one second open).
        assert sorted(listed(console, topic)) == sorted(codes)
        times = [m["CreateTime"] for m in console.list_messages(
            datetime.datetime.now() - DAY, datetime.datetime.now() + DAY, 3, topic)]
        assert times == sorted(times, reverse=True)
        assert set(listed(console, "")) == set(codes) | {other}
        # The window excludes what was created outside it.
        long_ago = datetime.datetime(2001, 1, 1)
        assert console.list_messages(long_ago, long_ago + DAY, topic=topic) == []
        assert console.list_messages("2001-01-01 00:00:00", "2001-01-02 00:00:00") == []


def test_statuses_follow_delivery_and_delay(broker: Broker, topic: str) -> None:
    with console_of(broker) as console, kapokmq.Consumer(
        consumer_id="c", **broker.config(topic)
    ) as c:
        # The node lists a consumer a moment after its handshake, and pushes
        # only to listed ones: wait for it, as the node gives no other sign.
        eventually(console.clients, lambda cl: any(x["Topic"] == topic for x in cl["consumers"]))
        code = console.send(topic, "over http")
        delayed = console.send(topic, "in an hour", delay=3600)
        m = c.receive(timeout=5)
        assert m is not None and (m.code, m.text) == (code, "over http")
        c.ack(m)
        consumed = eventually(lambda: listed(console, topic, 1), lambda codes: bool(codes))
        assert consumed == [code]
        assert console.get_message(code)["Status"] == 1  # type: ignore[index]
        assert listed(console, topic, 0) == [delayed]
        assert console.get_message(delayed)["DelayTime"] == 3600  # type: ignore[index]
        assert listed(console, topic, -1) == []
        # "unconsumed" counts the waiting ones; the delayed one counts apart.
        assert console.count() == {"all": 2, "consumed": 1, "delay": 1, "unconsumed": 0}


def test_delete_message(broker: Broker, topic: str) -> None:
    with console_of(broker) as console:
        code = console.send(topic, "short-lived")
        console.delete_message(code)
        assert console.get_message(code) is None
        assert console.count()["all"] == 0
        console.delete_message(code)  # gone already: no error
        assert console.get_message("0" * 32) is None


def test_clients_lists_connected_clients(broker: Broker, topic: str) -> None:
    with console_of(broker) as console:
        assert console.clients() == {"consumers": [], "producers": []}
        with broker.clients(topic):
            clients = console.clients()
        (consumer,) = clients["consumers"]
        (producer,) = clients["producers"]
        assert (consumer["ConsumerId"], consumer["Topic"]) == ("c", topic)
        assert (producer["ProducerId"], producer["Topic"]) == ("p", topic)


def test_server_config_shows_the_node_settings(start_broker: Callable[..., Broker]) -> None:
    broker = start_broker("--push-count", "77", "--push-mode", "2")
    with console_of(broker) as console:
        config = console.server_config()
    assert (config["pushCount"], config["pushType"]) == (77, 2)


def test_nodes_of_a_cluster_member(start_broker: Callable[..., Broker]) -> None:
    registry = start_broker("--registry")
    node = start_broker("--join", f"{registry.host}:{registry.port}", "--heartbeat-ms", "100")
    standalone = start_broker()
    with console_of(standalone) as console:
        assert console.nodes() is None
    with console_of(node) as console:
        nodes: Optional[List[Any]] = eventually(console.nodes, bool)
    assert nodes is not None
    assert [(n["Addr"], n["Port"]) for n in nodes] == [(node.host, str(node.port))]


def test_a_wrong_key_is_auth_error(start_broker: Callable[..., Broker], topic: str) -> None:
    broker = start_broker("--secret-key", "right")
    with console_of(broker, secret_key="wrong") as console:
        for call in (console.ping, console.count, lambda: console.send(topic, "x")):
            with pytest.raises(kapokmq.AuthError, match="Secret key"):
                call()
    with console_of(broker, secret_key="right") as console:
        console.ping()


def test_an_unreachable_node_is_connect_error_naming_it() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with kapokmq.Console(mq_port=port) as console:
        with pytest.raises(kapokmq.ConnectError, match=f":{port}"):
            console.ping()


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (the kernel does) and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


def test_a_silent_node_fails_within_connect_timeout(silent_port: int) -> None:
    with kapokmq.Console(mq_port=silent_port, connect_timeout_ms=300) as console:
        started = time.monotonic()
        with pytest.raises(kapokmq.ConnectError):
            console.count()
        assert 0.25 <= time.monotonic() - started < 2.0


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda c: c.send("a/b", "x"), "topic"),
        (lambda c: c.send("t", ""), "empty"),
        (lambda c: c.send("t", b"\xff"), "UTF-8"),
        (lambda c: c.get_message("bad\0code"), "NUL"),
        (lambda c: c.delete_message(""), "code"),
        (lambda c: c.list_messages("2001-01-01 00:00:00", "2001-01-02 00:00:00", 2), "status 2"),
    ],
)
def test_bad_arguments_are_invalid_argument(broker: Broker, call: Any, match: str) -> None:
    with console_of(broker) as console:
        with pytest.raises(kapokmq.InvalidArgumentError, match=match):
            call(console)
        with pytest.raises(TypeError):
            console.list_messages(0, 1)  # type: ignore[arg-type]
        assert console.count()["all"] == 0


def test_a_bad_config_key_is_invalid_argument() -> None:
    with pytest.raises(kapokmq.InvalidArgumentError, match='"no_such_key"'):
        kapokmq.Console(no_such_key=1)


def test_a_closed_console_raises_closed_error(broker: Broker, topic: str) -> None:
    console = console_of(broker)
    with console:
        console.ping()
    assert console.closed
    console.close()  # twice: nothing happens
    for call in (
        console.ping,
        console.clients,
        console.server_config,
        console.count,
        console.nodes,
        lambda: console.send(topic, "x"),
        lambda: console.get_message("0" * 32),
        lambda: console.delete_message("0" * 32),
        lambda: console.list_messages("2001-01-01 00:00:00", "2001-01-02 00:00:00"),
    ):
        with pytest.raises(kapokmq.ClosedError):
            call()


def test_threads_share_a_console(broker: Broker, topic: str) -> None:
    codes: List[str] = []
    lock = threading.Lock()
    with console_of(broker) as console:

        def send(i: int) -> None:
            for j in range(25):
                code = console.send(topic, f"thread {i} message {j}")
                with lock:
                    codes.append(code)

        threads = [threading.Thread(target=send, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(set(codes)) == 100
        assert console.count()["all"] == 100


def test_close_frees_only_after_a_call_in_another_thread_returns(silent_port: int) -> None:
    console = kapokmq.Console(mq_port=silent_port, connect_timeout_ms=400)
    raised: List[BaseException] = []

    def ping() -> None:
        try:
            console.ping()
        except BaseException as e:
            raised.append(e)

    waiting = threading.Thread(target=ping)
    waiting.start()
    time.sleep(0.1)
    console.close()
    assert console.closed
    assert console._handle._ptr is not None, "freed under a running call"
    waiting.join(5)
    assert isinstance(raised[0], kapokmq.ConnectError)
    assert console._handle._ptr is None
