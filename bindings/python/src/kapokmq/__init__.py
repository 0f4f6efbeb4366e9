"""kapokmq: a client for the KapokMQ message queue (ctypes over libkapokmq).

::

    import kapokmq

    with kapokmq.Consumer(topic="t", consumer_id="c1") as c, \\
         kapokmq.Producer(topic="t", producer_id="p1") as p:
        p.send("hello")
        p.flush(timeout=10.0)
        m = c.receive(timeout=5.0)
        print(m.text)
        c.ack(m)

Keyword arguments of ``Producer`` and ``Consumer`` are the library's config
keys: ``mq_addr`` (127.0.0.1), ``mq_port`` (8011), ``mq_protocol`` (ws/wss),
``topic``, ``producer_id`` / ``consumer_id``, ``secret_key`` (test),
``check_time``, ``message_timeout_ms``, ``connect_timeout_ms``, ``reconnect_max_ms``, ``queue_max``,
``connections`` (per node, producer), ``max_in_flight``, ``max_in_flight_bytes``, ``receive_buffer``, ``standby_addr`` / ``standby_port`` (consumer),
``tls_ca_file``, ``tls_verify``, ``tls_pin_sha256`` (wss and https);
``ClusterProducer`` and ``ClusterConsumer`` take ``registry_addr``,
``registry_port`` and ``registry_protocol`` instead of a node.
:class:`Console` is a client of a node's HTTP API (send without a socket,
clients, counts, stored messages). Errors are :class:`KapokMQError`
subclasses, one per status. The native library is
the one installed in the package, or ``$KAPOKMQ_LIB`` when set.
"""

from __future__ import annotations

from . import _lib
from ._lib import LIBRARY_PATH
from ._logging import set_log_level
from ._metrics import Event, prometheus_text
from .console import Console
from ._run import Retry
from .consumer import ClusterConsumer, Consumer, ConsumerStats, DrainReport, Message
from .errors import (
    AuthError,
    ClosedError,
    ConnectError,
    InternalError,
    InvalidArgumentError,
    KapokMQError,
    NoNodesError,
    ProtocolError,
    QueueFullError,
    Status,
    TimeoutError,
)
from .producer import ClusterProducer, CloseReport, ConnectionStats, DeliveryCallback, Producer, ProducerStats

__version__ = "0.2.0"

__all__ = [
    "AuthError",
    "ClosedError",
    "ClusterConsumer",
    "ClusterProducer",
    "ConnectError",
    "Console",
    "Consumer",
    "ConsumerStats",
    "DrainReport",
    "Event",
    "Retry",
    "DeliveryCallback",
    "InternalError",
    "InvalidArgumentError",
    "KapokMQError",
    "LIBRARY_PATH",
    "Message",
    "NoNodesError",
    "Producer",
    "ProducerStats",
    "ConnectionStats",
    "CloseReport",
    "ProtocolError",
    "QueueFullError",
    "Status",
    "TimeoutError",
    "set_log_level",
    "prometheus_text",
    "version",
]


def version() -> str:
    """The native library's version, ``"MAJOR.MINOR.PATCH"``."""
    raw: bytes = _lib.lib.kmq_version()
    return raw.decode("ascii")
