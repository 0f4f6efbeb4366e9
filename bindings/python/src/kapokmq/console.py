"""The console: one MQ node's HTTP API (sending without a socket, and the
node's queries)."""

from __future__ import annotations

import ctypes
import datetime
import json
import operator
import weakref
from typing import Any, Callable, Dict, List, Optional, Union

from . import _config
from ._config import c_string
from ._handle import Handle
from ._lib import ConsoleP, last_error, lib
from .errors import InternalError
from .producer import Data, payload

#: A time of :meth:`Console.list_messages`: ``"YYYY-MM-DD hh:mm:ss"`` or a datetime.
Time = Union[str, datetime.datetime]

#: ``status`` of :meth:`Console.list_messages`: every message.
ALL_STATUSES = 3


def _time_text(value: Time, what: str) -> bytes:
    """The node's time format. A naive datetime is taken as the node's local
    time; an aware one is converted to this machine's local time (the node's,
    when both share a time zone)."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone()
        value = value.strftime("%Y-%m-%d %H:%M:%S")
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str or a datetime, not {type(value).__name__}")
    return c_string(value, what)


def _no_close(_ptr: Any) -> None:
    """A console holds no connection to close: its calls end by themselves
    within ``connect_timeout_ms``, and the handle is freed after the last."""


class Console:
    """A client of one KapokMQ node's HTTP API.

    Keyword arguments are the library's config keys: ``mq_addr``
    (127.0.0.1), ``mq_port`` (8011), ``mq_protocol`` (``wss`` for https),
    ``secret_key`` (test), ``connect_timeout_ms`` (5000, the limit of each
    call), ``tls_ca_file``, ``tls_verify``, ``tls_pin_sha256``. Creating one does no I/O; each
    call is one HTTP request and blocks its thread (not the others: the GIL
    is released) for at most ``connect_timeout_ms``::

        with kapokmq.Console(mq_addr="127.0.0.1", mq_port=8011) as console:
            code = console.send("orders", "hello")   # the message's code
            console.get_message(code)                # {"MessageCode": ..., ...}
            console.count()                          # {"all": 1, ...}

    Errors are the usual exceptions: ``ConnectError`` (unreachable, or no
    answer in time), ``AuthError`` (key rejected), ``ProtocolError`` (the
    node refused the request), ``InvalidArgumentError``. A console may be
    shared between threads.
    """

    def __init__(self, **config: Any) -> None:
        cfg = _config.build(config)
        try:
            out = ConsoleP()
            status = lib.kmq_console_new(cfg, ctypes.byref(out))
            if status:
                raise last_error(status)
        finally:
            _config.free(cfg)
        self._handle = Handle(out, _no_close, lib.kmq_console_free, "console")
        self._finalizer = weakref.finalize(self, self._handle.close)

    # -- calls ---------------------------------------------------------------

    def _call(self, fn: Callable[..., int], *args: Any) -> None:
        ptr = self._handle.acquire()
        try:
            status = fn(ptr, *args)
            if status:
                # Read before the release, which may free the handle.
                raise last_error(status)
        finally:
            self._handle.release()

    def _text(self, fn: Callable[..., int], *args: Any) -> str:
        """Calls ``fn`` with a ``char **`` last and returns (and frees) the
        string the library hands out."""
        out = ctypes.c_void_p()
        self._call(fn, *args, ctypes.byref(out))
        if not out.value:
            raise InternalError(f"{fn.__name__} succeeded without an answer")
        try:
            return ctypes.string_at(out.value).decode("utf-8")
        finally:
            lib.kmq_string_free(out.value)

    def _json(self, fn: Callable[..., int], *args: Any) -> Any:
        return json.loads(self._text(fn, *args))

    # -- the API -------------------------------------------------------------

    def send(self, topic: str, data: Data, delay: int = 0) -> str:
        """Sends one message over HTTP and returns its message code once the
        node has stored it. ``data`` is ``str`` or UTF-8 bytes (not empty);
        ``delay`` whole seconds."""
        raw = payload(data)
        return self._text(
            lib.kmq_console_send,
            c_string(topic, "topic"),
            raw,
            len(raw),
            operator.index(delay),
        )

    def ping(self) -> None:
        """Returns when the node answers; raises otherwise."""
        self._call(lib.kmq_console_ping)

    def clients(self) -> Dict[str, List[Dict[str, Any]]]:
        """The connected clients: ``{"consumers": [...], "producers": [...]}``,
        each entry as the node gives it (``ConsumerId`` / ``ProducerId``,
        ``Topic``, ``ConsumerIp`` / ``ProducerIp``, ``JoinTime``)."""
        answer = self._json(lib.kmq_console_clients)
        # The node says null for an empty list.
        return {key: answer.get(key) or [] for key in ("consumers", "producers")}

    def server_config(self) -> Dict[str, Any]:
        """The node's settings (``pushCount``, ``pushType``, ``isCluster``, ...)."""
        result: Dict[str, Any] = self._json(lib.kmq_console_server_config)
        return result

    def count(self) -> Dict[str, int]:
        """Message counts: ``{"all": N, "consumed": N, "delay": N, "unconsumed": N}``."""
        result: Dict[str, int] = self._json(lib.kmq_console_count)
        return result

    def get_message(self, code: str) -> Optional[Dict[str, Any]]:
        """The stored message with ``code`` (``MessageCode``, ``MessageData``,
        ``Topic``, ``CreateTime``, ``ConsumedTime``, ``DelayTime``,
        ``Status``), or None when the node has none."""
        result: Optional[Dict[str, Any]] = self._json(
            lib.kmq_console_get_message, c_string(code, "message code")
        )
        return result

    def list_messages(
        self, start: Time, end: Time, status: int = ALL_STATUSES, topic: str = ""
    ) -> List[Dict[str, Any]]:
        """Messages created between ``start`` and ``end`` (the node's local
        time, ``"YYYY-MM-DD hh:mm:ss"`` or a datetime) with ``status`` (-1
        waiting, 0 delayed, 1 consumed, 3 all) on ``topic`` (``""``: every
        topic), newest first, without their data."""
        result: Optional[List[Dict[str, Any]]] = self._json(
            lib.kmq_console_list_messages,
            _time_text(start, "start"),
            _time_text(end, "end"),
            operator.index(status),
            c_string(topic, "topic"),
        )
        return result or []

    def delete_message(self, code: str) -> None:
        """Deletes the stored message with ``code`` (an unknown code is no error)."""
        self._call(lib.kmq_console_delete_message, c_string(code, "message code"))

    def nodes(self) -> Optional[List[Dict[str, Any]]]:
        """The node's view of its cluster (``Name``, ``Addr``, ``Port`` per
        node), or None when the node is not in cluster mode."""
        result: Optional[List[Dict[str, Any]]] = self._json(lib.kmq_console_nodes)
        return result

    # -- lifetime ------------------------------------------------------------

    @property
    def closed(self) -> bool:
        return self._handle.closed

    def close(self) -> None:
        """Frees the client (once calls in other threads have returned);
        later calls raise ``ClosedError``. Closing twice does nothing."""
        self._handle.close()
        self._finalizer.detach()

    def __enter__(self) -> "Console":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else "open"
        return f"<kapokmq.Console {state}>"
