"""Threads, blocking calls, Ctrl-C and handle lifetimes."""

from __future__ import annotations

import collections
import gc
import queue
import signal
import threading
import time
from typing import Callable, List, Optional

import pytest

import kapokmq


def run_threads(n: int, target: Callable[[int], None]) -> None:
    """Runs ``target(i)`` on ``n`` threads and re-raises the first failure."""
    errors: List[BaseException] = []

    def guarded(i: int) -> None:
        try:
            target(i)
        except BaseException as e:  # reported below, on the test's thread
            errors.append(e)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]


def test_four_threads_share_a_producer_and_a_consumer(broker, topic) -> None:
    per_thread = 500
    received: List[kapokmq.Message] = []
    lock = threading.Lock()
    with broker.clients(topic) as (c, p):

        def produce(i: int) -> None:
            for j in range(per_thread):
                data = f"thread {i} message {j}"
                if j % 50 == 0:
                    p.send_wait(data, timeout=10)
                else:
                    p.send(data)
            p.flush(timeout=20)

        give_up = time.monotonic() + 30

        def consume(i: int) -> None:
            while time.monotonic() < give_up:
                with lock:
                    if len(received) >= 4 * per_thread:
                        return
                m = c.receive(timeout=0.5)
                if m is not None:
                    c.ack(m)
                    with lock:
                        received.append(m)

        run_threads(8, lambda i: produce(i) if i < 4 else consume(i - 4))
        expected = {f"thread {i} message {j}" for i in range(4) for j in range(per_thread)}
        assert collections.Counter(m.text for m in received) == collections.Counter(expected)
        assert p.stats().confirmed == 4 * per_thread


def test_iterating_while_another_thread_acks(broker, topic) -> None:
    n = 300
    to_ack: "queue.Queue[kapokmq.Message]" = queue.Queue()
    with broker.clients(topic) as (c, p):

        def acker() -> None:
            for _ in range(n):
                c.ack(to_ack.get(timeout=10))

        worker = threading.Thread(target=acker)
        worker.start()
        for i in range(n):
            p.send(f"m{i}")
        seen = set()
        for m in c:
            seen.add(m.text)
            to_ack.put(m)
            if len(seen) == n:
                break
        worker.join(10)
        assert not worker.is_alive()
        assert c.stats().acked == n


def test_closing_ends_an_iteration_in_another_thread(broker, topic) -> None:
    c = kapokmq.Consumer(consumer_id="c", **broker.config(topic))
    result: List[List[kapokmq.Message]] = []
    t = threading.Thread(target=lambda: result.append(list(c)))
    t.start()
    time.sleep(0.3)
    c.close()
    t.join(2)
    assert not t.is_alive() and result == [[]]


def test_gil_is_released_during_a_blocking_receive(broker, topic) -> None:
    ticks = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.005)

    with kapokmq.Consumer(consumer_id="c", **broker.config(topic)) as c:
        t = threading.Thread(target=ticker)
        t.start()
        try:
            assert c.receive(timeout=1.0) is None
        finally:
            stop.set()
            t.join()
    # Holding the GIL through each 200 ms receive slice would allow about
    # five ticks; released, the ticker runs freely.
    assert len(ticks) >= 40
    assert max(b - a for a, b in zip(ticks, ticks[1:])) < 0.15


def interrupt_main_after(delay: float) -> threading.Timer:
    """Delivers a real SIGINT to the main thread (where pytest runs tests)."""
    main = threading.main_thread().ident
    assert main is not None and threading.current_thread() is threading.main_thread()
    timer = threading.Timer(delay, lambda: signal.pthread_kill(main, signal.SIGINT))
    timer.start()
    return timer


def assert_interrupted_within_a_second(
    wait: Callable[[], object], rescue: Callable[[], None]
) -> None:
    """``wait()`` must end with KeyboardInterrupt soon after a SIGINT.

    Should it not, ``rescue`` (a close, which wakes the wait) runs after 3 s so
    that the test fails instead of hanging."""
    # Python raises KeyboardInterrupt only under its default handler: a test
    # process may start with SIGINT ignored (`make test &`, nohup, some CI
    # runners), so the handler is installed here and put back afterwards.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = interrupt_main_after(0.3)
    backstop = threading.Timer(3.0, rescue)
    backstop.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            wait()
        assert time.monotonic() - started < 1.3
    finally:
        backstop.cancel()
        timer.join()
        signal.signal(signal.SIGINT, previous)


def test_ctrl_c_interrupts_a_receive_without_limit(broker, topic) -> None:
    with kapokmq.Consumer(consumer_id="c", **broker.config(topic)) as c:
        assert_interrupted_within_a_second(lambda: c.receive(timeout=None), c.close)
        assert c.receive(timeout=0) is None  # still usable


@pytest.mark.parametrize("call", ["send_wait", "flush", "poll"])
def test_ctrl_c_interrupts_a_producer_wait_without_limit(start_broker, topic, call) -> None:
    broker = start_broker("--stall-acks")
    p = kapokmq.Producer(producer_id="p", **broker.config(topic))
    p.send("never confirmed", on_delivery=lambda e, i: None)
    wait = {
        "send_wait": lambda: p.send_wait("never confirmed", timeout=None),
        "flush": lambda: p.flush(timeout=None),
        "poll": lambda: p.poll(timeout=None),
    }[call]
    assert_interrupted_within_a_second(wait, lambda: p.close(timeout=0))
    # Closing also ends the call the interrupt left running on a helper thread.
    with pytest.raises(kapokmq.TimeoutError):
        p.close(timeout=0)
    for helper in [t for t in threading.enumerate() if t.name == "kapokmq-wait"]:
        helper.join(2)
        assert not helper.is_alive()


class CallCounter:
    """Stands in for the library object a module calls, counting the calls
    of one function and passing every call through."""

    def __init__(self, lib: object, name: str, replace: Optional[Callable[..., int]] = None) -> None:
        self._lib = lib
        self._name = name
        self._replace = replace
        self.calls = 0

    def __getattr__(self, attr: str) -> object:
        fn = getattr(self._lib, attr)
        if attr != self._name:
            return fn

        def counted(*args: object) -> object:
            self.calls += 1
            return (self._replace or fn)(*args)

        return counted


def assert_a_send_ends_the_wait(c: kapokmq.Consumer, p: kapokmq.Producer) -> None:
    """A message sent during a waiting receive ends the wait at once."""
    threading.Timer(0.3, lambda: p.send("wake")).start()
    started = time.monotonic()
    m = c.receive(timeout=5.0)
    assert m is not None and m.text == "wake"
    assert time.monotonic() - started < 0.3 + 0.15
    c.ack(m)


def test_a_waiting_receive_on_the_main_thread_sleeps_on_the_descriptor(
    broker, topic, monkeypatch
) -> None:
    from kapokmq import consumer as consumer_module

    counter = CallCounter(consumer_module.lib, "kmq_receive")
    monkeypatch.setattr(consumer_module, "lib", counter)
    with broker.clients(topic) as (c, p):
        cpu = time.process_time()
        started = time.monotonic()
        assert c.receive(timeout=1.0) is None
        waited, cpu = time.monotonic() - started, time.process_time() - cpu
        print(f"idle 1 s receive: {counter.calls} library calls, {cpu * 1000:.1f} ms of process CPU")
        assert waited >= 1.0
        # One call before the wait and one when the time is up; short slices
        # would make one call per 200 ms.
        assert counter.calls <= 3
        assert_a_send_ends_the_wait(c, p)


def test_a_waiting_poll_on_the_main_thread_sleeps_on_the_descriptor(start_broker, topic, monkeypatch) -> None:
    from kapokmq import producer as producer_module

    counter = CallCounter(producer_module.lib, "kmq_poll_reports")
    monkeypatch.setattr(producer_module, "lib", counter)
    broker = start_broker("--ack-delay-ms", "1000")
    with kapokmq.Producer(producer_id="p", **broker.config(topic)) as p:
        outcome: List[object] = []
        p.send("late", on_delivery=lambda err, ident: outcome.append(err))
        started = time.monotonic()
        assert p.poll(timeout=5.0) == 1
        waited = time.monotonic() - started
        assert outcome == [None] and 0.8 <= waited < 2.5
        assert counter.calls <= 3


def test_without_a_descriptor_waits_still_end_and_ctrl_c_still_works(broker, topic, monkeypatch) -> None:
    from kapokmq import consumer as consumer_module

    # The library could not make a descriptor (say, out of file descriptors).
    counter = CallCounter(consumer_module.lib, "kmq_consumer_fd", replace=lambda ptr: -1)
    monkeypatch.setattr(consumer_module, "lib", counter)
    with broker.clients(topic) as (c, p):
        started = time.monotonic()
        assert c.receive(timeout=0.5) is None
        assert 0.5 <= time.monotonic() - started < 1.5
        assert counter.calls == 1
        p.send("x")
        m = c.receive(timeout=5.0)
        assert m is not None and m.text == "x"
        c.ack(m)
        assert_interrupted_within_a_second(lambda: c.receive(timeout=None), c.close)


def test_without_poll_the_main_thread_waits_on_the_descriptor_with_select(
    broker, topic, monkeypatch
) -> None:
    import select

    from kapokmq import consumer as consumer_module

    # Windows' select module has no poll(); its descriptor is a socket,
    # which select() takes (here, the eventfd).
    monkeypatch.delattr(select, "poll")
    selected: List[object] = []
    real_select = select.select
    monkeypatch.setattr(select, "select", lambda *a: selected.append(a[0]) or real_select(*a))
    counter = CallCounter(consumer_module.lib, "kmq_receive")
    monkeypatch.setattr(consumer_module, "lib", counter)
    with broker.clients(topic) as (c, p):
        started = time.monotonic()
        assert c.receive(timeout=0.5) is None
        assert 0.5 <= time.monotonic() - started < 1.5
        # Every wait was on the one descriptor of the consumer.
        assert selected and all(fds == selected[0] and len(fds) == 1 and fds[0] >= 0 for fds in selected)
        # A slice is at most 200 ms (a signal does not end select() on
        # Windows): a 0.5 s wait makes a few calls, not one per millisecond.
        assert counter.calls <= 6
        assert_a_send_ends_the_wait(c, p)


def test_closing_twice_is_harmless(broker, topic) -> None:
    with broker.clients(topic) as (c, p):
        p.send_wait("x", timeout=5)
        p.close()
        p.close()
        c.close()
        c.close()
        assert p.closed and c.closed
        # Counters stay readable after close.
        assert p.stats().confirmed == 1
    # Racing closes: one closes, the others find it closed; none fails.
    with broker.clients(topic) as (c, p):
        p.send("x")
        run_threads(4, lambda i: p.close() if i % 2 else c.close())
        assert p.closed and c.closed and p.stats().confirmed == 1


def test_close_on_a_dead_broker_is_bounded(start_broker, topic) -> None:
    broker = start_broker("--stall-acks")
    p = kapokmq.Producer(producer_id="p", **broker.config(topic))
    outcomes = []
    for i in range(3):
        p.send(f"m{i}", on_delivery=lambda err, ident: outcomes.append(err))
    p.send("untracked")
    started = time.monotonic()
    with pytest.raises(kapokmq.TimeoutError, match="close"):
        p.close(timeout=0.5)
    assert 0.45 <= time.monotonic() - started < 2.0
    assert len(outcomes) == 3 and all(isinstance(e, kapokmq.ClosedError) for e in outcomes)
    stats = p.stats()
    assert (stats.failed, stats.in_flight) == (4, 0)


def test_an_unreferenced_producer_is_closed_by_its_finalizer(broker, topic) -> None:
    p = kapokmq.Producer(producer_id="p", **broker.config(topic))
    c = kapokmq.Consumer(consumer_id="c", **broker.config(topic))
    handles = [p._handle, c._handle]
    del p, c
    gc.collect()
    assert all(h.closed for h in handles)
