"""The lifetime of one C producer or consumer handle.

The C API lets any thread close a handle at any time (closing wakes every
call blocked on it), but freeing it while another thread is still inside a
call would be a use-after-free. So every call borrows the pointer with
:meth:`Handle.acquire` / :meth:`Handle.release`; :meth:`Handle.close`
closes at once, and whoever gives the handle back last frees it, exactly once.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any, Callable, Optional, Type, TypeVar

from ._lib import last_error, stats_from
from .errors import ClosedError

_S = TypeVar("_S")


class Handle:
    __slots__ = ("_ptr", "_lock", "_users", "_closed", "_close_fn", "_free_fn", "_what")

    def __init__(
        self,
        ptr: Any,
        close_fn: Callable[[Any], None],
        free_fn: Callable[[Any], None],
        what: str,
    ) -> None:
        self._ptr = ptr
        self._lock = threading.Lock()
        self._users = 0
        self._closed = False
        self._close_fn = close_fn
        self._free_fn = free_fn
        self._what = what

    @property
    def closed(self) -> bool:
        return self._closed

    def acquire(self) -> Any:
        """The live pointer, borrowed until :meth:`release`; ``ClosedError``
        once closed."""
        with self._lock:
            if self._closed:
                raise ClosedError(f"the {self._what} is closed")
            self._users += 1
            return self._ptr

    def release(self) -> None:
        with self._lock:
            self._users -= 1
            if not self._closed or self._users or self._ptr is None:
                return
            ptr, self._ptr = self._ptr, None
        self._free_fn(ptr)

    def close(self, last_use: Optional[Callable[[Any], None]] = None) -> bool:
        """Closes the handle and frees it once nobody uses it. ``last_use``
        runs with the closed, not yet freed pointer, to take what the handle
        still holds. Returns False when it was closed already."""
        with self._lock:
            if self._closed:
                return False
            self._closed = True
            # Borrowed like any call, so a concurrent release cannot free
            # the pointer under the C close.
            self._users += 1
            ptr = self._ptr
        try:
            self._close_fn(ptr)
            if last_use is not None:
                last_use(ptr)
        finally:
            self.release()
        return True


def read_stats(handle: Handle, getter: Callable[..., int], struct: Type[ctypes.Structure], cls: Type[_S]) -> _S:
    """The counters ``getter`` (``kmq_*_get_stats``) copies out of the
    handle, as a ``cls`` dataclass."""
    raw = struct()
    ptr = handle.acquire()
    try:
        status = getter(ptr, ctypes.byref(raw))
        if status:
            raise last_error(status)
    finally:
        handle.release()
    return stats_from(cls, raw)
