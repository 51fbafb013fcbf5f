"""All series of all runs, fed by `Update`s from the sources.

One lock guards everything: the ingest thread applies updates under it, the UI and the
detectors read under it. `version` grows with every change so readers can skip work.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from mlmon_tui.records.metrics import HistogramPoint, Problem, Update
from mlmon_tui.store.classification import ClassificationStore
from mlmon_tui.store.series import FEW_POINTS, Series

MAX_HISTOGRAMS_PER_TAG = 2000


@dataclass
class RunInfo:
    name: str
    kinds: set[str] = field(default_factory=set)
    meta: dict = field(default_factory=dict)
    last_step: int | None = None
    first_wall: float | None = None
    last_wall: float | None = None  # wall time of the newest point (as logged)
    last_seen: float | None = None  # time.time() when data last arrived here
    points: int = 0
    # (arrival time, last step) about once a second, for a rate where logged times are absent
    arrivals: deque = field(default_factory=lambda: deque(maxlen=240))


class Store:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.version = 0
        self._series: dict[tuple[str, str], Series] = {}
        self._runs: dict[str, RunInfo] = {}
        self._sources: dict[str, int] = {}
        self._run_tags: dict[str, set[str]] = {}
        self.histograms: dict[tuple[str, str], list[HistogramPoint]] = {}
        self.problems: list[Problem] = []
        self._problem_keys: set[tuple[str, str]] = set()
        self.classification = ClassificationStore()  # curves, confusion matrices
        # run -> (series, its rewrites, its length then, logged times genuine?): see
        # steps_per_second
        self._timed: dict[str, tuple[Series, int, int, bool]] = {}

    # -- writing ---------------------------------------------------------------------
    def apply(self, update: Update, kind: str = "") -> set[tuple[str, str]]:
        """Apply one update; returns the (run, tag) keys whose points changed."""
        changed: set[tuple[str, str]] = set()
        if not update:
            return changed
        now = time.time()
        stale: set[str] = set()
        with self.lock:
            for source in update.resets:
                src = self._sources.get(source)
                if src is None:
                    continue
                for key, series in self._series.items():
                    if series.drop_source(src):
                        changed.add(key)
                        stale.add(key[0])
            for batch in update.scalars:
                if not len(batch):
                    continue
                key = (batch.run, batch.tag)
                series = self._series.get(key)
                if series is None:
                    series = self._series[key] = Series()
                    self._run_tags.setdefault(batch.run, set()).add(batch.tag)
                before = len(series)
                purged = batch.purge_orphans and before and batch.step[0] < series.last_step
                series.append(
                    batch.step, batch.wall, batch.value, self._source_id(batch.source),
                    purge_orphans=batch.purge_orphans,
                )
                changed.add(key)
                info = self.run_info(batch.run)
                if kind:
                    info.kinds.add(kind)
                info.last_seen = now
                if purged:
                    stale.add(batch.run)
                else:
                    info.points += len(series) - before
                    if len(batch) <= FEW_POINTS:  # the live case: no numpy reductions
                        steps, walls = batch.step.tolist(), batch.wall.tolist()
                        ls, fw, lw = int(max(steps)), float(min(walls)), float(max(walls))
                    else:
                        ls = int(batch.step.max())
                        fw, lw = float(batch.wall.min()), float(batch.wall.max())
                    info.last_step = ls if info.last_step is None else max(info.last_step, ls)
                    info.first_wall = fw if info.first_wall is None else min(info.first_wall, fw)
                    info.last_wall = lw if info.last_wall is None else max(info.last_wall, lw)
            for h in update.histograms:
                hist = self.histograms.setdefault((h.run, h.tag), [])
                hist.append(h)
                if len(hist) > MAX_HISTOGRAMS_PER_TAG:
                    del hist[: len(hist) - MAX_HISTOGRAMS_PER_TAG]
                info = self.run_info(h.run)
                info.last_seen = now
                if kind:
                    info.kinds.add(kind)
            if update.classifications or (update.resets and self.classification.version):
                for run in self.classification.apply(update.classifications, update.resets):
                    self.run_info(run).last_seen = now
                    self.version += 1
            for p in update.problems:
                self.add_problem(p)
            for run, meta in update.meta.items():
                self.run_info(run).meta.update(meta)
            for run in stale:
                self._refresh_run(run)
            for run in {r for r, _ in changed}:
                info = self._runs[run]
                if info.last_step is not None:
                    arr = info.arrivals
                    if arr and now - arr[-1][0] < 1.0:
                        arr[-1] = (arr[-1][0], info.last_step)
                    else:
                        arr.append((now, info.last_step))
            if changed or update.problems or update.meta or update.histograms:
                self.version += 1
        return changed

    def add_problem(self, p: Problem) -> None:
        with self.lock:
            key = (p.path, p.message)
            if key not in self._problem_keys:
                self._problem_keys.add(key)
                self.problems.append(p)
                self.version += 1

    # -- reading ---------------------------------------------------------------------
    def series(self, run: str, tag: str) -> Series | None:
        return self._series.get((run, tag))

    def keys(self) -> list[tuple[str, str]]:
        with self.lock:
            return sorted(self._series)

    def runs(self) -> list[str]:
        with self.lock:
            return sorted(self._runs)

    def tags(self, run: str | None = None) -> list[str]:
        with self.lock:
            if run is not None:
                return sorted(self._run_tags.get(run, ()))
            return sorted({t for tags in self._run_tags.values() for t in tags})

    def run_info(self, run: str) -> RunInfo:
        info = self._runs.get(run)
        if info is None:
            info = self._runs[run] = RunInfo(run)
        return info

    def has_run(self, run: str) -> bool:
        return run in self._runs

    def steps_per_second(self, run: str, window: float = 60.0) -> float | None:
        """Steps per second over the last `window` seconds. From the logged wall times of the
        run's longest series when they are genuine (most points carry their own time);
        otherwise (formats without a time column) from when new steps arrived here."""
        with self.lock:
            best = None
            for tag in self._run_tags.get(run, ()):
                s = self._series[(run, tag)]
                if len(s) >= 2 and (best is None or len(s) > len(best)):
                    best = s
            if best is not None and self._times_genuine(run, best):
                wall, step = best.wall[-256:], best.step[-256:]
                i = min(int(np.searchsorted(wall, wall[-1] - window)), len(wall) - 2)
                dt = float(wall[-1] - wall[i])
                if dt > 0:
                    return float(step[-1] - step[i]) / dt
            info = self._runs.get(run)
            if info is None or len(info.arrivals) < 2:
                return None
            t1, s1 = info.arrivals[-1]
            t0, s0 = next(((t, s) for t, s in info.arrivals if t >= t1 - window),
                          info.arrivals[0])
            if t1 - t0 < 2.0:
                return None
            return float(s1 - s0) / (t1 - t0)

    def _times_genuine(self, run: str, best: Series) -> bool:
        """Whether the last 256 points of `best` are in time order with most times their
        own; looked at again every 64 new points (the runs list asks every second)."""
        kept = self._timed.get(run)
        n = len(best)
        if (kept is not None and kept[0] is best and kept[1] == best.rewrites
                and kept[2] <= n < kept[2] + 64):
            return kept[3]
        wall = best.wall[-256:]
        d = np.diff(wall)
        ok = bool((d >= 0).all() and (1 + np.count_nonzero(d)) * 2 >= len(wall))
        self._timed[run] = (best, best.rewrites, n, ok)
        return ok

    def total_points(self) -> int:
        with self.lock:
            return sum(len(s) for s in self._series.values())

    def nbytes(self) -> int:
        with self.lock:
            return sum(s.nbytes for s in self._series.values())

    # -- internals -------------------------------------------------------------------
    def _source_id(self, source: str) -> int:
        src = self._sources.get(source)
        if src is None:
            src = self._sources[source] = len(self._sources) % 65536
        return src

    def _refresh_run(self, run: str) -> None:
        info = self.run_info(run)
        last_step = first_wall = last_wall = None
        points = 0
        for tag in self._run_tags.get(run, ()):
            s = self._series[(run, tag)]
            if not len(s):
                continue
            points += len(s)
            ls, lw, fw = s.last_step, float(s.wall.max()), float(s.wall.min())
            last_step = ls if last_step is None else max(last_step, ls)
            last_wall = lw if last_wall is None else max(last_wall, lw)
            first_wall = fw if first_wall is None else min(first_wall, fw)
        info.last_step, info.first_wall, info.last_wall, info.points = (
            last_step, first_wall, last_wall, points,
        )
