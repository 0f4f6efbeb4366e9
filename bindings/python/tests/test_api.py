"""The binding against the library itself: declarations, statuses, config
checks and connection failures that need no running broker."""

from __future__ import annotations

import builtins
import ctypes
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import kapokmq
from kapokmq import _lib
from kapokmq.errors import error_for

REPO = Path(__file__).resolve().parents[3]
HEADER = REPO / "include" / "kapokmq.h"

_DECL = re.compile(r"^([A-Za-z_][\w \*]*?)\b(kmq_\w+)\(([^)]*)\);", re.M)


def header_functions():
    """name -> (returns void, returns a pointer, parameter count) from kapokmq.h."""
    found = {}
    for ret, name, params in _DECL.findall(HEADER.read_text()):
        params = " ".join(params.split())
        count = 0 if params in ("", "void") else params.count(",") + 1
        found[name] = (ret.strip() == "void", "*" in ret, count)
    return found


def test_every_header_function_is_declared_with_its_arity() -> None:
    declared = header_functions()
    assert len(declared) >= 29, "the header parser found too few functions"
    assert sorted(declared) == sorted(_lib.SIGNATURES)
    for name, (returns_void, returns_pointer, count) in declared.items():
        restype, argtypes = _lib.SIGNATURES[name]
        assert len(argtypes) == count, name
        assert (restype is None) == returns_void, name
        # A pointer result must never be the default int, which cuts 64-bit addresses.
        if returns_pointer:
            assert restype in (ctypes.c_char_p, ctypes.c_void_p) or hasattr(restype, "contents"), (
                name
            )
        func = getattr(_lib.lib, name)
        assert func.restype is restype and func.argtypes == argtypes, name


def test_status_names_match_the_library() -> None:
    for status in kapokmq.Status:
        assert _lib.lib.kmq_status_str(status).decode() == status.code


def test_one_exception_class_per_status() -> None:
    classes = set()
    for status in kapokmq.Status:
        if status is kapokmq.Status.OK:
            continue
        err = error_for(status, "why")
        assert isinstance(err, kapokmq.KapokMQError)
        assert err.status is status and err.code == status.code and str(err) == "why"
        classes.add(type(err))
    assert len(classes) == len(kapokmq.Status) - 1
    assert issubclass(kapokmq.InvalidArgumentError, ValueError)
    assert issubclass(kapokmq.TimeoutError, builtins.TimeoutError)


def test_version_is_the_crate_version() -> None:
    cargo = (REPO / "Cargo.toml").read_text()
    crate_version = re.search(r'^version = "([^"]+)"', cargo, re.M).group(1)  # type: ignore[union-attr]
    assert kapokmq.version() == crate_version


@pytest.mark.parametrize("role", ["producer_id", "consumer_id"])
def test_bad_config_key_is_invalid_argument(role: str) -> None:
    cls = kapokmq.Producer if role == "producer_id" else kapokmq.Consumer
    with pytest.raises(kapokmq.InvalidArgumentError, match='"no_such_key"'):
        cls(topic="t", **{role: "x"}, no_such_key=1)


def test_bad_config_value_names_the_key() -> None:
    with pytest.raises(kapokmq.InvalidArgumentError, match='"mq_port"'):
        kapokmq.Producer(topic="t", producer_id="p", mq_port="eighty")


@pytest.mark.parametrize("name", ["a/b", "a%2Fb", "sp ace", "q?", ""])
def test_bad_name_is_invalid_argument_and_value_error(name: str) -> None:
    with pytest.raises(ValueError) as info:
        kapokmq.Consumer(topic=name, consumer_id="c")
    assert isinstance(info.value, kapokmq.InvalidArgumentError)
    with pytest.raises(kapokmq.InvalidArgumentError, match="producer_id"):
        kapokmq.Producer(topic="t", producer_id=name)


def test_nul_in_a_config_value_is_refused_not_cut() -> None:
    with pytest.raises(kapokmq.InvalidArgumentError, match="NUL"):
        kapokmq.Producer(topic="t\0x", producer_id="p")


def test_closed_port_is_connect_error() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    for cls, role in ((kapokmq.Producer, "producer_id"), (kapokmq.Consumer, "consumer_id")):
        with pytest.raises(kapokmq.ConnectError, match=str(port)):
            cls(topic="t", mq_port=port, connect_timeout_ms=2000, **{role: "x"})


def test_negative_timeout_is_invalid_argument(broker, topic) -> None:
    with kapokmq.Consumer(consumer_id="c", **broker.config(topic)) as c:
        with pytest.raises(kapokmq.InvalidArgumentError):
            c.receive(timeout=-1)


def test_kapokmq_lib_overrides_the_library_path(tmp_path: Path) -> None:
    missing = tmp_path / "libkapokmq.so"
    package_root = str(Path(kapokmq.__file__).resolve().parents[1])
    env = dict(os.environ, KAPOKMQ_LIB=str(missing), PYTHONPATH=package_root)
    probe = "import kapokmq"
    run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True)
    assert run.returncode != 0
    assert "ImportError" in run.stderr and str(missing) in run.stderr
    env["KAPOKMQ_LIB"] = _lib.LIBRARY_PATH
    probe = "import kapokmq; print(kapokmq.LIBRARY_PATH)"
    run = subprocess.run(
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    )
    assert run.stdout.strip() == _lib.LIBRARY_PATH


def test_the_delivery_report_layout_matches_the_header() -> None:
    size = re.search(r"#define KMQ_REPORT_ERROR_SIZE (\d+)", HEADER.read_text())
    assert size is not None
    assert _lib.REPORT_ERROR_SIZE == int(size.group(1))
    # u64 id, int status, padding, void *opaque, char error[...]
    assert ctypes.sizeof(_lib.DeliveryReport) == 8 + 4 + 4 + ctypes.sizeof(ctypes.c_void_p) + int(size.group(1))
