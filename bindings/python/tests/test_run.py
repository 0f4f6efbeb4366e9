"""Consumer.run: handlers on a pool of threads, retries through delayed
messages, a drain when told to stop."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time

import kapokmq


def test_ten_thousand_messages_each_handled_once_with_retries(start_broker, topic) -> None:
    # The broker checks delayed messages every 200 ms.
    broker = start_broker("--check-speed-ms", "200")
    n = 10_000
    cfg = broker.config(topic)
    handled = collections.Counter()
    attempts = collections.Counter()
    retried_at: dict = {}
    lock = threading.Lock()
    stop = threading.Event()
    in_handler = [0, 0]  # now, most at once

    def handler(m: kapokmq.Message) -> None:
        with lock:
            in_handler[0] += 1
            in_handler[1] = max(in_handler[1], in_handler[0])
            attempts[m.text] += 1
            first = attempts[m.text] == 1
        try:
            i = int(m.text[1:])
            if i % 50 == 0:
                time.sleep(0.005)  # a slow one: the others go on meanwhile
            if i % 7 == 0 and first:
                retried_at[m.text] = time.monotonic()
                raise kapokmq.Retry(2)
            with lock:
                handled[m.text] += 1
                if i % 7 == 0:
                    retried_at[m.text] = time.monotonic() - retried_at[m.text]
                if sum(handled.values()) == n:
                    stop.set()
        finally:
            with lock:
                in_handler[0] -= 1

    with kapokmq.Consumer(consumer_id="c", **cfg) as c:
        with kapokmq.Producer(producer_id="p", **cfg) as p:
            p.send_many([f"m{i}" for i in range(n)])
            p.flush(timeout=30)
        watchdog = threading.Timer(60, stop.set)
        watchdog.start()
        report = c.run(handler, concurrency=8, stop=stop)
        watchdog.cancel()
    assert len(handled) == n and set(handled.values()) == {1}, "every message handled once, successfully"
    delays = [retried_at[f"m{i}"] for i in range(0, n, 7)]
    # The node counts whole seconds: a 2 s delay is due up to a second early.
    assert min(delays) >= 1.0, f"a retry came back after {min(delays):.2f} s, before its 2 s delay"
    assert 1 < in_handler[1] <= 8, f"{in_handler[1]} handlers at once"
    assert report.unacked == 0 and report.unread == 0, report


def test_a_failing_handler_leaves_its_message_unacked(broker, topic) -> None:
    cfg = broker.config(topic)
    seen = []
    stop = threading.Event()

    def handler(m: kapokmq.Message) -> None:
        seen.append(m.text)
        if len(seen) == 3:
            stop.set()
        if m.text == "bad":
            raise RuntimeError("cannot handle this one")

    with kapokmq.Consumer(consumer_id="c", **cfg) as c:
        with kapokmq.Producer(producer_id="p", **cfg) as p:
            p.send_many(["good", "bad", "fine"])
            p.flush(timeout=10)
        report = c.run(handler, stop=stop)
    assert seen == ["good", "bad", "fine"]
    assert report.unacked == 1, report


def test_sigterm_drains_and_loses_nothing_confirmed(broker, topic) -> None:
    # A child process runs run() on its main thread; SIGTERM makes it drain
    # and print its report; every message it acked stays consumed.
    script = f"""
import sys, time, kapokmq
c = kapokmq.Consumer(consumer_id="c", mq_port={broker.port}, topic={topic!r})
print("ready", flush=True)
handled = []
def handler(m):
    time.sleep(0.001)
    handled.append(m.text)
r = c.run(handler, concurrency=4)
print(len(handled), r.handed_out, r.acked, r.unacked, r.unread, flush=True)
"""
    env = dict(os.environ)
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    with kapokmq.Producer(producer_id="p", **broker.config(topic)) as p:
        p.send_many([f"m{i}" for i in range(2000)])
        p.flush(timeout=10)
    time.sleep(0.5)
    child.send_signal(signal.SIGTERM)
    out, _ = child.communicate(timeout=60)
    assert child.returncode == 0
    handled, handed_out, acked, unacked, unread = map(int, out.split())
    assert unacked == 0, out
    assert handled + unread <= 2000 and handled > 0, out


def test_aio_run_with_async_handlers_retries_and_a_stop_event(start_broker, topic) -> None:
    import asyncio

    from kapokmq import aio

    broker = start_broker("--check-speed-ms", "200")
    n = 1000
    cfg = broker.config(topic)

    async def main() -> None:
        handled = collections.Counter()
        retried = set()
        stop = asyncio.Event()

        async def handler(m: kapokmq.Message) -> None:
            await asyncio.sleep(0.001)
            if int(m.text[1:]) % 7 == 0 and m.text not in retried:
                retried.add(m.text)
                raise kapokmq.Retry(1)
            handled[m.text] += 1
            if len(handled) == n:
                stop.set()

        async with aio.Consumer(consumer_id="c", **cfg) as c:
            with kapokmq.Producer(producer_id="p", **cfg) as p:
                p.send_many([f"m{i}" for i in range(n)])
                p.flush(timeout=10)
            report = await asyncio.wait_for(c.run(handler, concurrency=4, stop=stop), 60)
        assert len(handled) == n and set(handled.values()) == {1}
        assert report.unacked == 0 and report.unread == 0, report

    asyncio.run(main())


def test_aio_run_cancelled_drains_then_raises(broker, topic) -> None:
    import asyncio

    from kapokmq import aio

    cfg = broker.config(topic)

    async def main() -> None:
        handled = []

        async def handler(m: kapokmq.Message) -> None:
            handled.append(m.text)

        async with aio.Consumer(consumer_id="c", **cfg) as c:
            with kapokmq.Producer(producer_id="p", **cfg) as p:
                p.send_many([f"m{i}" for i in range(100)])
                p.flush(timeout=10)
            task = asyncio.ensure_future(c.run(handler, concurrency=2))
            while len(handled) < 100:
                await asyncio.sleep(0.01)
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            else:
                raise AssertionError("run() returned instead of raising CancelledError")
            assert c.closed

    asyncio.run(asyncio.wait_for(main(), 60))
