"""Statistics documents, the Prometheus page, and connection events.

The library renders both documents; this module reads them out of the
caller's buffer and keeps the list of live clients that
:func:`prometheus_text` shows by default. Events come from one native
callback for the whole process, on the library's log thread, and go to the
``on_event`` function of the client they concern.
"""

from __future__ import annotations

import atexit
import collections
import ctypes
import json
import threading
import weakref
from dataclasses import dataclass
from typing import Any, Callable, Deque, Dict, Iterable, List, Optional

from . import _lib
from ._handle import Handle
from ._lib import ConsumerP, ProducerP, last_error, lib

# kmq_event_kind -> Event.type
_KINDS = {1: "connected", 2: "disconnected", 3: "reconnecting", 4: "node_added", 5: "node_removed"}


@dataclass(frozen=True)
class Event:
    """Something that happened to one of a client's connections.

    ``type`` is ``"connected"``, ``"disconnected"`` (``reason`` says why),
    ``"reconnecting"`` (the ``attempt``-th try comes after ``delay_ms``),
    ``"node_added"`` or ``"node_removed"`` (cluster clients); ``node`` is
    ``"host:port"``."""

    type: str
    node: str
    reason: str
    attempt: int
    delay_ms: int
    role: str
    topic: str
    client_id: str
    #: The client's serial number (``stats_json()["client"]``).
    client: int


def read_document(ptr: Any, fn: Callable[..., int]) -> Dict[str, Any]:
    """The statistics document ``fn`` (``kmq_*_stats_json``) writes for the
    handle ``ptr``, as a dict."""
    return json.loads(_with_room(lambda buf, cap, length: fn(ptr, buf, cap, length), 4096))


def _with_room(call: Callable[[Any, int, Any], int], room: int) -> str:
    length = ctypes.c_size_t()
    while True:
        buf = ctypes.create_string_buffer(room)
        status = call(buf, room, ctypes.byref(length))
        if status == 0:
            return buf.raw[: length.value].decode("utf-8")
        if length.value < room:
            raise last_error(status)
        # Too small: the length needed came back (with room to grow).
        room = length.value + 1 + 1024


def stats_document(handle: Handle, fn: Callable[..., int]) -> Dict[str, Any]:
    ptr = handle.acquire()
    try:
        return read_document(ptr, fn)
    finally:
        handle.release()


# Clients that are open, for prometheus_text() without arguments.
_live: "weakref.WeakSet[Any]" = weakref.WeakSet()


def track(client: Any) -> None:
    _live.add(client)


def prometheus_text(clients: Optional[Iterable[Any]] = None) -> str:
    """A Prometheus page (text exposition format 0.0.4) of ``clients``
    (producers and consumers, blocking or :mod:`kapokmq.aio`), or of every
    open client of the process when none are given::

        kapokmq_producer_confirmed_total{topic="orders",client_id="p1"} 1200

    Serve it from any HTTP handler with content type
    ``text/plain; version=0.0.4``."""
    chosen = list(_live) if clients is None else list(clients)
    producers: List[Any] = []
    consumers: List[Any] = []
    handles: List[Handle] = []
    try:
        for client in chosen:
            sync = getattr(client, "_sync", None) or client
            handle = getattr(sync, "_handle", None)
            if not isinstance(handle, Handle):
                raise TypeError(f"prometheus_text: {client!r} is not a kapokmq producer or consumer")
            if handle.closed and clients is None:
                continue
            ptr = handle.acquire()
            handles.append(handle)
            (producers if isinstance(ptr, ProducerP) else consumers).append(ptr)
        ps = (ProducerP * len(producers))(*producers)
        cs = (ConsumerP * len(consumers))(*consumers)
        return _with_room(
            lambda buf, cap, length: lib.kmq_prometheus_text(ps, len(producers), cs, len(consumers), buf, cap, length),
            16384,
        )
    finally:
        for handle in handles:
            handle.release()


# -- events ------------------------------------------------------------------

_lock = threading.Lock()
# serial -> the client's on_event function.
_handlers: Dict[int, Callable[[Event], Any]] = {}
# Events of clients not yet registered: a client's first events can come
# before its constructor has returned its serial. Bounded; replayed on
# registration.
_early: Deque[Event] = collections.deque(maxlen=256)
_installed = False


def _deliver(raw: Any, _user_data: Any) -> None:
    try:
        e = raw.contents
        text = lambda b: (b or b"").decode("utf-8", "replace")  # noqa: E731
        event = Event(
            type=_KINDS.get(e.kind, str(e.kind)),
            node=text(e.node),
            reason=text(e.reason),
            attempt=e.attempt,
            delay_ms=e.delay_ms,
            role=text(e.role),
            topic=text(e.topic),
            client_id=text(e.client_id),
            client=e.client,
        )
        with _lock:
            handler = _handlers.get(event.client)
            if handler is None:
                _early.append(event)
                return
        handler(event)
    except Exception:  # never let an exception reach C
        import logging

        logging.getLogger("kapokmq").exception("on_event raised")


# Kept referenced for as long as the library may call it.
_CALLBACK = _lib.EventCallback(_deliver)


def install() -> None:
    """Has the library make events from now on (before a client that wants
    them connects, so that its first ones are kept)."""
    global _installed
    with _lock:
        if not _installed:
            lib.kmq_set_event_callback(_CALLBACK, None)
            atexit.register(_stop)
            _installed = True


def attach(client: Any, serial: int, on_event: Optional[Callable[[Event], Any]]) -> None:
    """A client connected: it is listed for :func:`prometheus_text`, and
    its events go to ``on_event`` if given."""
    track(client)
    if on_event is not None:
        listen(serial, on_event)


def listen(serial: int, on_event: Callable[[Event], Any]) -> None:
    """Sends the events of client ``serial`` to ``on_event`` (from the
    library's log thread), those that came before this call first."""
    install()
    with _lock:
        _handlers[serial] = on_event
        early = [e for e in _early if e.client == serial]
        for e in early:
            _early.remove(e)
    for e in early:
        on_event(e)


def forget(serial: int) -> None:
    with _lock:
        _handlers.pop(serial, None)


def _stop() -> None:
    # The library's threads outlive the interpreter's shutdown; a callback
    # into a finalized interpreter would crash the process at exit.
    lib.kmq_set_event_callback(_lib.EventCallback(), None)
