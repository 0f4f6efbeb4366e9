"""The consumer and the messages it receives."""

from __future__ import annotations

import collections
import ctypes
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Union

from . import _config, _metrics
from . import producer as _producer
from ._handle import Handle, read_stats
from ._lib import (
    ConsumerP,
    ConsumerStatsStruct,
    DrainReportStruct,
    MessageInfo,
    MessageP,
    held,
    last_error,
    lib,
    stats_from,
)
from ._wait import Waiter, deadline, expired, to_ms
from .errors import ClosedError, InvalidArgumentError, KapokMQError, Status


# Messages one receive call takes from the library at most (see receive).
_TAKE_AT_ONCE = 64


class Message:
    """One received message, copied out of the library (nothing to free).

    ``code`` (32 hex digits, what :meth:`Consumer.ack` takes), ``data``
    (bytes), ``text`` (``data`` decoded as UTF-8), ``topic``,
    ``create_time`` / ``consumed_time`` (Unix seconds; 0 when not consumed),
    ``delay_time`` (seconds; a redelivered message carries the time since it
    was created) and ``status`` (-1 waiting, 0 delayed, 1 consumed).
    """

    __slots__ = ("code", "data", "topic", "create_time", "consumed_time", "delay_time", "status")

    def __init__(
        self,
        code: str,
        data: bytes,
        topic: str,
        create_time: int = 0,
        consumed_time: int = 0,
        delay_time: int = 0,
        status: int = -1,
    ) -> None:
        self.code = code
        self.data = data
        self.topic = topic
        self.create_time = create_time
        self.consumed_time = consumed_time
        self.delay_time = delay_time
        self.status = status

    @property
    def text(self) -> str:
        """The payload as ``str`` (KapokMQ carries UTF-8 text)."""
        return self.data.decode("utf-8")

    @classmethod
    def _copy(cls, m: Any) -> "Message":
        info = MessageInfo()
        status = lib.kmq_message_get_info(m, ctypes.byref(info))
        if status:
            raise last_error(status)
        return cls(
            (info.code or b"").decode("ascii"),
            info.data[: info.len],
            (info.topic or b"").decode("utf-8", "replace"),
            info.create_time,
            info.consumed_time,
            info.delay_time,
            info.status,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

    def __repr__(self) -> str:
        preview = self.data[:40] + (b"..." if len(self.data) > 40 else b"")
        return f"<kapokmq.Message {self.code} topic={self.topic!r} data={preview!r}>"


@dataclass(frozen=True)
class ConsumerStats:
    """Counters of a consumer."""

    received: int
    acked: int
    reconnects: int
    bad_frames: int
    buffered: int


@dataclass(frozen=True)
class DrainReport:
    """Where the messages of a drained consumer ended (see :meth:`Consumer.drain`)."""

    handed_out: int
    """Messages handed out during the drain."""
    acked: int
    """Acks given during the drain, for messages handed out at any time."""
    unacked: int
    """Messages handed out and never acked: the node pushes them again."""
    unread: int
    """Messages received and never handed out: pushed again too."""


class Consumer:
    """Receives the messages the server pushes for one topic.

    Keyword arguments are the library's config keys (values go through
    ``str()``); the constructor connects and completes the handshake::

        with kapokmq.Consumer(topic="orders", consumer_id="c1") as c:
            m = c.receive(timeout=5.0)   # a Message, or None on timeout
            if m is not None:
                print(m.text)
                c.ack(m)
            for m in c:                  # waits for each; Ctrl-C interrupts
                handle(m.data)
                c.ack(m.code)

    A consumer may be used from several threads at once; :meth:`close`
    from another thread ends a blocked :meth:`receive` with ``ClosedError``
    and a ``for`` loop over the consumer quietly. Delivery is at-least-once:
    expect duplicates and ack them again.
    """

    # The library function that connects; the cluster consumer differs only here.
    _CONNECT = "kmq_consumer_new"
    # What run() sends its retries with.
    _RETRY_PRODUCER = _producer.Producer

    def __init__(self, on_event: Optional[Callable[["_metrics.Event"], Any]] = None, **config: Any) -> None:
        self._config_keys = dict(config)  # for run()'s retry producer
        if on_event is not None:
            _metrics.install()
        cfg = _config.build(config)
        try:
            out = ConsumerP()
            status = getattr(lib, self._CONNECT)(cfg, ctypes.byref(out))
            if status:
                raise last_error(status)
        finally:
            _config.free(cfg)
        self._handle = Handle(out, lib.kmq_consumer_close, lib.kmq_consumer_free, "consumer")
        self._finalizer = weakref.finalize(self, self._handle.close)
        self._final_stats: Optional[ConsumerStats] = None
        self._final_document: Optional[Dict[str, Any]] = None
        #: Unique among the clients of the process: the ``client`` of its
        #: events and statistics.
        self.serial: int = lib.kmq_consumer_serial(out)
        _metrics.attach(self, self.serial, on_event)
        self._taken: Deque[Message] = collections.deque()
        self._inside = 0  # threads in a receive call
        self._drain_handed: Optional[List[None]] = None  # once a drain began

    def receive(self, timeout: Optional[float] = None) -> Optional[Message]:
        """The next message, or ``None`` if none came within ``timeout``
        seconds (``None``: wait without limit; Ctrl-C interrupts the wait).

        Raises ``ClosedError`` once the consumer is closed, also when another
        thread closes it during the wait.
        """
        m = self._receive(timeout)
        if m is not None and self._drain_handed is not None:
            self._drain_handed.append(None)  # atomic, from any thread
        return m

    def _receive(self, timeout: Optional[float]) -> Optional[Message]:
        # Messages taken from the library with an earlier one, in order
        # (once closed, none: like the library's buffer, they are pushed
        # again by the node, as they were never acked).
        if self._taken and not self._handle.closed:
            try:
                return self._taken.popleft()
            except IndexError:  # another thread took the last one
                pass
        until = deadline(timeout)
        handle = self._handle
        ptr = handle.acquire()
        # A lone receiver takes what is buffered in one call; while other
        # threads wait in the library too, one message each, so that none
        # of them waits while another holds messages it has not got to.
        room = _TAKE_AT_ONCE if self._inside == 0 else 1
        self._inside += 1
        out = (MessageP * room)()
        count = ctypes.c_size_t()
        try:
            waiter = Waiter(until, lambda: lib.kmq_consumer_fd(ptr))
            while True:
                ms = waiter.call_ms()
                # A call that does not wait keeps the GIL (see _lib.HOLDS_GIL).
                receive_many = held.kmq_receive_many if ms == 0 else lib.kmq_receive_many
                status = receive_many(ptr, ms, out, room, ctypes.byref(count))
                if status == Status.OK:
                    return self._hand_out(out, count.value)
                if status != Status.TIMEOUT:
                    raise last_error(status)
                if expired(until):
                    return None
                waiter.wait()
        finally:
            self._inside -= 1
            handle.release()

    def _hand_out(self, out: Any, count: int) -> Message:
        """Copies the ``count`` messages of ``out`` and frees them; returns
        the first and keeps the rest for the next calls."""
        try:
            first = Message._copy(out[0])
            self._taken.extend(Message._copy(out[i]) for i in range(1, count))
            return first
        finally:
            for i in range(count):
                lib.kmq_message_free(out[i])

    def ack(self, message: Union[Message, str]) -> None:
        """Tells the server the message (a :class:`Message` or its code) was
        handled. Does not wait for the network; any thread, any order."""
        code = message.code if isinstance(message, Message) else message
        if not isinstance(code, str):
            raise TypeError(f"ack takes a Message or its code, not {type(message).__name__}")
        raw = code.encode("utf-8")
        if b"\0" in raw:
            raise InvalidArgumentError("message code contains a NUL character")
        ptr = self._handle.acquire()
        try:
            status = lib.kmq_ack(ptr, raw)
            if status:
                raise last_error(status)
        finally:
            self._handle.release()

    def __iter__(self) -> Iterator[Message]:
        return self

    def __next__(self) -> Message:
        """Waits for the next message; the iteration ends when the consumer
        is closed or drained."""
        try:
            message = self.receive(None)
        except ClosedError:
            # A drain closes the library's consumer before this object.
            if self._handle.closed or self._drain_handed is not None:
                raise StopIteration from None
            raise
        assert message is not None  # no timeout
        return message

    def stats(self) -> ConsumerStats:
        """The consumer's counters (after close: as they were at close)."""
        if self._final_stats is not None:
            return self._final_stats
        return read_stats(self._handle, lib.kmq_consumer_get_stats, ConsumerStatsStruct, ConsumerStats)

    def stats_json(self) -> Dict[str, Any]:
        """Everything the consumer counts, as a dict: the counters of
        :meth:`stats`, ``acks_written``, ``unacked`` (handed out, not yet
        acked), ``buffer_capacity`` and ``connections`` (each one's
        ``node``, ``state``, ``connected_since_ms``, ``reconnects``,
        ``bytes_in``, ``bytes_out``, ``last_error``, ...). The README lists
        every field. After close: as it was at close."""
        if self._final_document is not None:
            return self._final_document
        return _metrics.stats_document(self._handle, lib.kmq_consumer_stats_json)

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def run(
        self,
        handler: Callable[[Message], Any],
        *,
        concurrency: int = 1,
        stop: Optional[threading.Event] = None,
    ) -> DrainReport:
        """Hands each message to ``handler`` on a pool of ``concurrency``
        threads and acks it when the handler returns; a handler that raises
        leaves it unacked (the node pushes it again after its
        pushRetryTime), one that raises :class:`kapokmq.Retry` has it sent
        again with that delay and acks the original once the copy is
        confirmed (the copy is a new message with a new code). Runs until
        ``stop`` is set, or, on the main thread, until SIGINT or SIGTERM (a
        second one stops at once); then drains (see :meth:`drain`) and
        returns the drain's report."""
        from . import _run

        def make_producer() -> Any:
            keys = {k: v for k, v in self._config_keys.items() if k not in ("consumer_id", "receive_buffer")}
            keys.setdefault("producer_id", f"{self._config_keys.get('consumer_id', 'consumer')}-retry")
            return self._RETRY_PRODUCER(**keys)

        return _run.run(self, handler, concurrency, stop, make_producer)

    def drain(self, timeout: Optional[float] = None) -> DrainReport:
        """Stops taking pushes, waits (up to ``timeout`` seconds; ``None``:
        without limit) until the other threads have received every buffered
        message and acked every message handed out, then closes. Pushes that
        arrive meanwhile are dropped unread; the node pushes them again after
        its pushRetryTime, as it does the unacked ones. Raises ClosedError
        when the consumer was closed or drained before."""
        raw = DrainReportStruct()
        # Counted here: a receive hands out messages the library gave
        # earlier in a batch (see receive).
        self._drain_handed = []
        ptr = self._handle.acquire()
        try:
            status = lib.kmq_consumer_drain(ptr, to_ms(timeout), ctypes.byref(raw))
            if status:
                raise last_error(status)
        finally:
            self._handle.release()
        # Taken from the library in a batch but never handed to the
        # application: unread, not unacked.
        left = len(self._taken)
        self.close()
        return DrainReport(len(self._drain_handed), raw.acked, raw.unacked - left, raw.unread + left)

    def close(self) -> None:
        """Closes the connection (acks already given are still written,
        briefly) and wakes every call blocked on the consumer. Closing again
        does nothing."""
        self._handle.close(self._last_use)
        self._taken.clear()
        self._finalizer.detach()
        _metrics.forget(self.serial)

    def _last_use(self, ptr: Any) -> None:
        raw = ConsumerStatsStruct()
        if lib.kmq_consumer_get_stats(ptr, ctypes.byref(raw)) == Status.OK:
            self._final_stats = stats_from(ConsumerStats, raw)
        try:
            self._final_document = _metrics.read_document(ptr, lib.kmq_consumer_stats_json)
        except KapokMQError:
            pass

    def __enter__(self) -> "Consumer":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<kapokmq.{type(self).__name__} {state}>"


class ClusterConsumer(Consumer):
    """A consumer for a KapokMQ cluster: it asks the Serena registry
    (``registry_addr``, ``registry_port``, ``registry_protocol``) for the live
    nodes, connects to every one (a message lives on the node it was sent
    to) and follows the list; acks go to the node a message came from.
    Otherwise it is a :class:`Consumer`::

        with kapokmq.ClusterConsumer(topic="orders", consumer_id="c1",
                                     registry_addr="10.0.0.5", registry_port=8031) as c:
            for m in c:
                c.ack(m)

    Raises ``NoNodesError`` when the registry lists no live node.
    """

    _CONNECT = "kmq_cluster_consumer_new"
    _RETRY_PRODUCER = _producer.ClusterProducer
