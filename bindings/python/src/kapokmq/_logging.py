"""Forwards the native library's log messages to the ``kapokmq`` logger.

The library prints nothing by itself. Importing kapokmq installs one
callback that hands connection losses, reconnects and failures to Python's
``logging`` (configure handlers and levels as for any other library). Only
messages up to INFO cross into Python: the callback can run on the
library's network thread, which then waits for the GIL, so chatty DEBUG
messages stay on the native side unless :func:`set_log_level` asks for them.
"""

from __future__ import annotations

import atexit
import logging

from . import _lib

logger = logging.getLogger("kapokmq")

# kmq_log_level -> logging level
_LEVELS = {1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG}
_NATIVE = {logging.ERROR: 1, logging.WARNING: 2, logging.INFO: 3, logging.DEBUG: 4}


def _forward(level: int, message: bytes, _user_data: object) -> None:
    try:
        logger.log(_LEVELS.get(level, logging.INFO), message.decode("utf-8", "replace"))
    except Exception:  # pragma: no cover - never let an exception reach C
        pass


# Kept referenced for as long as the library may call it.
_CALLBACK = _lib.LogCallback(_forward)


def set_log_level(level: int) -> None:
    """Sets the most verbose level the library sends to the ``kapokmq``
    logger: ``logging.ERROR``, ``WARNING``, ``INFO`` (the default) or
    ``DEBUG``."""
    native = max((n for py, n in _NATIVE.items() if py >= level), default=4)
    _lib.lib.kmq_set_log_callback(_CALLBACK, native, None)


def _stop_forwarding() -> None:
    # The library's threads outlive the interpreter's shutdown; a callback
    # into a finalized interpreter would crash the process at exit.
    _lib.lib.kmq_set_log_callback(_lib.LogCallback(), 0, None)


set_log_level(logging.INFO)
atexit.register(_stop_forwarding)
