"""Stalls: no new data for much longer than the run's own rhythm.

The rhythm is learned from the gaps between consecutive points of the run's busiest series
(wall time, in a log-spaced histogram so that each new gap costs O(1) and quantiles
O(bins)). Pauses explained by other data (an evaluation or checkpoint logging its results at
the end of the pause) and pauses no longer than ones already seen are normal. A gap where the
writer changed (a resumed run's new file) is a restart, not a stall.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from mlmon_tui.analysis.config import HealthConfig
from mlmon_tui.analysis.detector import View
from mlmon_tui.analysis.findings import Finding

_PER_DECADE = 8
_LO = -4  # 1e-4 s
_NBINS = (7 - _LO) * _PER_DECADE  # up to 1e7 s


def human(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


class Rhythm:
    def __init__(self, run: str, tag: str, cfg: HealthConfig) -> None:
        self.run, self.tag, self.cfg = run, tag, cfg
        self.n = 0
        self.counts = np.zeros(_NBINS, np.int64)
        self.total = 0
        self.max_normal = 0.0
        self.findings: list[Finding] = []  # gaps inside the data
        self._thr: float | None = None  # the threshold, until the histogram changes

    # -- learning ----------------------------------------------------------------------
    def quantile(self, q: float) -> float:
        if not self.total:
            return float("nan")
        k = int(np.searchsorted(np.cumsum(self.counts), q * self.total))
        return 10.0 ** ((min(k, _NBINS - 1) + 1) / _PER_DECADE + _LO)  # upper bin edge

    def threshold(self) -> float | None:
        """Longest gap still normal, or None while the rhythm is not learned yet."""
        if self.total < self.cfg.stall_min_gaps:
            return None
        if self._thr is None:
            q = self.quantile(self.cfg.stall_quantile)
            self._thr = max(self.cfg.stall_factor * q, self.cfg.stall_min_s)
        return self._thr

    def _add(self, counts: np.ndarray, sign: int = 1) -> None:
        """Gaps into (or, with sign -1, back out of) the histogram."""
        if sign > 0:
            self.counts += counts
        else:
            self.counts -= counts
        self.total += sign * int(counts.sum())
        self._thr = None

    @staticmethod
    def _bins(gaps: np.ndarray) -> np.ndarray:
        gaps = gaps[np.isfinite(gaps) & (gaps > 0)]
        k = np.clip(np.floor((np.log10(gaps) - _LO) * _PER_DECADE), 0, _NBINS - 1).astype(int)
        return np.bincount(k, minlength=_NBINS)

    def _learn(self, gaps: np.ndarray) -> None:
        self._add(self._bins(gaps))

    def feed(self, view: View, n0: int, n1: int,
             explained: Callable[[float, float], bool]) -> None:
        lo = max(n0 - 1, 0)
        w = view.wall[lo:n1]
        if len(w) < 2:
            self.n = n1
            return
        gaps = np.diff(w)
        restart = np.zeros(len(gaps), bool)
        if view.src is not None:
            restart = view.src[lo + 1 : n1] != view.src[lo : n1 - 1]
        thr = self.threshold()
        counts = None
        if thr is None:
            # not learned yet: judge this batch against a rhythm that includes it (one long
            # pause among many short gaps barely moves the high quantile)
            counts = self._bins(gaps[~restart])
            self._add(counts)
            thr = self.threshold()
            self._add(counts, -1)
        big = np.zeros(len(gaps), bool)
        if thr is not None:
            with np.errstate(invalid="ignore"):
                big = (gaps > thr) & ~restart
        normal = ~big & ~restart & np.isfinite(gaps)
        if counts is not None and not big.any():  # the same gaps as just binned
            self._add(counts)
        else:
            self._learn(gaps[normal])
        if normal.any():
            self.max_normal = max(self.max_normal, float(np.max(gaps[normal])))
        for j in np.flatnonzero(big):
            a, b = float(w[j]), float(w[j + 1])
            if b - a <= 2.0 * self.max_normal or explained(a, b):
                self.max_normal = max(self.max_normal, b - a)
                continue
            similar = [f for f in self.findings if 0.5 * (b - a) <= f.value <= 2.0 * (b - a)]
            if len(similar) >= 2:
                # the third pause of this length: a recurring evaluation or checkpoint, and
                # the earlier ones were too
                self.findings = [f for f in self.findings if f not in similar]
                self.max_normal = max(self.max_normal, b - a)
                continue
            i = lo + j
            msg = (f"no data for {human(b - a)} after step {int(view.step[i])} (usually every "
                   f"{human(self.quantile(0.5))}): the run stalled and then went on")
            self.findings.append(Finding("stall", "warning", self.run, self.tag,
                                         int(view.step[i]), a, b - a, msg))
            del self.findings[: -self.cfg.max_findings_per_series]
        self.n = n1

    # -- now -----------------------------------------------------------------------------
    def clock(self, now: float, last_wall: float, last_step: int, state: str) -> Finding | None:
        """A stall at the end of the data, judged against `now`. `state` is what is known of
        the writing process: 'alive', 'gone' or 'unknown'."""
        thr = self.threshold()
        if thr is None or not np.isfinite(last_wall):
            return None
        thr = max(thr, 2.0 * self.max_normal)
        quiet = now - last_wall
        if quiet <= thr:
            return None
        if state == "unknown" and quiet > self.cfg.stale_after_s:
            return None  # an old run read after the fact: finished, not stalled
        usual = human(self.quantile(0.5))
        if state == "alive":
            msg = (f"no new data for {human(quiet)} (usually every {usual}) while the "
                   f"training process is still running: it looks hung")
        else:
            msg = f"no new data for {human(quiet)} (usually every {usual}): the run looks stalled"
        return Finding("stall", "warning", self.run, self.tag, int(last_step), last_wall, quiet,
                       msg, extra={"quiet_s": quiet, "usual_gap_s": self.quantile(0.5)})
