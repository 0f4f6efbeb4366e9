"""Status codes and the exception classes, one per status.

Every failing library call raises the class of its status, carrying the
library's own message (``kmq_last_error()``, read on the same thread right
after the call)::

    try:
        kapokmq.Producer(topic="t", producer_id="p", secret_key="wrong")
    except kapokmq.AuthError as e:
        print(e.code, e)   # KMQ_ERR_AUTH kmq_producer_new: ...
"""

from __future__ import annotations

import builtins
import enum
from typing import Dict, Optional, Type


class Status(enum.IntEnum):
    """The values of the C enum ``kmq_status``."""

    OK = 0
    INVALID_ARGUMENT = 1
    AUTH = 2
    CONNECT = 3
    TIMEOUT = 4
    CLOSED = 5
    QUEUE_FULL = 6
    PROTOCOL = 7
    NO_NODES = 8
    INTERNAL = 9

    @property
    def code(self) -> str:
        """The C name of the status, e.g. ``"KMQ_ERR_AUTH"``."""
        return "KMQ_OK" if self is Status.OK else "KMQ_ERR_" + self.name


class KapokMQError(Exception):
    """Base class of every kapokmq error.

    ``status`` is the :class:`Status`, ``code`` its C name (``"KMQ_ERR_..."``,
    the same string the Node binding puts in ``.code``), ``str(e)`` the message.
    """

    status: Status = Status.INTERNAL
    #: For a batch send (``send_many``): how many of its messages were
    #: enqueued before it stopped; ``None`` for every other call.
    accepted: Optional[int] = None

    def __init__(self, message: str) -> None:
        # One argument only: OSError (a base of TimeoutError) reads two
        # arguments as (errno, strerror).
        super().__init__(message)
        self.message = message

    @property
    def code(self) -> str:
        return self.status.code

    def __str__(self) -> str:
        return self.message


class InvalidArgumentError(KapokMQError, ValueError):
    """A bad name, config key or value, empty or non-UTF-8 data."""

    status = Status.INVALID_ARGUMENT


class AuthError(KapokMQError):
    """The secret key was rejected."""

    status = Status.AUTH


class ConnectError(KapokMQError):
    """The server cannot be reached, or the handshake failed."""

    status = Status.CONNECT


class TimeoutError(KapokMQError, builtins.TimeoutError):  # noqa: A001 (the API's name)
    """The operation did not complete in time; also the built-in ``TimeoutError``."""

    status = Status.TIMEOUT


class ClosedError(KapokMQError):
    """The handle is closed, or its connection is lost for good."""

    status = Status.CLOSED


class QueueFullError(KapokMQError):
    """The producer already holds ``queue_max`` unconfirmed messages."""

    status = Status.QUEUE_FULL


class ProtocolError(KapokMQError):
    """The peer broke the protocol."""

    status = Status.PROTOCOL


class NoNodesError(KapokMQError):
    """The registry answered, but no MQ node is alive."""

    status = Status.NO_NODES


class InternalError(KapokMQError):
    """A bug in kapokmq (a caught panic or a broken invariant)."""

    status = Status.INTERNAL


_BY_STATUS: Dict[int, Type[KapokMQError]] = {
    cls.status: cls
    for cls in (
        InvalidArgumentError,
        AuthError,
        ConnectError,
        TimeoutError,
        ClosedError,
        QueueFullError,
        ProtocolError,
        NoNodesError,
        InternalError,
    )
}


def error_for(status: int, message: str) -> KapokMQError:
    """The exception for a failed call's status (an unknown value is internal)."""
    cls = _BY_STATUS.get(status)
    if cls is None:
        return InternalError(f"{message} (unknown status {status})")
    return cls(message)
