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
from typing import Any, Callable, List, Optional, Type, TypeVar

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
        # Guards only the once-only steps (closing, freeing).
        self._lock = threading.Lock()
        # One entry per call in progress. list.append and list.pop are
        # atomic, so borrowing takes no lock: a lock taken and given back
        # twice per call cost more than the library call itself.
        self._users: List[None] = []
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
        # Counted before the flag is read: a close that comes after the
        # read sees this call and leaves the freeing to its release.
        self._users.append(None)
        if self._closed:
            self.release()
            raise ClosedError(f"the {self._what} is closed")
        return self._ptr

    def release(self) -> None:
        self._users.pop()
        if self._closed and not self._users:
            self._free_once()

    def _free_once(self) -> None:
        with self._lock:
            ptr, self._ptr = self._ptr, None
        if ptr is not None:
            self._free_fn(ptr)

    def close(self, last_use: Optional[Callable[[Any], None]] = None) -> bool:
        """Closes the handle and frees it once nobody uses it. ``last_use``
        runs with the closed, not yet freed pointer, to take what the handle
        still holds. Returns False when it was closed already."""
        # Borrowed like any call, before the flag is set, so that no
        # release can free the pointer under the C close.
        self._users.append(None)
        with self._lock:
            already, self._closed = self._closed, True
        if already:
            self.release()
            return False
        try:
            ptr = self._ptr
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
