"""asyncio clients over the same library::

    from kapokmq import aio

    async with aio.Producer(topic="t", producer_id="p1") as p:
        await p.send(b"x")             # resolves when the server confirms it
        await asyncio.gather(*(p.send(f"m{i}") for i in range(1000)))
        await p.send_many([f"m{i}" for i in range(1000)])   # the same, in one call
        await p.flush(timeout=10.0)
    async with aio.Consumer(topic="t", consumer_id="c1") as c:
        m = await c.receive(timeout=5.0)   # a Message, or None on timeout
        c.ack(m)
        async for m in c: ...

No thread is blocked per call: the event loop waits on the library's
readiness descriptors (``kmq_consumer_fd``: a message can be taken;
``kmq_producer_fd``: delivery reports can be taken), and the calls it then
makes do not wait. Only connecting and closing, which wait on the network
once, run on the loop's default executor.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from typing import Any, Callable, Dict, Iterable, Optional, Set, Tuple, Type, TypeVar

from . import consumer as _consumer
from . import _run
from . import producer as _producer
from ._run import Retry
from ._handle import Handle
from ._lib import last_error, lib
from ._wait import to_ms
from .consumer import ConsumerStats, DrainReport, Message
from .errors import ClosedError, KapokMQError, Status, TimeoutError, error_for
from .producer import CloseReport, Data, ProducerStats

__all__ = ["ClusterConsumer", "ClusterProducer", "Consumer", "Producer"]

#: How long ``close()`` of a producer flushes when not told, as the
#: blocking producer's.
CLOSE_FLUSH_S = 5.0


def _descriptor(fn: Callable[[Any], int], handle: Handle) -> int:
    ptr = handle.acquire()
    try:
        fd = fn(ptr)
        if fd < 0:
            raise last_error(Status.INTERNAL)
        return fd
    finally:
        handle.release()


def _check_timeout(timeout: Optional[float]) -> None:
    to_ms(timeout)  # raises InvalidArgumentError for a bad one


class _Readiness:
    """Wakes every coroutine waiting for a descriptor to poll readable. The
    descriptor is watched only while someone waits, and never again after
    :meth:`stop` (it is closed with its handle)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fd: int) -> None:
        self._loop = loop
        self._fd = fd
        self._waiters: Set["asyncio.Future[None]"] = set()
        self._watching = False
        self._stopped = False

    async def wait(self, timeout: Optional[float]) -> None:
        """Returns when the descriptor is readable, after ``timeout``
        seconds, or once stopped."""
        if self._stopped:
            return
        fut = self._loop.create_future()
        self._waiters.add(fut)
        if not self._watching:
            self._loop.add_reader(self._fd, self._wake)
            self._watching = True
        try:
            await asyncio.wait({fut}, timeout=timeout)
        finally:
            self._waiters.discard(fut)
            if not self._waiters:
                self._unwatch()

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, set()
        for fut in waiters:
            if not fut.done():
                fut.set_result(None)
        self._unwatch()

    def _unwatch(self) -> None:
        if self._watching:
            self._loop.remove_reader(self._fd)
            self._watching = False

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        self._stopped = True
        self._wake()


_C = TypeVar("_C", bound="_Client")


class _Client:
    """Connecting, closing and ``async with``, shared by both clients."""

    _SYNC: Any  # the blocking class that connects
    _FD: Callable[[Any], int]  # the library's readiness descriptor function
    _WHAT: str

    def __init__(self, **config: Any) -> None:
        self._config = config
        self._sync: Any = None
        self._readiness: Optional[_Readiness] = None
        self._closing = False

    @classmethod
    async def connect(cls: Type[_C], **config: Any) -> _C:
        """Connects (off the event loop); the same as ``async with``."""
        client = cls(**config)
        await client._connect()
        return client

    async def _connect(self) -> None:
        if self._sync is not None:
            return
        if self._closing:
            raise ClosedError(f"the {self._WHAT} is closed")
        loop = asyncio.get_running_loop()
        config = dict(self._config)
        on_event = config.pop("on_event", None)
        if on_event is not None:
            # Events come on the library's log thread: handed to the loop.
            config["on_event"] = lambda event: loop.call_soon_threadsafe(on_event, event)
        sync = await loop.run_in_executor(None, functools.partial(self._SYNC, **config))
        try:
            self._readiness = _Readiness(loop, _descriptor(self._FD, sync._handle))
        except BaseException:
            sync.close()
            raise
        self._sync = sync

    def _live(self) -> Any:
        if self._closing or (self._sync is not None and self._sync.closed):
            raise ClosedError(f"the {self._WHAT} is closed")
        if self._sync is None:
            raise ClosedError(f"the {self._WHAT} is not connected: use `async with` or `await connect(...)`")
        return self._sync

    @property
    def closed(self) -> bool:
        return self._closing or (self._sync is not None and self._sync.closed)

    def stats_json(self) -> Dict[str, Any]:
        """The statistics document, as the blocking client's
        ``stats_json()`` (never blocks)."""
        if self._sync is None:
            raise ClosedError(f"the {self._WHAT} is not connected: use `async with` or `await connect(...)`")
        return self._sync.stats_json()  # type: ignore[no-any-return]

    @property
    def serial(self) -> int:
        """The client's serial number (see the blocking client)."""
        return self._live().serial  # type: ignore[no-any-return]

    async def _close_sync(self, *args: Any) -> None:
        """Stops watching the descriptor (it goes with the handle), then
        closes the blocking client off the event loop."""
        if self._readiness is not None:
            self._readiness.stop()
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, functools.partial(self._sync.close, *args))
        except KapokMQError:
            pass  # the caller reports what went wrong
        # Let the results handed over from the executor reach their futures.
        await asyncio.sleep(0)

    async def __aenter__(self: _C) -> _C:
        await self._connect()
        return self

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            await self.close()  # type: ignore[attr-defined]
            return
        # Already failing: close, and let that error through untouched.
        try:
            await self.close()  # type: ignore[attr-defined]
        except KapokMQError:
            pass

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open" if self._sync is not None else "not connected"
        return f"<kapokmq.aio.{type(self).__name__} {state}>"


class Consumer(_Client):
    """Receives the messages the server pushes for one topic. Keyword
    arguments are the config keys, as for :class:`kapokmq.Consumer`."""

    _SYNC = _consumer.Consumer
    _FD = lib.kmq_consumer_fd
    _WHAT = "consumer"

    async def receive(self, timeout: Optional[float] = None) -> Optional[Message]:
        """The next message, or ``None`` if none came within ``timeout``
        seconds (``None``: no limit). Raises ``ClosedError`` once closed."""
        _check_timeout(timeout)
        loop = asyncio.get_running_loop()
        until = None if timeout is None else loop.time() + timeout
        while True:
            message = self._live().receive(0)
            if message is not None:
                return message
            left = None if until is None else until - loop.time()
            if left is not None and left <= 0:
                return None
            assert self._readiness is not None
            await self._readiness.wait(left)

    def ack(self, message: Any) -> None:
        """As :meth:`kapokmq.Consumer.ack`: never waits."""
        self._live().ack(message)

    def stats(self) -> ConsumerStats:
        """The counters (after close: as they were at close)."""
        if self._sync is None:
            raise ClosedError("the consumer is not connected")
        return self._sync.stats()

    async def close(self) -> None:
        """Closes; a waiting :meth:`receive` raises ``ClosedError``. Closing
        again does nothing."""
        if self._closing:
            return
        self._closing = True
        if self._sync is not None:
            await self._close_sync()

    async def drain(self, timeout: Optional[float] = None) -> DrainReport:
        """As :meth:`kapokmq.Consumer.drain`: the wait runs on a thread of
        the loop's executor, while :meth:`receive` and :meth:`ack` go on in
        the loop; then closes."""
        _check_timeout(timeout)
        sync = self._live()
        report = await asyncio.get_running_loop().run_in_executor(None, sync.drain, timeout)
        await self.close()
        return report

    async def run(
        self,
        handler: Callable[[Message], Any],
        *,
        concurrency: int = 1,
        stop: Optional[asyncio.Event] = None,
    ) -> DrainReport:
        """As :meth:`kapokmq.Consumer.run`, in the loop: ``handler`` may be
        a coroutine function; at most ``concurrency`` run at once. Ends
        when ``stop`` is set (drains, returns the report) or when the task
        is cancelled (drains, then raises ``CancelledError``)."""
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        runner = _AsyncRunner(self, handler, concurrency)
        waiting = asyncio.ensure_future(stop.wait()) if stop is not None else None
        try:
            await runner.take_until(waiting)
        except asyncio.CancelledError:
            await asyncio.shield(runner.finish())
            raise
        finally:
            if waiting is not None:
                waiting.cancel()
        return await runner.finish()

    def __aiter__(self) -> "Consumer":
        return self

    async def __anext__(self) -> Message:
        """The next message; the iteration ends when the consumer is closed."""
        try:
            message = await self.receive(None)
        except ClosedError:
            raise StopAsyncIteration from None
        assert message is not None
        return message


class _AsyncRunner:
    """The state of one :meth:`Consumer.run`: the handlers in progress,
    the drain once it began, the producer retries go through."""

    def __init__(self, consumer: Consumer, handler: Callable[[Message], Any], concurrency: int) -> None:
        self.consumer = consumer
        self.handler = handler
        self.slots = asyncio.Semaphore(concurrency)
        self.tasks: Set["asyncio.Task[None]"] = set()
        self.failed = 0
        self.producer: Any = None
        self.report: Optional[DrainReport] = None

    async def take_until(self, stop: "Optional[asyncio.Future[Any]]") -> None:
        """Hands messages to handlers until ``stop`` is done or the
        consumer closes."""
        while stop is None or not stop.done():
            await self.slots.acquire()
            try:
                m = await self.consumer.receive(0.1)
            except ClosedError:
                self.slots.release()
                return
            if m is None:
                self.slots.release()
                continue
            task = asyncio.ensure_future(self._handle(m))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def finish(self) -> DrainReport:
        """Drains: what is buffered still goes to handlers, then every
        handler is awaited; returns the drain's report."""
        if self.report is not None:
            return self.report
        sync = self.consumer._sync
        draining = None
        if sync is not None and not sync.closed:
            draining = asyncio.get_running_loop().run_in_executor(None, sync.drain, 30.0)
            await self.take_until_empty()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
        if self.failed and sync is not None:
            sync.close()  # the acks of failed handlers will not come
        if self.producer is not None:
            await self.producer.close()
        try:
            self.report = await draining if draining is not None else None
        except ClosedError:
            self.report = None
        await self.consumer.close()
        self.report = self.report or DrainReport(0, 0, 0, 0)
        return self.report

    async def take_until_empty(self) -> None:
        while True:
            await self.slots.acquire()
            try:
                m = await self.consumer.receive(0)
            except ClosedError:
                m = None
            if m is None:
                self.slots.release()
                return
            task = asyncio.ensure_future(self._handle(m))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _handle(self, m: Message) -> None:
        try:
            try:
                result = self.handler(m)
                if asyncio.iscoroutine(result) or isinstance(result, asyncio.Future):
                    await result
            except Retry as r:
                await self._retry(m, r.delay_s)
            self.consumer.ack(m)
        except ClosedError:
            pass  # the drain ran out of time: the node pushes it again
        except Exception:  # noqa: BLE001 - a handler's failure: not acked
            self.failed += 1
            _run.log.exception("kapokmq: handler failed on message %s; not acked", m.code)
        finally:
            self.slots.release()

    async def _retry(self, m: Message, delay_s: int) -> None:
        if self.producer is None:
            keys = {k: v for k, v in self.consumer._config.items() if k not in ("consumer_id", "receive_buffer")}
            keys.setdefault("producer_id", f"{self.consumer._config.get('consumer_id', 'consumer')}-retry")
            cls = ClusterProducer if isinstance(self.consumer, ClusterConsumer) else Producer
            self.producer = await cls.connect(**keys)
        await self.producer.send(m.data, delay=delay_s)


class ClusterConsumer(Consumer):
    """:class:`kapokmq.ClusterConsumer` for asyncio."""

    _SYNC = _consumer.ClusterConsumer


def _settle(fut: "asyncio.Future[None]", error: Optional[KapokMQError]) -> None:
    if fut.done():
        return
    if error is None:
        fut.set_result(None)
    else:
        fut.set_exception(error)


class _BatchOutcome:
    """Settles one future for a whole ``send_many`` once every message it
    enqueued is confirmed or failed: with the refusal that stopped the
    batch, else the first failure (by position), else ``None``. Delivery
    callbacks count here; only the last one touches the event loop."""

    def __init__(self, loop: asyncio.AbstractEventLoop, fut: "asyncio.Future[None]") -> None:
        self._loop = loop
        self._fut = fut
        self._lock = threading.Lock()
        self._settled = 0
        self._failures = 0
        self._first_failure: Optional[Tuple[int, KapokMQError]] = None
        # Known once the library said how many it took (see start).
        self._expected: Optional[int] = None
        self._first_id = 0
        self._total = 0
        self._refused: Optional[KapokMQError] = None

    def on_delivery(self, error: Optional[KapokMQError], ident: int) -> None:
        # Runs where the reports are taken: the loop, or the executor
        # thread of close().
        with self._lock:
            self._settled += 1
            if error is not None:
                self._failures += 1
                if self._first_failure is None or ident < self._first_failure[0]:
                    self._first_failure = (ident, error)
            done = self._settled == self._expected
        if done:
            self._finish()

    def start(self, first_id: int, accepted: int, total: int, refused: Optional[KapokMQError]) -> None:
        with self._lock:
            self._first_id, self._total, self._refused = first_id, total, refused
            self._expected = accepted
            done = self._settled == accepted
        if done:
            self._finish()

    def _finish(self) -> None:
        error = self._refused
        if error is None and self._first_failure is not None:
            ident, first = self._first_failure
            error = error_for(
                first.status,
                f"send_many: {self._failures} of {self._total} messages failed; "
                f"the first, messages[{ident - self._first_id}]: {first}",
            )
            error.accepted = self._total
        self._loop.call_soon_threadsafe(_settle, self._fut, error)


class Producer(_Client):
    """Sends messages to one topic. Keyword arguments are the config keys,
    as for :class:`kapokmq.Producer`."""

    _SYNC = _producer.Producer
    _FD = lib.kmq_producer_fd
    _WHAT = "producer"

    def __init__(self, **config: Any) -> None:
        super().__init__(**config)
        # Sends not yet confirmed or failed, in no order.
        self._pending: Set["asyncio.Future[None]"] = set()
        self._pump: Optional["asyncio.Task[None]"] = None
        self._close_report: Optional[CloseReport] = None

    async def send(self, data: Data, delay: int = 0) -> None:
        """Sends one message; returns once the server confirmed it, raises
        the reason it failed otherwise (``QueueFullError`` or
        ``InvalidArgumentError`` at once)."""
        sync = self._live()
        loop = asyncio.get_running_loop()
        fut: "asyncio.Future[None]" = loop.create_future()

        def on_delivery(error: Optional[KapokMQError], _ident: int) -> None:
            # Runs where the reports are taken: the loop, or the executor
            # thread of close().
            loop.call_soon_threadsafe(_settle, fut, error)

        sync.send(data, delay=delay, on_delivery=on_delivery)
        self._watch(fut)
        await fut

    async def send_many(self, messages: Iterable[Data], delay: int = 0) -> None:
        """Sends every message of ``messages`` in one call into the library
        (see :meth:`kapokmq.Producer.send_many`); returns once each is
        confirmed. If some failed, raises the first failure (by position)
        after all are settled, saying how many failed; if the batch was
        refused part-way (a bad message, the queue full, closed), raises
        that refusal once the messages enqueued before it are settled.
        The error's ``accepted`` says how many were enqueued."""
        sync = self._live()
        batch = _producer.Batch(messages)
        loop = asyncio.get_running_loop()
        fut: "asyncio.Future[None]" = loop.create_future()
        outcome = _BatchOutcome(loop, fut)
        first, accepted, refused = sync._send_many_tracked(
            batch, _producer.delay_arg(delay), outcome.on_delivery
        )
        outcome.start(first, accepted, batch.count, refused)
        if accepted:
            self._watch(fut)
        await fut

    def _watch(self, fut: "asyncio.Future[None]") -> None:
        """Keeps ``fut`` among the outstanding ones until it settles, and
        takes the reports while any is outstanding."""
        self._pending.add(fut)
        fut.add_done_callback(self._pending.discard)
        if self._pump is None or self._pump.done():
            self._pump = asyncio.get_running_loop().create_task(self._take_reports())

    def _begin(self, sync: Any, begin: Callable[..., int], timeout: Optional[float]) -> "asyncio.Future[None]":
        """Begins a flush or close in the library (see the blocking
        producer's ``_begin``); the future settles with its outcome."""
        _check_timeout(timeout)
        loop = asyncio.get_running_loop()
        fut: "asyncio.Future[None]" = loop.create_future()

        def settle(error: Optional[KapokMQError]) -> None:
            # Runs where the reports are taken: the loop, or the executor
            # thread of close().
            loop.call_soon_threadsafe(_settle, fut, error)

        sync._begin(begin, to_ms(timeout), settle)
        self._watch(fut)
        return fut

    async def _take_reports(self) -> None:
        """Runs delivery callbacks whenever the descriptor says reports are
        there, while sends are outstanding."""
        readiness = self._readiness
        assert readiness is not None
        # Once the descriptor is no longer watched, close() takes the last reports.
        while self._pending and not readiness.stopped:
            try:
                self._sync.poll(0)
            except ClosedError:
                return
            if self._pending:
                await readiness.wait(None)

    async def flush(self, timeout: Optional[float] = None) -> None:
        """Waits until every message sent before the call is confirmed.
        Raises ``TimeoutError`` after ``timeout`` seconds (``None``: no
        limit), or, if some were given up on, the last failure's kind,
        saying how many failed."""
        await self._begin(self._live(), lib.kmq_flush_begin, timeout)

    def stats(self) -> ProducerStats:
        """The counters (after close: as they were at close)."""
        if self._sync is None:
            raise ClosedError("the producer is not connected")
        return self._sync.stats()

    async def close(self, timeout: float = CLOSE_FLUSH_S) -> CloseReport:
        """Flushes for at most ``timeout`` seconds, then closes, and returns
        a :class:`kapokmq.CloseReport`. Messages still unconfirmed then fail
        with ``ClosedError``; if the flush did not complete, its error is
        raised after closing, with the report as its ``report``. Closing
        again does nothing and returns the first close's report."""
        _check_timeout(timeout)
        if self._closing or self._sync is None:
            self._closing = True
            return self._close_report or CloseReport(0, 0, 0)
        self._closing = True
        sync = self._sync
        error: Optional[KapokMQError] = None
        try:
            outcome: Optional["asyncio.Future[None]"] = self._begin(sync, lib.kmq_producer_close_begin, timeout)
        except ClosedError:
            outcome = None  # closed for good by the library already
        if outcome is not None:
            try:
                await outcome
            except KapokMQError as e:
                error = e
        # Closed by now: the blocking close takes the last reports and frees the handle.
        await self._close_sync()
        if self._pump is not None:
            await self._pump
        self._close_report = sync._close_report or CloseReport(0, 0, 0)
        if error is not None:
            error.report = self._close_report  # type: ignore[attr-defined]
            raise error
        return self._close_report


class ClusterProducer(Producer):
    """:class:`kapokmq.ClusterProducer` for asyncio."""

    _SYNC = _producer.ClusterProducer
