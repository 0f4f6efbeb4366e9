"""Consumer.run: a handler loop with a thread pool, retries through delayed
messages, and a drain when it is told to stop (an Event, or SIGINT/SIGTERM
on the main thread)."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, Optional

from .errors import ClosedError, KapokMQError

if TYPE_CHECKING:
    from .consumer import Consumer, DrainReport, Message

log = logging.getLogger("kapokmq")

# How often a loop with nothing to do looks at its stop event.
_POLL_S = 0.1
# How long the messages already handed out may take once a stop came.
DRAIN_TIMEOUT_S = 30.0
# How long a retry's copy may take to be confirmed.
RETRY_CONFIRM_S = 30.0


class Retry(Exception):
    """Raised by a handler of :meth:`Consumer.run` to have the message
    handled again after ``delay_s`` seconds: the same data is sent again to
    the same topic as a delayed message (a new message, with a new code),
    and the original is acked once the copy is confirmed."""

    def __init__(self, delay_s: int) -> None:
        super().__init__(f"retry in {delay_s} s")
        self.delay_s = int(delay_s)


def run(
    consumer: "Consumer",
    handler: Callable[["Message"], Any],
    concurrency: int,
    stop: Optional[threading.Event],
    make_producer: Callable[[], Any],
) -> "DrainReport":
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, not {concurrency}")
    stop = stop if stop is not None else threading.Event()
    runner = _Runner(consumer, handler, concurrency, make_producer)
    with _signals_stop(stop):
        return runner.loop(stop)


class _Runner:
    def __init__(
        self,
        consumer: "Consumer",
        handler: Callable[["Message"], Any],
        concurrency: int,
        make_producer: Callable[[], Any],
    ) -> None:
        self.consumer = consumer
        self.handler = handler
        # Messages handed to handlers at once: nothing beyond is taken from
        # the library's buffer, which so applies back-pressure.
        self.slots = threading.Semaphore(concurrency)
        self.pool = ThreadPoolExecutor(concurrency, thread_name_prefix="kapokmq-run")
        self.make_producer = make_producer
        self.producer: Any = None
        self.producer_lock = threading.Lock()
        # Codes of messages left unacked because their handler failed
        # (list.append is atomic: handlers run on several threads).
        self.unacked: list = []

    def loop(self, stop: threading.Event) -> "DrainReport":
        drain: Optional[_Drain] = None
        try:
            while True:
                if stop.is_set() and drain is None:
                    # The library stops taking pushes; what it buffered
                    # still goes to the handlers.
                    drain = _Drain(self.consumer)
                if not self.slots.acquire(timeout=_POLL_S):
                    continue
                try:
                    m = self.consumer.receive(timeout=_POLL_S)
                except ClosedError:
                    self.slots.release()
                    break
                if m is None:
                    self.slots.release()
                    if drain is not None:
                        break  # draining and nothing left to hand out
                    continue
                self.pool.submit(self._handle, m)
        finally:
            # Every handler done (their acks queued): nothing more will be
            # acked, so the drain may end now rather than at its deadline.
            self.pool.shutdown(wait=True)
            if self.producer is not None:
                self.producer.close()
            report = drain.finish(bool(self.unacked)) if drain is not None else None
        from .consumer import DrainReport

        return report or DrainReport(0, 0, 0, 0)

    def _handle(self, m: "Message") -> None:
        try:
            try:
                self.handler(m)
            except Retry as r:
                self._retry(m, r.delay_s)
                return
            self.consumer.ack(m)
        except ClosedError:
            pass  # the drain ran out of time: the node pushes it again
        except Exception:  # noqa: BLE001 - a handler's failure: not acked
            self.unacked.append(m.code)
            log.exception("kapokmq: handler failed on message %s; not acked, the node pushes it again", m.code)
        finally:
            self.slots.release()

    def _retry(self, m: "Message", delay_s: int) -> None:
        with self.producer_lock:
            if self.producer is None:
                self.producer = self.make_producer()
        try:
            self.producer.send_wait(m.data, delay=delay_s, timeout=RETRY_CONFIRM_S)
        except KapokMQError:
            self.unacked.append(m.code)
            log.exception("kapokmq: retry of message %s not confirmed; not acked, the node pushes it again", m.code)
            return
        self.consumer.ack(m)


class _Drain:
    """A consumer's drain, running on a thread of its own while the loop
    hands out what is buffered."""

    def __init__(self, consumer: "Consumer") -> None:
        self.consumer = consumer
        self.report: list = []
        self.thread = threading.Thread(target=self._run, name="kapokmq-drain")
        self.thread.start()

    def _run(self) -> None:
        try:
            self.report.append(self.consumer.drain(DRAIN_TIMEOUT_S))
        except ClosedError:
            pass  # closed by another thread first

    def finish(self, acks_missing: bool) -> Optional["DrainReport"]:
        if acks_missing:
            # Closing ends the drain's wait for acks that will not come (a
            # handler failed); its report counts them unacked.
            self.consumer.close()
        self.thread.join()
        return self.report[0] if self.report else None


class _signals_stop:
    """On the main thread, SIGINT and SIGTERM set ``stop`` (a second one
    stops at once: KeyboardInterrupt); elsewhere nothing changes."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.saved: dict = {}

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self.stop.is_set():
            raise KeyboardInterrupt
        log.warning("kapokmq: signal %d: draining the consumer (again to stop at once)", signum)
        self.stop.set()

    def __enter__(self) -> "_signals_stop":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self.saved[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self.saved.items():
            signal.signal(sig, old)
