"""Waiting without losing Ctrl-C.

A thread inside a foreign call runs no Python signal handler, and only the
main thread runs them. So on the main thread a wait of unknown length is
never one long foreign call: it waits in ``poll()`` on the handle's
readiness descriptor (which a signal interrupts, so ``KeyboardInterrupt``
is raised at once) and then takes what is ready with a call that does not
wait. Other threads make the one waiting call directly. Only when the
library cannot make a descriptor (out of file descriptors) does the main
thread fall back to foreign calls of at most :data:`SLICE_S` each.
"""

from __future__ import annotations

import math
import select
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


def _left_ms(until: Optional[float]) -> int:
    """Milliseconds until ``until`` (-1: no limit)."""
    if until is None:
        return -1
    return max(0, math.ceil((until - time.monotonic()) * 1000))


def slice_ms(until: Optional[float]) -> int:
    """How long the next slice of a wait ending at ``until`` may last."""
    left = _left_ms(until)
    return _SLICE_MS if left < 0 else min(_SLICE_MS, left)


def expired(until: Optional[float]) -> bool:
    return until is not None and time.monotonic() >= until


class Waiter:
    """How one call on one handle waits, until ``until``: pass
    :meth:`call_ms` as the library call's timeout and, when the call timed
    out with time left, call :meth:`wait` before the next.

    ``descriptor`` gives the handle's readiness descriptor (negative when
    the library could not make one); it is asked for only on the main
    thread, and only once a call found nothing ready.
    """

    def __init__(self, until: Optional[float], descriptor: Callable[[], int]) -> None:
        self._until = until
        self._descriptor = descriptor
        self._main = threading.current_thread() is threading.main_thread()
        self._fd: Optional[int] = None
        self._poll: Optional["select.poll"] = None
        self._sliced = False

    def call_ms(self) -> int:
        """The timeout for the next library call."""
        if not self._main:
            return _left_ms(self._until)
        if self._sliced:
            return slice_ms(self._until)
        return 0

    def wait(self) -> None:
        """On the main thread, waits until the descriptor polls readable
        or the time is up; a signal handler's exception (Ctrl-C) ends the
        wait. Elsewhere the library call itself waited: returns at once."""
        if not self._main or self._sliced:
            return
        if self._fd is None:
            fd = self._descriptor()
            if fd < 0:
                self._sliced = True
                return
            self._fd = fd
            if hasattr(select, "poll"):
                self._poll = select.poll()
                self._poll.register(fd, select.POLLIN)
        if self._poll is not None:
            self._poll.poll(_left_ms(self._until))
        else:
            # Windows: no poll(), and the descriptor is a socket, which
            # select() takes. A signal does not end select() there, so it
            # waits in slices for Ctrl-C to be seen.
            select.select([self._fd], [], [], slice_ms(self._until) / 1000)


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
    thread waits for it in ``join()``, which a signal interrupts (the
    library has no descriptor that says when such a call would return);
    after Ctrl-C the helper finishes the call
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
    helper.join()
    if not outcome:
        raise InternalError(f"{getattr(fn, '__name__', 'call')}: the waiting thread failed")
    if outcome[0] is not None:
        raise outcome[0]
