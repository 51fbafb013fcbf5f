"""The store as the charts see it when runs are grouped: a group's name is a run whose
series is the mean of its members' (on the union of their steps), and whose `band` is their
min-max (of the smoothed runs when smoothing is on). Everything else passes through to the
real store. Results are cached until a member's series changes."""

from __future__ import annotations

import numpy as np

from mlmon_tui.analysis.groups import Aggregate, aggregate, smooth_then_aggregate
from mlmon_tui.store.series import Series

GROUP_PREFIX = "group:"


class GroupedStore:
    def __init__(self, store) -> None:
        self.store = store
        self.lock = store.lock
        self.groups: dict[str, list[str]] = {}  # group name -> member runs
        self._mean: dict[tuple[str, str], tuple] = {}
        self._band: dict[tuple[str, str, float], tuple] = {}

    def __getattr__(self, name):
        return getattr(self.store, name)

    def set_groups(self, groups: dict[str, list[str]]) -> None:
        if groups != self.groups:
            self.groups = {k: list(v) for k, v in groups.items()}
            self._mean.clear()
            self._band.clear()

    def _members(self, group: str, tag: str) -> tuple[list, tuple]:
        found = [s for s in (self.store.series(r, tag) for r in self.groups.get(group, ()))
                 if s is not None and len(s)]
        return found, tuple((id(s), s.version, len(s)) for s in found)

    def series(self, run: str, tag: str):
        if run not in self.groups:
            return self.store.series(run, tag)
        members, key = self._members(run, tag)
        if not members:
            return None
        hit = self._mean.get((run, tag))
        if hit is not None and hit[0] == key:
            return hit[1]
        agg = aggregate([(s.step, s.value) for s in members])
        wall = aggregate([(s.step, s.wall) for s in members])
        out = Series()
        if len(agg.step):
            walls = np.interp(agg.step, wall.step, wall.mean) if len(wall.step) else \
                np.zeros(len(agg.step))
            out.append(agg.step.astype(np.int64), walls, agg.mean)
        self._mean[(run, tag)] = (key, out)
        return out

    def band(self, run: str, tag: str, smoothing: float):
        """(steps, low, high) of a group, aligned with its mean series; None for a run."""
        if run not in self.groups:
            return None
        members, key = self._members(run, tag)
        if len(members) < 2:
            return None
        hit = self._band.get((run, tag, smoothing))
        if hit is None or hit[0] != key:
            agg: Aggregate = smooth_then_aggregate([(s.step, s.value) for s in members], smoothing)
            hit = self._band[(run, tag, smoothing)] = (key, agg)
        agg = hit[1]
        return agg.step, agg.lo, agg.hi
