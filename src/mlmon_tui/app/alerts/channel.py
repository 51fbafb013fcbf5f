"""A delivery channel: jobs go through a bounded queue to one worker thread (the monitor never
waits), or run in the caller (the headless check); every outcome is counted."""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass

QUEUE_SIZE = 64
# the headless check delivers in line: after this many failures in a row (of the kinds in the
# channel's `give_up_on`) it stops trying, so a dead endpoint costs a few timeouts, not one per
# finding
SYNC_GIVE_UP_AFTER = 3

_STOP = object()


@dataclass
class Counters:
    sent: int = 0
    failed: int = 0
    timed_out: int = 0
    dropped: int = 0
    retries: int = 0
    skipped: int = 0
    last_problem: str = ""

    def line(self) -> str:
        parts = [f"{self.sent} sent", f"{self.failed} failed", f"{self.timed_out} timed out",
                 f"{self.dropped} dropped"]
        if self.retries:
            parts.append(f"{self.retries} retries")
        if self.skipped:
            parts.append(f"{self.skipped} not tried (gave up)")
        return ", ".join(parts)


class Outcome:
    SENT, FAILED, TIMED_OUT = "sent", "failed", "timed out"


class Channel:
    """Subclasses implement `deliver(job) -> (outcome, problem)` and `describe()`."""

    name = "channel"
    give_up_on: tuple[str, ...] = ("failed", "timed out")

    def __init__(self, *, sync: bool = False, queue_size: int = QUEUE_SIZE) -> None:
        self.sync = sync
        self.stats = Counters()
        self._lock = threading.Lock()
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, queue_size))
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self._in_row = 0  # failures in a row (sync mode)

    # -- the caller's side -----------------------------------------------------------------
    def submit(self, job) -> None:
        """Hand over a job; returns at once unless the channel is synchronous."""
        if self._closed.is_set():
            return
        if self.sync:
            self._run(job)
            return
        self._ensure_thread()
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            with self._lock:
                self.stats.dropped += 1
                self.stats.last_problem = f"queue full ({self._queue.maxsize}): dropped"

    def pending(self) -> int:
        return self._queue.qsize()

    def drain(self, timeout: float) -> bool:
        """Wait until every queued job is done (tests, shutdown); True when it is."""
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        return done.wait(timeout)

    def close(self) -> None:
        """Stop taking jobs; what is queued is dropped, what runs is stopped."""
        self._closed.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
            with self._lock:
                self.stats.dropped += 1
            self._queue.task_done()
        if self._thread is not None:
            try:
                self._queue.put_nowait(_STOP)
            except queue.Full:
                pass
        self.abort()

    def abort(self) -> None:
        """Stop the job in progress, if the channel can."""

    # -- the worker's side ------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=f"alerts-{self.name}",
                                                daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self._queue.get()
            try:
                if job is _STOP or self._closed.is_set():
                    if job is not _STOP:
                        with self._lock:
                            self.stats.dropped += 1
                    if job is _STOP:
                        return
                    continue
                self._run(job)
            finally:
                self._queue.task_done()

    def _run(self, job) -> None:
        if self.sync and self._in_row >= SYNC_GIVE_UP_AFTER:
            with self._lock:
                self.stats.skipped += 1
                self.stats.failed += 1
            return
        try:
            outcome, problem = self.deliver(job)
        except Exception as e:  # a bug or an odd OS error must not kill the worker
            outcome, problem = Outcome.FAILED, f"{type(e).__name__}: {e}"
        with self._lock:
            if outcome == Outcome.SENT:
                self.stats.sent += 1
                self._in_row = 0
                return
            if outcome == Outcome.TIMED_OUT:
                self.stats.timed_out += 1
            else:
                self.stats.failed += 1
            self.stats.last_problem = problem
            self._in_row = self._in_row + 1 if outcome in self.give_up_on else 0

    def deliver(self, job) -> tuple[str, str]:
        raise NotImplementedError

    def describe(self) -> str:
        return self.name

    def summary(self) -> str:
        with self._lock:
            s = f"{self.describe()}: {self.stats.line()}"
            if self.stats.last_problem:
                s += f"; last problem: {self.stats.last_problem}"
        return s
