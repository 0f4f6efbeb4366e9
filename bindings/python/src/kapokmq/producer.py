"""The producer."""

from __future__ import annotations

import collections
import ctypes
import itertools
import operator
import threading
import weakref
from array import array
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional, Tuple, Union

from . import _config, _metrics
from ._handle import Handle, read_stats
from ._lib import (
    Buf,
    ConnectionStatsStruct,
    DeliveryReport,
    ProducerP,
    ProducerStatsStruct,
    CloseReportStruct,
    last_error,
    lib,
    stats_from,
)
from ._wait import Waiter, deadline, expired, run_blocking, to_ms
from .errors import ClosedError, InvalidArgumentError, KapokMQError, Status, error_for

Data = Union[str, bytes, bytearray, memoryview]
#: ``callback(error, id)``: ``error`` is None when the server confirmed the
#: message, else the exception saying why it failed.
DeliveryCallback = Callable[[Optional[KapokMQError], int], Any]

# Reports taken from the library per call.
_REPORT_BATCH = 256


def payload(data: Data) -> bytes:
    """The bytes to send: a ``str`` as UTF-8, bytes-like objects as they are."""
    if type(data) is str:
        return data.encode("utf-8")
    if type(data) is bytes:
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        return bytes(data)
    if isinstance(data, str):
        return data.encode("utf-8")
    raise TypeError(f"message data must be str or bytes, not {type(data).__name__}")


# A kmq_buf is two machine words (address, length): an array of these
# words is an array of kmq_buf.
_WORD = "Q" if ctypes.sizeof(ctypes.c_void_p) == 8 else "I"
assert array(_WORD).itemsize == ctypes.sizeof(ctypes.c_void_p) == ctypes.sizeof(ctypes.c_size_t)
assert ctypes.sizeof(Buf) == 2 * ctypes.sizeof(ctypes.c_void_p)


class Batch:
    """Messages laid out for ``kmq_send_many``: their bytes one after the
    other in one buffer, and a ``kmq_buf`` array pointing into it. Both live
    as long as this object, so it must be kept until the call returns."""

    __slots__ = ("count", "bufs", "_blob", "_words")

    def __init__(self, messages: Iterable[Data]) -> None:
        if isinstance(messages, (str, bytes, bytearray, memoryview)):
            raise TypeError("send_many takes a list of messages, not one message")
        items = messages if type(messages) is list else list(messages)
        try:
            raws = [m.encode() if type(m) is str else m if type(m) is bytes else payload(m) for m in items]
        except (TypeError, UnicodeError):
            raws = _checked(items)  # raises, naming the message at fault
        self.count = n = len(raws)
        self.bufs: Any = None
        if n == 0:
            return
        # One copy of the bytes; the C side borrows them without another.
        self._blob = blob = b"".join(raws)
        lens = list(map(len, raws))
        starts = list(itertools.accumulate(lens, initial=ctypes.cast(blob, ctypes.c_void_p).value or 0))
        starts.pop()
        words: List[int] = [0] * (2 * n)
        words[0::2] = starts
        words[1::2] = lens
        self._words = array(_WORD, words)
        self.bufs = (Buf * n).from_buffer(self._words)


def _checked(items: List[Any]) -> List[bytes]:
    """``payload`` of each message, or an error naming the first that has none."""
    raws = []
    for i, m in enumerate(items):
        try:
            raws.append(payload(m))
        except TypeError as e:
            raise TypeError(f"send_many: messages[{i}]: {e}") from None
        except UnicodeError as e:
            error = InvalidArgumentError(f"send_many: messages[{i}] is not valid text ({e}); nothing was sent")
            error.accepted = 0
            raise error from None
    return raws


def delay_arg(delay: Any) -> int:
    """``delay`` as an int (whole seconds)."""
    return delay if type(delay) is int else operator.index(delay)


def _acquire_for_batch(handle: Handle) -> Any:
    """``handle.acquire()``; once closed, its error says none was enqueued."""
    try:
        return handle.acquire()
    except ClosedError as e:
        e.accepted = 0
        raise


def _refused(status: int, accepted: int) -> KapokMQError:
    """The error of a batch send that stopped after ``accepted`` messages."""
    error = last_error(status)
    error.accepted = accepted
    return error


@dataclass(frozen=True)
class ProducerStats:
    """Counters of a producer: ``enqueued == confirmed + failed + in_flight``."""

    enqueued: int
    confirmed: int
    failed: int
    resent: int
    reconnects: int
    in_flight: int


@dataclass(frozen=True)
class CloseReport:
    """What became of a producer's messages when it closed (see
    :meth:`Producer.close`), as the library counted them then."""

    confirmed: int
    """Messages the server confirmed, over the producer's life."""
    failed: int
    """Messages that failed before the close (timed out)."""
    in_flight: int
    """Messages still unconfirmed when the flush ended: failed by the close
    (they may still have reached the server)."""


class _Outcome:
    """Takes the outcome of a flush or close begun in the library, which
    arrives as a delivery report: ``settle(error_or_None)``, the error in
    the library's own words."""

    __slots__ = ("settle",)

    def __init__(self, settle: Callable[[Optional[KapokMQError]], Any]) -> None:
        self.settle = settle


@dataclass(frozen=True)
class ConnectionStats:
    """Counters of one of a producer's connections (``connections`` per node)."""

    node: str
    """The node, as ``host:port``."""
    connected: bool
    written: int
    confirmed: int
    resent: int
    reconnects: int
    in_flight: int


def _connection_stats(raw: ConnectionStatsStruct) -> ConnectionStats:
    return ConnectionStats(
        node=raw.node.decode("utf-8", "replace"),
        connected=bool(raw.connected),
        written=raw.written,
        confirmed=raw.confirmed,
        resent=raw.resent,
        reconnects=raw.reconnects,
        in_flight=raw.in_flight,
    )


class Producer:
    """Sends messages to one topic of a KapokMQ node.

    Keyword arguments are the library's config keys (values go through
    ``str()``); the constructor connects and completes the handshake::

        with kapokmq.Producer(topic="orders", producer_id="p1",
                              mq_addr="127.0.0.1", mq_port=8011) as p:
            p.send("hello")                 # returns at once
            p.send(b"\\x00bytes", delay=60)   # delivered in a minute
            p.send_wait("important", timeout=5.0)  # confirmed, or TimeoutError
            p.send("tracked", on_delivery=lambda err, id: print(id, err))
            p.flush(timeout=10.0)           # all confirmed; callbacks run here
        # leaving the block flushes for at most 5 s, then closes

    A producer may be used from several threads at once. Delivery callbacks
    run only inside :meth:`poll`, :meth:`flush` and :meth:`close`, on the
    thread that calls them.
    """

    # The library function that connects; the cluster producer differs only here.
    _CONNECT = "kmq_producer_new"

    def __init__(self, on_event: Optional[Callable[["_metrics.Event"], Any]] = None, **config: Any) -> None:
        if on_event is not None:
            _metrics.install()
        cfg = _config.build(config)
        try:
            out = ProducerP()
            status = getattr(lib, self._CONNECT)(cfg, ctypes.byref(out))
            if status:
                raise last_error(status)
        finally:
            _config.free(cfg)
        self._handle = Handle(out, lib.kmq_producer_close, lib.kmq_producer_free, "producer")
        # Last resort: close and free when the object is collected (without
        # a flush, like kmq_producer_free).
        self._finalizer = weakref.finalize(self, self._handle.close)
        # By id: a tracked message's callback, or a flush's or close's outcome.
        self._callbacks: Dict[int, Union[DeliveryCallback, _Outcome]] = {}
        # Held across kmq_send_tracked until its callback is stored, so a
        # report taken by another thread always finds its callback.
        self._track_lock = threading.Lock()
        # (id, status, the library's error text, callback), in report order.
        self._reports: Deque[Tuple[int, int, bytes, Union[DeliveryCallback, _Outcome, None]]] = collections.deque()
        self._final_stats: Optional[ProducerStats] = None
        self._final_document: Optional[Dict[str, Any]] = None
        self._close_report: Optional[CloseReport] = None
        #: Unique among the clients of the process: the ``client`` of its
        #: events and statistics.
        self.serial: int = lib.kmq_producer_serial(out)
        _metrics.attach(self, self.serial, on_event)

    # -- sending -------------------------------------------------------------

    def send(
        self, data: Data, delay: int = 0, on_delivery: Optional[DeliveryCallback] = None
    ) -> Optional[int]:
        """Enqueues one message and returns at once; the server confirms it later.

        ``data`` is ``str`` or UTF-8 bytes (KapokMQ carries text; NUL is
        fine, empty data is not). ``delay`` is whole seconds. With
        ``on_delivery``, the message is tracked: its outcome reaches
        ``on_delivery(error_or_None, id)`` from a later :meth:`poll`,
        :meth:`flush` or :meth:`close`, and the id is returned.

        Raises ``QueueFullError`` when ``queue_max`` messages are held,
        ``InvalidArgumentError`` for bad data, ``ClosedError`` once closed.
        """
        raw = payload(data)
        if type(delay) is not int:
            delay = operator.index(delay)
        if on_delivery is not None:
            return self._send_tracked(raw, delay, on_delivery)
        handle = self._handle
        ptr = handle.acquire()
        try:
            status = lib.kmq_send(ptr, raw, len(raw), delay)
            if status:
                raise last_error(status)
        finally:
            handle.release()
        return None

    def _send_tracked(self, raw: bytes, delay: int, on_delivery: DeliveryCallback) -> int:
        if not callable(on_delivery):
            raise TypeError("on_delivery must be callable")
        ident = ctypes.c_uint64()
        ptr = self._handle.acquire()
        try:
            with self._track_lock:
                status = lib.kmq_send_tracked(ptr, raw, len(raw), delay, ctypes.byref(ident))
                if status:
                    raise last_error(status)
                self._callbacks[ident.value] = on_delivery
        finally:
            self._handle.release()
        return ident.value

    def send_many(
        self,
        messages: Iterable[Data],
        delay: int = 0,
        on_delivery: Optional[DeliveryCallback] = None,
    ) -> Optional[int]:
        """Enqueues every message of ``messages`` (``str`` or UTF-8 bytes), in
        order and with one ``delay``, in one call into the library, and
        returns at once: :meth:`send` for a batch, at a fraction of its
        cost per message.

        If a message is refused (empty or bad data, the queue full at
        ``queue_max``, the producer closed), the ones before it stay
        enqueued and the rest are not sent: the error raised (the usual
        ``KapokMQError`` subclass) has ``accepted``, how many were
        enqueued, and its message names the index of the refused one. A
        message that is not ``str`` or bytes-like raises ``TypeError``
        before anything is sent.

        With ``on_delivery``, each message is tracked as by :meth:`send`:
        ``on_delivery(error_or_None, id)`` runs for each enqueued one from a
        later :meth:`poll`, :meth:`flush` or :meth:`close`, and the first
        one's id is returned (the others follow it one by one).
        """
        batch = Batch(messages)
        delay = delay_arg(delay)
        if on_delivery is not None:
            first, _, error = self._send_many_tracked(batch, delay, on_delivery)
            if error is not None:
                raise error
            return first
        accepted = ctypes.c_size_t()
        handle = self._handle
        ptr = _acquire_for_batch(handle)
        try:
            status = lib.kmq_send_many(ptr, batch.bufs, batch.count, delay, ctypes.byref(accepted))
            if status:
                raise _refused(status, accepted.value)
        finally:
            handle.release()
        return None

    def _send_many_tracked(
        self, batch: Batch, delay: int, on_delivery: DeliveryCallback
    ) -> Tuple[int, int, Optional[KapokMQError]]:
        """Sends ``batch`` tracked, with ``on_delivery`` for each message
        enqueued; returns the first id, how many were enqueued and, if the
        batch stopped short, why."""
        if not callable(on_delivery):
            raise TypeError("on_delivery must be callable")
        accepted = ctypes.c_size_t()
        first = ctypes.c_uint64()
        error: Optional[KapokMQError] = None
        ptr = _acquire_for_batch(self._handle)
        try:
            with self._track_lock:
                status = lib.kmq_send_many_tracked(
                    ptr, batch.bufs, batch.count, delay, ctypes.byref(accepted), ctypes.byref(first)
                )
                if status:
                    error = _refused(status, accepted.value)
                count, start = accepted.value, first.value
                if count:
                    ids = range(start, start + count)
                    self._callbacks.update(zip(ids, itertools.repeat(on_delivery)))
        finally:
            self._handle.release()
        return start, count, error

    def send_wait(self, data: Data, timeout: Optional[float] = None, *, delay: int = 0) -> None:
        """Sends one message and returns once the server has confirmed it.

        ``timeout`` in seconds (``None``: no limit; the message itself fails
        after ``message_timeout_ms``). Raises ``TimeoutError`` if it is not
        confirmed in time; the message then stays queued and may still be
        delivered. Ctrl-C interrupts the wait.
        """
        raw = payload(data)
        run_blocking(
            self._handle, lib.kmq_send_wait, raw, len(raw), operator.index(delay), to_ms(timeout)
        )

    def flush(self, timeout: Optional[float] = None) -> None:
        """Waits until every message sent before the call is confirmed, then
        runs the delivery callbacks that are due.

        Raises ``TimeoutError`` if that takes longer than ``timeout`` seconds
        (``None``: no limit), or the error of the last failure if some
        messages were given up on. Ctrl-C interrupts the wait.
        """
        error: Optional[KapokMQError] = None
        try:
            # Often nothing is outstanding: a first, non-waiting flush says so.
            run_blocking(self._handle, lib.kmq_flush, to_ms(timeout), no_wait=(0,))
        except KapokMQError as e:
            error = e
        # Run the callbacks that are due, failures included.
        try:
            self.poll(0)
        except ClosedError:
            pass  # closed meanwhile; close() runs the callbacks
        if error is not None:
            raise error

    # -- delivery reports ------------------------------------------------------

    def poll(self, timeout: Optional[float] = 0) -> int:
        """Runs the delivery callbacks of tracked messages whose outcome is
        known, waiting up to ``timeout`` seconds (``None``: no limit) for the
        first. Returns how many callbacks ran.

        A callback's exception propagates; the callbacks not yet run wait for
        the next call.
        """
        until = deadline(timeout)
        handle = self._handle
        ptr = handle.acquire()
        try:
            waiter = Waiter(until, lambda: lib.kmq_producer_fd(ptr))
            while True:
                # Wait only while nothing is at hand; then take what is there.
                wait_ms = 0 if self._reports else waiter.call_ms()
                status, count = self._take_reports(ptr, wait_ms)
                if status == Status.OK:
                    if count < _REPORT_BATCH:
                        break  # the library's queue is empty for now
                elif status == Status.TIMEOUT:
                    if self._reports or expired(until):
                        break
                    waiter.wait()
                elif status == Status.CLOSED and self._reports:
                    break
                else:
                    raise last_error(status)
        finally:
            handle.release()
        return self._run_callbacks()

    def _take_reports(self, ptr: Any, wait_ms: int) -> Tuple[int, int]:
        """Moves delivery reports from the library into ``self._reports``;
        returns the status and how many."""
        batch = (DeliveryReport * _REPORT_BATCH)()
        count = ctypes.c_size_t()
        status = lib.kmq_poll_reports(ptr, batch, _REPORT_BATCH, wait_ms, ctypes.byref(count))
        if status:
            return status, 0
        with self._track_lock:
            taken = [
                (r.id, r.status, r.error, self._callbacks.pop(r.id, None))
                for r in batch[: count.value]
            ]
        self._reports.extend(taken)
        return status, count.value

    def _run_callbacks(self) -> int:
        ran = 0
        while True:
            try:
                ident, status, text, callback = self._reports.popleft()
            except IndexError:
                return ran
            if callback is None:
                continue
            if type(callback) is _Outcome:
                callback.settle(error_for(status, text.decode("utf-8", "replace")) if status else None)
                continue
            error = None
            if status:
                reason = text.decode("utf-8", "replace") or f"failed with status {status}"
                error = error_for(status, f"message {ident}: {reason}")
            ran += 1
            callback(error, ident)

    # -- state ---------------------------------------------------------------

    def stats(self) -> ProducerStats:
        """The producer's counters (after close: as they were at close)."""
        if self._final_stats is not None:
            return self._final_stats
        return read_stats(self._handle, lib.kmq_producer_get_stats, ProducerStatsStruct, ProducerStats)

    def connection_stats(self) -> List[ConnectionStats]:
        """Each connection's counters, in the order they were started: the
        ``connections`` config key's number per node. Raises ClosedError
        after close."""
        room = 8
        while True:
            raw = (ConnectionStatsStruct * room)()
            count = ctypes.c_size_t()
            ptr = self._handle.acquire()
            try:
                status = lib.kmq_producer_connection_stats(ptr, raw, room, ctypes.byref(count))
            finally:
                self._handle.release()
            if status:
                raise last_error(status)
            if count.value <= room:
                return [_connection_stats(raw[i]) for i in range(count.value)]
            room = count.value

    def stats_json(self) -> Dict[str, Any]:
        """Everything the producer counts, as a dict: the counters of
        :meth:`stats`, ``confirm_latency_us`` (``p50``, ``p90``, ``p99``,
        ``max`` over the last minute, in microseconds) and ``connections``
        (each one's ``node``, ``state``, ``connected_since_ms``,
        ``reconnects``, ``bytes_in``, ``bytes_out``, ``last_error``, ...).
        The README lists every field. After close: as it was at close."""
        if self._final_document is not None:
            return self._final_document
        return _metrics.stats_document(self._handle, lib.kmq_producer_stats_json)

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def close(self, timeout: float = 5.0) -> CloseReport:
        """Flushes for at most ``timeout`` seconds, then closes, and returns
        what became of the messages: a :class:`CloseReport`.

        Messages still unconfirmed then fail (their callbacks run here with
        ``ClosedError``), and calls blocked on the producer in other threads
        raise ``ClosedError``. If the flush did not complete, its error is
        raised after closing, with the report as its ``report`` attribute.
        Closing again does nothing and returns the first close's report.
        Ctrl-C closes at once.
        """
        timeout_ms = to_ms(timeout)
        outcome: List[Optional[KapokMQError]] = []
        if not self._handle.closed:
            try:
                try:
                    self._begin(lib.kmq_producer_close_begin, timeout_ms, outcome.append)
                except ClosedError:
                    pass  # closing in another thread (or closed): waits for that
                # The close's own report comes last; then the library says CLOSED.
                while not outcome:
                    self.poll(None)
            except ClosedError:
                pass
            finally:
                self._handle.close(self._last_use)
                self._finalizer.detach()
                _metrics.forget(self.serial)
            self._run_callbacks()
        report = self._close_report or CloseReport(0, 0, 0)
        if outcome and outcome[0] is not None:
            outcome[0].report = report  # type: ignore[attr-defined]
            raise outcome[0]
        return report

    def _begin(self, begin: Callable[..., int], timeout_ms: int, settle: Callable[[Optional[KapokMQError]], Any]) -> int:
        """Begins a flush or close in the library (``begin`` is
        ``kmq_flush_begin`` or ``kmq_producer_close_begin``) and returns its
        id; its outcome reaches ``settle`` where the reports are taken."""
        ident = ctypes.c_uint64()
        ptr = self._handle.acquire()
        try:
            with self._track_lock:
                status = begin(ptr, timeout_ms, ctypes.byref(ident))
                if status:
                    raise last_error(status)
                self._callbacks[ident.value] = _Outcome(settle)
        finally:
            self._handle.release()
        return ident.value

    def _last_use(self, ptr: Any) -> None:
        raw = ProducerStatsStruct()
        if lib.kmq_producer_get_stats(ptr, ctypes.byref(raw)) == Status.OK:
            self._final_stats = stats_from(ProducerStats, raw)
        closed = CloseReportStruct()
        if lib.kmq_producer_close_report(ptr, ctypes.byref(closed)) == Status.OK:
            self._close_report = CloseReport(closed.confirmed, closed.failed, closed.in_flight)
        try:
            self._final_document = _metrics.read_document(ptr, lib.kmq_producer_stats_json)
        except KapokMQError:
            pass
        # Closing failed every unconfirmed message: collect those reports.
        while self._take_reports(ptr, 0)[0] == Status.OK:
            pass

    def __enter__(self) -> "Producer":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        if exc_type is None:
            self.close()
            return
        # Already failing: close, and let that error through untouched.
        try:
            self.close()
        except KapokMQError:
            pass

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<kapokmq.{type(self).__name__} {state}>"


class ClusterProducer(Producer):
    """A producer for a KapokMQ cluster: it asks the Serena registry
    (``registry_addr``, ``registry_port``, ``registry_protocol``) for the live
    nodes, connects to every one and follows the list every ``check_time``
    seconds; each message goes to one connected node. Otherwise it is a
    :class:`Producer`::

        with kapokmq.ClusterProducer(topic="orders", producer_id="p1",
                                     registry_addr="10.0.0.5", registry_port=8031) as p:
            p.send("hello")

    Raises ``NoNodesError`` when the registry lists no live node.
    """

    _CONNECT = "kmq_cluster_producer_new"
