"""The sampling thread: host, GPUs and run processes, on a drift-free schedule.

psutil and NVML are called only here, on a daemon thread, never on the UI thread. Each tick
builds one immutable `Snapshot` and publishes it by a single attribute assignment; the UI
reads `sampler.latest` and compares `version`. A call that hangs delays snapshots but never
the screen, and `stop()` never waits for it longer than ~0.2 s.

Schedule: the next deadline is the previous deadline plus `interval`; ticks missed while a
sample ran late are skipped, not caught up.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Mapping
from types import MappingProxyType

from mlmon_tui.records.system import GpuProc, GpuStats, History, HostStats, ProcInfo, Snapshot

from .host import HostSampler
from .nvml import NvmlReader
from .procs import ProcessTracker

HISTORY = 60


class Sampler:
    def __init__(
        self,
        interval: float = 1.0,
        gpu: bool = True,
        tracker: ProcessTracker | None = None,
        history: int = HISTORY,
        nvml: NvmlReader | None = None,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.interval = interval
        self.tracker = tracker
        self._gpu = gpu
        self._nvml = nvml if nvml is not None else (NvmlReader() if gpu else None)
        self._host: HostSampler | None = None
        self._hist_n = history
        self._cpu: deque[float] = deque(maxlen=history)
        self._mem: deque[float] = deque(maxlen=history)
        self._gutil: list[deque[float | None]] = []
        self._gmem: list[deque[float | None]] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._nvml_opened = False
        self.latest: Snapshot | None = None
        self.version = 0
        self.missed_ticks = 0

    # -- one tick ---------------------------------------------------------------------------
    def sample_now(self) -> Snapshot:
        """Take one sample in the calling thread and publish it (for scripts and tests)."""
        with self._lock:
            snap = self._tick()
            self.latest = snap
            self.version = snap.seq
            return snap

    def _gpu_status(self) -> str:
        if not self._gpu:
            return "GPU monitoring off (--no-gpu)"
        assert self._nvml is not None
        if not self._nvml_opened:
            if self.version == 0:
                # the first snapshot goes out with host figures only: NVML's start-up can
                # take seconds (or hang), and the screen should not wait for it
                return "starting NVML…"
            self._nvml_opened = True
            self._nvml.open()
        return self._nvml.status

    def _tick(self) -> Snapshot:
        t0 = time.perf_counter()
        error = ""
        if self._host is None:
            self._host = HostSampler()
        host: HostStats | None = None
        gpus: tuple[GpuStats, ...] = ()
        runs: dict[str, tuple[ProcInfo, ...]] = {}
        status = ""
        try:
            host = self._host.sample()
            status = self._gpu_status()
            if self._nvml is not None and self._nvml.ok:
                gpus = self._nvml.sample()
                status = self._nvml.status
            if self.tracker is not None:
                by_pid: dict[int, dict[int, int]] = {}
                for g in gpus:
                    for p in g.procs:
                        if p.pid is not None and p.used is not None:
                            by_pid.setdefault(p.pid, {})[g.index] = p.used
                runs = self.tracker.sample(by_pid)
        except Exception as err:  # keep sampling; say what broke
            error = f"{type(err).__name__}: {err}"
        tracked = {q.pid for procs in runs.values() for p in procs for q in (p, *p.children)}
        untracked = tuple(
            (g.index, p) for g in gpus for p in g.procs if p.pid is None or p.pid not in tracked
        )
        self._remember(host, gpus)
        seq = self.version + 1
        return Snapshot(
            seq=seq,
            wall=time.time(),
            mono=time.monotonic(),
            host=host,
            gpus=gpus,
            gpu_status=status,
            runs=MappingProxyType(runs),
            untracked_gpu=untracked,
            history=History(
                cpu=tuple(self._cpu),
                mem=tuple(self._mem),
                gpu_util=tuple(tuple(d) for d in self._gutil),
                gpu_mem=tuple(tuple(d) for d in self._gmem),
            ),
            sample_seconds=time.perf_counter() - t0,
            error=error,
        )

    def _remember(self, host: HostStats | None, gpus: tuple[GpuStats, ...]) -> None:
        if host is not None:
            self._cpu.append(host.cpu_percent)
            self._mem.append(host.mem_percent)
        while len(self._gutil) < len(gpus):
            self._gutil.append(deque(maxlen=self._hist_n))
            self._gmem.append(deque(maxlen=self._hist_n))
        for g in gpus:
            self._gutil[g.index].append(g.util)
            self._gmem[g.index].append(g.mem_fraction)

    # -- the thread -------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="mlmon-sampler", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # the first tick comes soon, so the screen has figures within a fraction of a second
        deadline = time.monotonic() + min(self.interval, 0.2)
        try:
            while not self._stop.wait(max(0.0, deadline - time.monotonic())):
                self.sample_now()
                deadline += self.interval
                late = time.monotonic() - deadline
                if late > 0:  # skip missed ticks, do not catch up
                    skipped = math.ceil(late / self.interval)
                    self.missed_ticks += skipped
                    deadline += skipped * self.interval
        finally:
            if self._nvml is not None:
                self._nvml.close()

    def stop(self, timeout: float = 0.2) -> None:
        self._stop.set()
        t = self._thread
        if t is not None and t is not threading.current_thread():
            t.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
