"""Keyword arguments to a ``kmq_config``: keys as given, values through ``str()``."""

from __future__ import annotations

from typing import Any, Mapping

from ._lib import ConfigP, last_error, lib
from .errors import InvalidArgumentError


def c_string(text: str, what: str) -> bytes:
    """``text`` as UTF-8 for a ``const char *`` argument."""
    raw = text.encode("utf-8")
    # C reads up to the first NUL: a value cut there would be set silently.
    if b"\0" in raw:
        raise InvalidArgumentError(f"{what} contains a NUL character")
    return raw


def build(settings: Mapping[str, Any]) -> Any:
    """A new ``kmq_config`` holding ``settings``; the caller frees it.

    The library checks every key and value: an unknown key or a bad value
    raises ``InvalidArgumentError`` naming the key.
    """
    cfg = lib.kmq_config_new()
    if not cfg:
        raise MemoryError("kmq_config_new: out of memory")
    try:
        for key, value in settings.items():
            status = lib.kmq_config_set(
                cfg,
                c_string(key, "config key"),
                c_string(str(value), f'config key "{key}": value'),
            )
            if status:
                raise last_error(status)
    except BaseException:
        lib.kmq_config_free(cfg)
        raise
    return cfg


def free(cfg: ConfigP) -> None:  # type: ignore[valid-type]
    lib.kmq_config_free(cfg)
