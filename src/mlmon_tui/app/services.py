"""The monitor's background parts, wired together: file watching, health analysis, system
sampling and the metrics socket. Everything here runs off the UI thread; the UI reads
results (store, findings, latest snapshot) and is told when data changed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

from mlmon_tui.analysis.config import HealthConfig
from mlmon_tui.analysis.findings import Finding
from mlmon_tui.analysis.monitor import HealthMonitor
from mlmon_tui.analysis.resources import ResourceSample, samples_from_history
from mlmon_tui.app.alerts import AlertOptions, Alerter
from mlmon_tui.sources.base import Problem
from mlmon_tui.sources.watch.remote import RemotePoller, split_targets
from mlmon_tui.sources.watch.watcher import Watcher
from mlmon_tui.store import Store

CLOCK_CHECK_SECONDS = 5.0
# Live data is analysed at most this often: the detectors' cost is mostly per series and
# call, not per point, so ten live runs logging every second cost a third as much; a finding
# shows up at most this much later (the first data is analysed at once).
HEALTH_SECONDS = 3.0


class Services:
    def __init__(
        self,
        paths: list[str],
        store: Store,
        *,
        poll: bool = False,
        gpu: bool = True,
        interval: float = 1.0,
        listen: str | None = "default",
        allow_remote: bool = False,
        config: HealthConfig | None = None,
        on_data: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        alerts: AlertOptions | None = None,
    ) -> None:
        paths, remote = split_targets(paths)  # URLs and sqlite:/// URIs
        self.paths = paths
        self.store = store
        self.clock = clock
        self.on_data = on_data
        self.watcher = Watcher(paths, store, poll=poll, on_change=self._changed,
                               on_tick=self._tick)
        self.remote = RemotePoller(remote, store, on_change=self._changed) if remote else None
        self.health = HealthMonitor(config, process_alive=self._process_alive)
        self.findings: list[Finding] = []
        self.findings_version = 0
        self.alerter = Alerter(alerts)  # each new finding announced once per session
        self._hlock = threading.Lock()
        self._last_clock_check = 0.0
        self._last_health = 0.0  # time.monotonic() of the last analysis of new data
        self._health_keys: set = set()  # series changed since then
        self.listen = listen
        self.allow_remote = allow_remote
        self.server = None
        self.server_status = ""
        self.sampler = None
        self._want_gpu = gpu
        self._interval = interval
        self._ever_had_procs: set[str] = set()
        self._tracker = None

    # -- lifecycle -------------------------------------------------------------------
    def start(self, live: bool = True) -> None:
        if live:
            self._start_server()
            self._start_sampler()
            self.watcher.start()
            if self.remote is not None:
                self.remote.start()
        else:
            self.watcher.load_once()
            if self.remote is not None:
                self.remote.load_once()
            with self._hlock:
                self.health.update(self.store, None, now=self.clock())
                self._publish()

    def stop(self) -> None:
        for part in (self.sampler, self.server, self.remote):
            if part is not None:
                try:
                    part.stop()
                except Exception:
                    pass
        self.watcher.stop()
        self.alerter.close()

    def _start_server(self) -> None:
        if not self.listen or not self.paths:  # nothing but a server URL: no log dir
            return
        try:
            from mlmon_tui.sources.socket.server import SocketServer

            address = None if self.listen == "default" else self.listen
            root = Path(self.paths[0])
            root = root if root.is_dir() else root.parent
            self.server = SocketServer(root, address, allow_remote=self.allow_remote).start()
            self.server_status = f"listening on {self.server.address}"
            for w in getattr(self.server, "warnings", []):
                self.store.add_problem(Problem(str(root), w))
        except Exception as e:  # read-only log dir, a live monitor already there, ...
            self.server = None
            self.server_status = f"not listening: {e}"
            self.store.add_problem(Problem("socket", f"metrics socket not started: {e}"))

    def _start_sampler(self, thread: bool = True) -> None:
        try:
            from mlmon_tui.sources.system.procs import ProcessTracker
            from mlmon_tui.sources.system.sampler import Sampler

            tracker = self._tracker = ProcessTracker(self.watcher.files, self._socket_peers)
            self.sampler = Sampler(interval=self._interval, gpu=self._want_gpu, tracker=tracker)
            if thread:
                self.sampler.start()
        except Exception as e:
            self.sampler = None
            self.store.add_problem(Problem("gauges", f"system gauges unavailable: {e}"))

    def sample_once(self):
        """One gauge sample taken here, with no sampling thread (for a screenshot): two
        ticks a moment apart, so that CPU shares are rates and NVML is opened."""
        if self.sampler is None:
            self._start_sampler(thread=False)
        if self.sampler is None:
            return None
        self.sampler.sample_now()
        time.sleep(0.2)
        return self.sampler.sample_now()

    # -- callbacks (watcher thread) --------------------------------------------------------
    def _changed(self, changed: set) -> None:
        tracker = self._tracker
        if tracker is not None:  # a run writing without a known process: look for it soon
            tracker.note_activity({run for run, _ in changed})
        with self._hlock:
            self._health_keys |= changed
            # the first load is analysed as it comes in (what `check` and the first frames show)
            if (not self.watcher.loaded.is_set()
                    or time.monotonic() - self._last_health >= HEALTH_SECONDS):
                self._analyse()
        if self.on_data is not None:
            self.on_data()

    def _analyse(self) -> bool:
        """Feed the series changed since the last analysis; call with `_hlock` held."""
        keys, self._health_keys = self._health_keys, set()
        self._last_health = time.monotonic()
        try:
            self.health.update(self.store, keys, now=self.clock())
        except Exception as e:
            self.store.add_problem(Problem("health", f"analysis failed: {e!r}", "error"))
        return self._publish()

    def _tick(self) -> None:
        now = time.monotonic()
        if self._health_keys and now - self._last_health >= HEALTH_SECONDS:
            with self._hlock:
                changed = self._analyse()
            if changed and self.on_data is not None:
                self.on_data()
        if now - self._last_clock_check < CLOCK_CHECK_SECONDS:
            return
        self._last_clock_check = now
        with self._hlock:
            try:
                self.health.update(self.store, [], now=self.clock())
                samples = self._resource_samples()
                if samples:
                    self.health.update_resources(samples)
            except Exception as e:
                self.store.add_problem(Problem("health", f"analysis failed: {e!r}", "error"))
            changed = self._publish()
        if changed and self.on_data is not None:
            self.on_data()

    def _publish(self) -> bool:
        """Copy the monitor's findings for the UI; True when they changed."""
        current = list(self.health.findings)
        if [f.key for f in current] == [f.key for f in self.findings]:
            return False
        self.alerter.observe(current)  # hands work to its own threads: returns at once
        self.findings = current
        self.findings_version += 1
        return True

    # -- inputs for the detectors and the process tracker ----------------------------------
    def _socket_peers(self) -> dict[str, set[int]]:
        return self.server.peers if self.server is not None else {}

    def _process_alive(self, run: str) -> bool | None:
        snap = self.sampler.latest if self.sampler is not None else None
        if snap is None:
            return None
        procs = snap.runs.get(run)
        if procs:
            self._ever_had_procs.add(run)
            return True
        return False if run in self._ever_had_procs else None

    def _resource_samples(self) -> list[ResourceSample]:
        snap = self.sampler.latest if self.sampler is not None else None
        if snap is None:
            return []
        return samples_from_history(snap.history, self.sampler.interval, snap.wall)
