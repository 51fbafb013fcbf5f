"""Divergence (error) and plateau (info) of loss-like series, judged on the rolling median
(the block references of `BlockStats`), relative to the series' own first level and best.
"""

from __future__ import annotations

import numpy as np

from mlmon_tui.analysis.detector import Context, Detector, View
from mlmon_tui.analysis.findings import fmt
from mlmon_tui.analysis.rolling import MAD_TO_SIGMA, BlockStats


class _Blocks(Detector):
    """Walks the new block medians one by one (a handful per 100 points)."""

    def __init__(self, ctx: Context, stats: BlockStats) -> None:
        super().__init__(ctx)
        self.stats = stats
        self.b = 0  # next block to look at
        self.first: float | None = None
        self.best = np.inf
        self.best_b = -1

    def feed(self, view: View, n0: int, n1: int) -> None:
        med = self.stats.med
        for b in range(self.b, len(med)):
            m = med[b]
            if not np.isfinite(m):
                continue
            if self.first is None:
                self.first = float(m)
            self.block(view, b, float(m))
        self.b = len(med)

    def index(self, view: View, b: int) -> int:
        return max(0, min(self.stats.center(b), len(view.step) - 1))

    def block(self, view: View, b: int, m: float) -> None:  # pragma: no cover - interface
        raise NotImplementedError


class DivergenceDetector(_Blocks):
    def __init__(self, ctx: Context, stats: BlockStats) -> None:
        super().__init__(ctx, stats)
        self.over_since: int | None = None  # first block of the current stretch above
        self.reported = False

    def block(self, view: View, b: int, m: float) -> None:
        cfg = self.ctx.cfg
        if m < self.best:
            self.best, self.best_b = m, b
        thr = max(cfg.divergence_frac * (self.first - self.best),
                  cfg.divergence_rel * abs(self.best), 1e-12)
        if m <= self.best + thr:
            self.over_since = None
            if m <= self.best + 0.5 * thr:
                self.reported = False  # came back: a later rise is a new divergence
            return
        if self.over_since is None:
            self.over_since = b
        if self.reported or b - self.over_since + 1 < cfg.divergence_blocks:
            return
        self.reported = True
        # onset: where the smoothed curve left its best level, not where it crossed the bar
        med = self.stats.med[self.best_b : self.over_since]
        near = np.flatnonzero(med <= self.best + 0.25 * thr)
        onset_b = self.best_b + (int(near[-1]) + 1 if len(near) else 0)
        i = self.index(view, onset_b)
        best_i = self.index(view, self.best_b)
        msg = (f"{self.ctx.tag} (smoothed) rose from its best {fmt(self.best)} "
               f"(step {int(view.step[best_i])}) to {fmt(m)} and stayed there: "
               f"the run is diverging")
        self.add(self.finding("divergence", "error", view, i, msg, value=m,
                              best=self.best, best_step=int(view.step[best_i])))


class PlateauDetector(_Blocks):
    """Compares the level at the start and at the end of the trailing stretch (a quarter of
    it each): a trend, not noisy record lows. Checked every 1/16 of the stretch, so the cost
    per block stays constant."""

    def __init__(self, ctx: Context, stats: BlockStats,
                 divergence: DivergenceDetector | None = None) -> None:
        super().__init__(ctx, stats)
        self.divergence = divergence  # a diverged run sitting high is not "a plateau"
        self.next_check = 0
        self.first_b: int | None = None

    def block(self, view: View, b: int, m: float) -> None:
        cfg = self.ctx.cfg
        self.best = min(self.best, m)
        if self.first_b is None:
            self.first_b = b
        span = int(max(cfg.plateau_min_blocks, cfg.plateau_frac * (b + 1)))
        if b + 1 - self.first_b < span or b < self.next_check:
            return
        self.next_check = b + max(1, span // 16)
        med = self.stats.med[b + 1 - span : b + 1]
        q = max(2, span // 4)
        early, late = float(np.median(med[:q])), float(np.median(med[-q:]))
        sigma = MAD_TO_SIGMA * float(np.median(self.stats.mad[b + 1 - q : b + 1]))
        se = 1.2533 * sigma / np.sqrt(q * cfg.block)  # standard error of a quarter's level
        progress = max(self.first - self.best, 0.0)
        thr = max(cfg.plateau_rel * abs(late), 1e-3 * progress, 1e-12)
        # a plateau only when sure: the change, give or take its noise, is below the bar
        if not np.isfinite(early - late) or abs(early - late) + 2.0 * np.sqrt(2.0) * se >= thr:
            self.findings.clear()  # improving, getting worse, or too noisy to tell
            return
        if self.divergence is not None and self.divergence.reported:
            return
        if self.findings:  # still flat: keep the onset, bring the length up to date
            f = self.findings[-1]
            f.message = self._message(f.step, int(view.step[self.index(view, b)]), thr, late)
            f.value = late
            return
        # onset: where the smoothed curve settled at this level
        above = np.flatnonzero(np.abs(self.stats.med[: b + 1] - late) > 2 * thr)
        onset_b = int(above[-1]) + 1 if len(above) else self.first_b
        i = self.index(view, onset_b)
        msg = self._message(int(view.step[i]), int(view.step[self.index(view, b)]), thr, late)
        self.add(self.finding("plateau", "info", view, i, msg, value=late))

    def _message(self, onset: int, now: int, thr: float, level: float) -> str:
        return (f"{self.ctx.tag} has changed by less than {fmt(thr)} for {now - onset} steps "
                f"(since step {onset}, level {fmt(level)}): a plateau")
