"""Waiting without losing Ctrl-C.

A thread inside a foreign call runs no Python signal handler, and only the
main thread receives signals. So a wait of unknown length is never one long
foreign call on the main thread: it is cut into slices of at most
:data:`SLICE_S`, between which ``KeyboardInterrupt`` can be raised.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any, Callable, List, Optional, Tuple

from ._handle import Handle
from ._lib import last_error
from .errors import InternalError, InvalidArgumentError, KapokMQError, Status

SLICE_S = 0.2
_SLICE_MS = int(SLICE_S * 1000)


def to_ms(timeout: Optional[float]) -> int:
    """Seconds (``None``: no limit) as the library's milliseconds (-1: no limit)."""
    if timeout is None or timeout == math.inf:
        return -1
    if timeout < 0 or math.isnan(timeout):
        raise InvalidArgumentError(f"timeout {timeout!r}: use None (no limit) or seconds >= 0")
    return math.ceil(timeout * 1000)


def deadline(timeout: Optional[float]) -> Optional[float]:
    """The ``time.monotonic()`` at which a wait of ``timeout`` seconds ends."""
    ms = to_ms(timeout)
    return None if ms < 0 else time.monotonic() + ms / 1000


def slice_ms(until: Optional[float]) -> int:
    """How long the next slice of a wait ending at ``until`` may last."""
    if until is None:
        return _SLICE_MS
    left = math.ceil((until - time.monotonic()) * 1000)
    return max(0, min(_SLICE_MS, left))


def expired(until: Optional[float]) -> bool:
    return until is not None and time.monotonic() >= until


def _finish(handle: Handle, status: int) -> None:
    """Gives the handle back and raises the call's error, read first: the
    release may free the handle, a library call that would replace it."""
    try:
        if status:
            raise last_error(status)
    finally:
        handle.release()


def run_blocking(
    handle: Handle, fn: Callable[..., int], *args: Any, no_wait: Optional[Tuple[Any, ...]] = None
) -> None:
    """Runs ``fn(ptr, *args)``, a library call that waits for the network and
    cannot be cut into slices without changing what it does (it enqueues a
    message, or fixes which messages a flush waits for), and raises its error.

    On the main thread the call runs on a helper thread while the main
    thread waits for it in slices; after Ctrl-C the helper finishes the call
    by itself (bounded by its timeout, ``message_timeout_ms``, or a close),
    and the handle stays alive until it has. ``no_wait``, when given, are
    arguments for a first attempt that does not wait, made on the calling
    thread: when it already succeeds, no helper thread is needed.
    """
    ptr = handle.acquire()
    if threading.current_thread() is not threading.main_thread():
        _finish(handle, fn(ptr, *args))
        return
    if no_wait is not None:
        status = fn(ptr, *no_wait)
        if status != Status.TIMEOUT or no_wait == args:
            _finish(handle, status)
            return

    outcome: List[Optional[KapokMQError]] = []

    def call() -> None:
        try:
            status = fn(ptr, *args)
            outcome.append(last_error(status) if status else None)
        finally:
            handle.release()

    try:
        helper = threading.Thread(target=call, name="kapokmq-wait", daemon=True)
        helper.start()
    except BaseException:
        handle.release()
        raise
    while helper.is_alive():
        helper.join(SLICE_S)
    if not outcome:
        raise InternalError(f"{getattr(fn, '__name__', 'call')}: the waiting thread failed")
    if outcome[0] is not None:
        raise outcome[0]
