"""Fixtures: a real kmq-broker process per test, and a unique topic.

The library comes from ``$KAPOKMQ_LIB`` and the broker from ``$KMQ_BROKER``;
by default both are the release build in cargo's target directory, which
tests/artifacts.sh rebuilds first when it is older than its sources.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import IO, Any, Callable, Dict, Iterator, List, Tuple

import pytest

REPO = Path(__file__).resolve().parents[3]


def _artifacts() -> Dict[str, str]:
    """KMQ_BROKER and KAPOKMQ_LIB as tests/artifacts.sh finds (and builds) them."""
    script = REPO / "tests" / "artifacts.sh"
    done = subprocess.run(["bash", str(script), "--build"], stdout=subprocess.PIPE, text=True)
    if done.returncode != 0:
        pytest.exit(f"{script} found no fresh kmq-broker and libkapokmq (see above)", returncode=2)
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


_ARTIFACTS = _artifacts()
os.environ.setdefault("KAPOKMQ_LIB", _ARTIFACTS["KAPOKMQ_LIB"])
BROKER = os.environ.get("KMQ_BROKER", _ARTIFACTS["KMQ_BROKER"])
# The package under test is the one on the path (PYTHONPATH=bindings/python/src
# in the documented command), else the source tree.
if importlib.util.find_spec("kapokmq") is None:
    sys.path.insert(0, str(REPO / "bindings" / "python" / "src"))

import kapokmq  # noqa: E402  (after the path is set)

_READY = re.compile(r"^kmq-broker listening on (\S+):(\d+)$")
_UNSUPPORTED = "kmq-broker unsupported:"
_START_TIMEOUT_S = 15.0


def _first_line(stream: IO[str], timeout: float) -> str:
    """The first line of ``stream``, or "" if none comes within ``timeout`` s."""
    lines: List[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


class Broker:
    """One running kmq-broker process."""

    def __init__(self, *flags: str, port: int = 0) -> None:
        if not os.access(BROKER, os.X_OK):
            pytest.fail(
                f"kmq-broker not found at {BROKER}: "
                "build it (cargo build --release --workspace) or set KMQ_BROKER"
            )
        self.flags = flags
        self.proc = subprocess.Popen(
            [BROKER, "--port", str(port), "--push-speed-ms", "0", *flags],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = _first_line(self.proc.stdout, _START_TIMEOUT_S)
        if line.startswith(_UNSUPPORTED):
            # A server without this test switch (the real node, see tests/real):
            # the test is skipped with the server's reason, never passed.
            self.kill()
            pytest.skip(f"server lacks {' '.join(flags)}: {line[len(_UNSUPPORTED):].strip()}")
        match = _READY.match(line.strip())
        if match is None:
            self.kill()
            pytest.fail(f"kmq-broker {' '.join(flags)} did not report its port: {line!r}")
        self.host = match.group(1)
        self.port = int(match.group(2))

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def restart(self) -> None:
        """Kills the broker and starts it again on the same port (retrying
        while the dead process's sockets still hold it)."""
        self.kill()
        deadline = time.monotonic() + 5
        while True:
            try:
                self.__init__(*self.flags, port=self.port)  # type: ignore[misc]
                return
            except BaseException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def config(self, topic: str) -> Dict[str, Any]:
        """Connection keywords for a client of this broker."""
        return {"mq_addr": self.host, "mq_port": self.port, "topic": topic}

    @contextlib.contextmanager
    def clients(self, topic: str) -> Iterator[Tuple[kapokmq.Consumer, kapokmq.Producer]]:
        """A consumer, then a producer, on ``topic``; both closed afterwards.
        The consumer comes first: the broker pushes a new message only to
        consumers connected at the time."""
        with kapokmq.Consumer(consumer_id="c", **self.config(topic)) as c:
            with kapokmq.Producer(producer_id="p", **self.config(topic)) as p:
                yield c, p


@pytest.fixture
def start_broker() -> Iterator[Callable[..., Broker]]:
    """Starts brokers with extra flags; all are killed after the test."""
    started: List[Broker] = []

    def start(*flags: str) -> Broker:
        b = Broker(*flags)
        started.append(b)
        return b

    yield start
    for b in started:
        b.kill()


@pytest.fixture
def broker(start_broker: Callable[..., Broker]) -> Broker:
    return start_broker()


@pytest.fixture
def topic() -> str:
    return "t-" + uuid.uuid4().hex[:12]
