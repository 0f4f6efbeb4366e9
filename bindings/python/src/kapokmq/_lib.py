"""Loads the shared library and declares every function of ``kapokmq.h``.

Each function gets its exact ``argtypes`` and ``restype``: handles travel as
pointers to opaque structs (never as a default ``int``, which would cut a
64-bit pointer), and every call through ``ctypes.CDLL`` releases the GIL.
"""

from __future__ import annotations

import ctypes
import os
from ctypes import POINTER, c_char_p, c_int, c_int32, c_int64, c_size_t, c_uint64, c_void_p
from dataclasses import fields
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple, Type, TypeVar

from .errors import KapokMQError, error_for


class Config(ctypes.Structure):
    """``kmq_config`` (opaque)."""


class ProducerHandle(ctypes.Structure):
    """``kmq_producer`` (opaque)."""


class ConsumerHandle(ctypes.Structure):
    """``kmq_consumer`` (opaque)."""


class ConsoleHandle(ctypes.Structure):
    """``kmq_console`` (opaque)."""


class MessageHandle(ctypes.Structure):
    """``kmq_message`` (opaque)."""


class ProducerStatsStruct(ctypes.Structure):
    _fields_ = [
        ("enqueued", c_uint64),
        ("confirmed", c_uint64),
        ("failed", c_uint64),
        ("resent", c_uint64),
        ("reconnects", c_uint64),
        ("in_flight", c_uint64),
    ]


class CloseReportStruct(ctypes.Structure):
    _fields_ = [
        ("confirmed", c_uint64),
        ("failed", c_uint64),
        ("in_flight", c_uint64),
    ]


NODE_SIZE = 272  # KMQ_NODE_SIZE


class ConnectionStatsStruct(ctypes.Structure):
    _fields_ = [
        ("node", ctypes.c_char * NODE_SIZE),
        ("connected", ctypes.c_int32),
        ("written", c_uint64),
        ("confirmed", c_uint64),
        ("resent", c_uint64),
        ("reconnects", c_uint64),
        ("in_flight", c_uint64),
    ]


class DrainReportStruct(ctypes.Structure):
    _fields_ = [
        ("handed_out", c_uint64),
        ("acked", c_uint64),
        ("unacked", c_uint64),
        ("unread", c_uint64),
    ]


class ConsumerStatsStruct(ctypes.Structure):
    _fields_ = [
        ("received", c_uint64),
        ("acked", c_uint64),
        ("reconnects", c_uint64),
        ("bad_frames", c_uint64),
        ("buffered", c_uint64),
    ]


#: Size of kmq_delivery_report.error (KMQ_REPORT_ERROR_SIZE), NUL included.
REPORT_ERROR_SIZE = 256


class DeliveryReport(ctypes.Structure):
    # The C enum is an int on every platform kapokmq builds for.
    _fields_ = [
        ("id", c_uint64),
        ("status", c_int),
        ("opaque", ctypes.c_void_p),
        ("error", ctypes.c_char * REPORT_ERROR_SIZE),
    ]


class Buf(ctypes.Structure):
    """``kmq_buf``: one message of a batch (``data`` is a plain address)."""

    _fields_ = [("data", c_void_p), ("len", c_size_t)]


ConfigP = POINTER(Config)
ProducerP = POINTER(ProducerHandle)
ConsumerP = POINTER(ConsumerHandle)
MessageP = POINTER(MessageHandle)


class MessageInfo(ctypes.Structure):
    """``kmq_message_info``: every field of a message, read in one call."""

    _fields_ = [
        ("code", c_char_p),
        # Sliced (data[:len]) into bytes: a third of what string_at costs.
        ("data", POINTER(ctypes.c_char)),
        ("len", c_size_t),
        ("topic", c_char_p),
        ("create_time", c_int64),
        ("consumed_time", c_int64),
        ("delay_time", c_int64),
        ("status", c_int32),
    ]
ConsoleP = POINTER(ConsoleHandle)
# Strings kapokmq hands out are read, then given back to kmq_string_free.
OwnedString = POINTER(c_void_p)

# name: (restype, argtypes), in the order of kapokmq.h.
# The log callback's C type: (level, message, user_data).
LogCallback = ctypes.CFUNCTYPE(None, c_int, c_char_p, c_void_p)


class EventStruct(ctypes.Structure):
    """kmq_event: one connection event (its strings live during the call)."""

    _fields_ = [
        ("kind", c_int),
        ("client", c_uint64),
        ("role", c_char_p),
        ("topic", c_char_p),
        ("client_id", c_char_p),
        ("node", c_char_p),
        ("reason", c_char_p),
        ("attempt", ctypes.c_uint32),
        ("delay_ms", c_uint64),
    ]


# The event callback's C type: (event, user_data).
EventCallback = ctypes.CFUNCTYPE(None, POINTER(EventStruct), c_void_p)

SIGNATURES: Dict[str, Tuple[Any, List[Any]]] = {
    # Takes the address kapokmq handed out, so it stays a plain pointer.
    "kmq_string_free": (None, [c_void_p]),
    "kmq_status_str": (c_char_p, [c_int]),
    "kmq_last_error": (c_char_p, []),
    "kmq_version": (c_char_p, []),
    "kmq_config_new": (ConfigP, []),
    "kmq_config_set": (c_int, [ConfigP, c_char_p, c_char_p]),
    "kmq_config_free": (None, [ConfigP]),
    "kmq_console_new": (c_int, [ConfigP, POINTER(ConsoleP)]),
    "kmq_console_send": (c_int, [ConsoleP, c_char_p, c_char_p, c_size_t, c_int64, OwnedString]),
    "kmq_console_ping": (c_int, [ConsoleP]),
    "kmq_console_clients": (c_int, [ConsoleP, OwnedString]),
    "kmq_console_server_config": (c_int, [ConsoleP, OwnedString]),
    "kmq_console_count": (c_int, [ConsoleP, OwnedString]),
    "kmq_console_get_message": (c_int, [ConsoleP, c_char_p, OwnedString]),
    "kmq_console_list_messages": (c_int, [ConsoleP, c_char_p, c_char_p, c_int32, c_char_p, OwnedString]),
    "kmq_console_delete_message": (c_int, [ConsoleP, c_char_p]),
    "kmq_console_nodes": (c_int, [ConsoleP, OwnedString]),
    "kmq_console_free": (None, [ConsoleP]),
    "kmq_consumer_new": (c_int, [ConfigP, POINTER(ConsumerP)]),
    "kmq_cluster_consumer_new": (c_int, [ConfigP, POINTER(ConsumerP)]),
    "kmq_receive": (c_int, [ConsumerP, c_int64, POINTER(MessageP)]),
    "kmq_receive_many": (c_int, [ConsumerP, c_int64, POINTER(MessageP), c_size_t, POINTER(c_size_t)]),
    "kmq_ack": (c_int, [ConsumerP, c_char_p]),
    "kmq_consumer_get_stats": (c_int, [ConsumerP, POINTER(ConsumerStatsStruct)]),
    "kmq_consumer_stats_json": (c_int, [ConsumerP, c_void_p, c_size_t, POINTER(c_size_t)]),
    "kmq_consumer_serial": (c_uint64, [ConsumerP]),
    "kmq_consumer_fd": (c_int, [ConsumerP]),
    "kmq_consumer_drain": (c_int, [ConsumerP, c_int64, POINTER(DrainReportStruct)]),
    "kmq_consumer_close": (None, [ConsumerP]),
    "kmq_consumer_free": (None, [ConsumerP]),
    "kmq_message_code": (c_char_p, [MessageP]),
    # Payload bytes may hold NUL: read them with string_at(ptr, len), so
    # the pointer stays a plain address.
    "kmq_message_data": (c_void_p, [MessageP, POINTER(c_size_t)]),
    "kmq_message_topic": (c_char_p, [MessageP]),
    "kmq_message_create_time": (c_int64, [MessageP]),
    "kmq_message_consumed_time": (c_int64, [MessageP]),
    "kmq_message_delay_time": (c_int64, [MessageP]),
    "kmq_message_status": (c_int32, [MessageP]),
    "kmq_message_get_info": (c_int, [MessageP, POINTER(MessageInfo)]),
    "kmq_message_free": (None, [MessageP]),
    "kmq_set_log_callback": (None, [LogCallback, c_int32, c_void_p]),
    "kmq_set_event_callback": (None, [EventCallback, c_void_p]),
    "kmq_producer_new": (c_int, [ConfigP, POINTER(ProducerP)]),
    "kmq_cluster_producer_new": (c_int, [ConfigP, POINTER(ProducerP)]),
    "kmq_send": (c_int, [ProducerP, c_char_p, c_size_t, c_int64]),
    "kmq_send_tracked": (c_int, [ProducerP, c_char_p, c_size_t, c_int64, POINTER(c_uint64)]),
    "kmq_send_tracked_opaque": (
        c_int,
        [ProducerP, c_char_p, c_size_t, c_int64, c_void_p, POINTER(c_uint64)],
    ),
    "kmq_send_many": (c_int, [ProducerP, POINTER(Buf), c_size_t, c_int64, POINTER(c_size_t)]),
    "kmq_send_many_tracked": (
        c_int,
        [ProducerP, POINTER(Buf), c_size_t, c_int64, POINTER(c_size_t), POINTER(c_uint64)],
    ),
    "kmq_producer_fd": (c_int, [ProducerP]),
    "kmq_poll_reports": (
        c_int,
        [ProducerP, POINTER(DeliveryReport), c_size_t, c_int64, POINTER(c_size_t)],
    ),
    "kmq_send_wait": (c_int, [ProducerP, c_char_p, c_size_t, c_int64, c_int64]),
    "kmq_flush": (c_int, [ProducerP, c_int64]),
    "kmq_flush_begin": (c_int, [ProducerP, c_int64, POINTER(c_uint64)]),
    "kmq_producer_close_begin": (c_int, [ProducerP, c_int64, POINTER(c_uint64)]),
    "kmq_producer_close_report": (c_int, [ProducerP, POINTER(CloseReportStruct)]),
    "kmq_producer_get_stats": (c_int, [ProducerP, POINTER(ProducerStatsStruct)]),
    "kmq_producer_stats_json": (c_int, [ProducerP, c_void_p, c_size_t, POINTER(c_size_t)]),
    "kmq_producer_serial": (c_uint64, [ProducerP]),
    "kmq_prometheus_text": (
        c_int,
        [POINTER(ProducerP), c_size_t, POINTER(ConsumerP), c_size_t, c_void_p, c_size_t, POINTER(c_size_t)],
    ),
    "kmq_producer_connection_stats": (
        c_int,
        [ProducerP, POINTER(ConnectionStatsStruct), c_size_t, POINTER(c_size_t)],
    ),
    "kmq_producer_close": (None, [ProducerP]),
    "kmq_producer_free": (None, [ProducerP]),
}

# Calls that never block (the header says "Never blocks": they take a
# lock for a moment at most) are made holding the GIL. ctypes drops the GIL
# around every other call, and with two busy Python threads (one sending,
# one receiving) each drop hands the GIL over: a handover costs more than
# the call. No library call runs Python code on the calling thread.
HOLDS_GIL = frozenset(
    {
        "kmq_string_free",
        "kmq_status_str",
        "kmq_last_error",
        "kmq_version",
        "kmq_ack",
        "kmq_consumer_get_stats",
        "kmq_consumer_fd",
        "kmq_message_code",
        "kmq_message_data",
        "kmq_message_topic",
        "kmq_message_create_time",
        "kmq_message_consumed_time",
        "kmq_message_delay_time",
        "kmq_message_status",
        "kmq_message_get_info",
        "kmq_message_free",
        "kmq_send",
        "kmq_send_tracked",
        "kmq_send_tracked_opaque",
        "kmq_send_many",
        "kmq_send_many_tracked",
        "kmq_producer_fd",
        "kmq_producer_get_stats",
        "kmq_flush_begin",
        "kmq_producer_close_begin",
        "kmq_producer_close_report",
        "kmq_producer_connection_stats",
        "kmq_producer_stats_json",
        "kmq_consumer_stats_json",
        "kmq_prometheus_text",
        "kmq_producer_serial",
        "kmq_consumer_serial",
    }
)

_SUFFIXES = (".so", ".dylib", ".dll", ".pyd")


def library_path() -> str:
    """Where the library is loaded from: ``$KAPOKMQ_LIB``, else the copy
    installed inside the package."""
    override = os.environ.get("KAPOKMQ_LIB")
    if override:
        return override
    here = Path(__file__).resolve().parent
    # The package carries libkapokmq.so, or kapokmq.dll on Windows (older
    # builds named it like an extension module:
    # libkapokmq.cpython-311-x86_64-linux-gnu.so).
    found = sorted(
        p
        for p in here.iterdir()
        if p.name.startswith(("libkapokmq", "kapokmq")) and p.suffix in _SUFFIXES
    )
    if not found:
        raise ImportError(
            f"kapokmq: no native library in {here} and $KAPOKMQ_LIB is not set; "
            "install the package with `pip install ./bindings/python`, or point "
            "KAPOKMQ_LIB at a built libkapokmq.so"
        )
    return str(found[0])


def _load(path: str) -> Tuple[ctypes.CDLL, ctypes.PyDLL]:
    """The library twice: calls that drop the GIL, and calls that keep it
    (for ``HOLDS_GIL`` and for a receive that does not wait)."""
    try:
        lib = ctypes.CDLL(path)
        held = ctypes.PyDLL(path)
    except OSError as e:
        raise ImportError(f"kapokmq: cannot load the native library {path}: {e}") from e
    for name, (restype, argtypes) in SIGNATURES.items():
        for dll in (lib, held):
            try:
                fn = getattr(dll, name)
            except AttributeError:
                raise ImportError(
                    f"kapokmq: {path} has no function {name}; it is older than this package"
                ) from None
            fn.restype = restype
            fn.argtypes = argtypes
        if name in HOLDS_GIL:
            setattr(lib, name, getattr(held, name))
    return lib, held


LIBRARY_PATH = library_path()
lib, held = _load(LIBRARY_PATH)


def last_error(status: int) -> KapokMQError:
    """The exception for ``status``, with this thread's last error message.

    Call it right after the failing call, before any other library call on
    this thread: the message lives only until then.
    """
    raw: Optional[bytes] = lib.kmq_last_error()
    message = raw.decode("utf-8", "replace") if raw else ""
    if not message:
        message = (lib.kmq_status_str(status) or b"").decode("ascii", "replace")
    return error_for(status, message)


_S = TypeVar("_S")


def stats_from(cls: Type[_S], raw: ctypes.Structure) -> _S:
    """A stats dataclass filled from the C struct's fields of the same names."""
    return cls(**{f.name: getattr(raw, f.name) for f in fields(cls)})  # type: ignore[arg-type]
