"""Spikes (loss and gradient tags) and exploding gradients: a point far above the rolling
median, measured in robust units (MAD) and relative to the level, so that noise on values near
1e-4 and near 10 are judged alike.

Positive series are judged as ratios to the median against the MAD of the logarithms (noise
in training is multiplicative); others linearly.

A candidate waits `spike_recover_points` points to say whether it recovered. A jump that does
not come back is a level change (a warm restart, a schedule change) and is only reported when
it is far larger than the threshold; a lasting rise is the divergence detector's business.
"""

from __future__ import annotations

import numpy as np

from mlmon_tui.analysis.detector import Context, Detector, View
from mlmon_tui.analysis.findings import fmt
from mlmon_tui.analysis.rolling import MAD_TO_SIGMA, BlockStats
from mlmon_tui.analysis.tags import GRAD


class SpikeDetector(Detector):
    def __init__(self, ctx: Context, stats: BlockStats) -> None:
        super().__init__(ctx)
        self.stats = stats
        self.grad = ctx.cls == GRAD
        self.pending: list[tuple[int, float, float, bool]] = []  # (index, median, thr, explode)
        self.quiet_until = -1  # points up to here belong to the last event
        self.elevated: tuple[float, int] | None = None  # (level, checked up to) after a jump

    def feed(self, view: View, n0: int, n1: int) -> None:
        cfg = self.ctx.cfg
        v = view.value[n0:n1]
        idx = np.arange(n0, n1)
        med, mad, lmad = self.stats.at(idx)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            # positive windows: as a ratio to the median (multiplicative noise); else linear.
            # `thr` is the height above the median a point must exceed, in the series' units.
            ratio = np.exp(np.maximum(cfg.spike_z_log * MAD_TO_SIGMA * lmad,
                                      np.log1p(cfg.spike_rel)))
            lin = np.maximum(cfg.spike_z * MAD_TO_SIGMA * mad, cfg.spike_rel * np.abs(med))
            thr = np.where(np.isfinite(lmad) & (med > 0), med * (ratio - 1), lin)
            thr = np.maximum(thr, 1e-12)
            cand = np.isfinite(v) & (v - med > thr)  # NaN median (too early) compares False
            explode = np.zeros(len(v), bool)
            if self.grad:
                explode = np.isfinite(v) & ((cand & (v > cfg.explode_factor * med))
                                            | (v > cfg.grad_norm_max))
                cand |= explode
        for j in np.flatnonzero(cand):
            i = n0 + int(j)
            self._resolve(view, i, final=False)  # events before this one first
            if i <= self.quiet_until or self._still_elevated(view, i):
                continue
            m = float(med[j]) if np.isfinite(med[j]) else float("nan")
            self.pending.append((i, m, float(thr[j]), bool(explode[j])))
            self.quiet_until = i + cfg.spike_recover_points
        self._resolve(view, n1, final=False)

    def flush(self, view: View) -> None:
        self._resolve(view, len(view.value), final=True)

    def _still_elevated(self, view: View, i: int) -> bool:
        """After a jump that did not come back, later candidates are the same event until the
        series drops back under the old level."""
        if self.elevated is None:
            return False
        level, since = self.elevated
        seg = view.value[since:i]
        with np.errstate(invalid="ignore"):
            back = np.flatnonzero(seg < level)
        if len(back):
            self.elevated = None
            return False
        self.elevated = (level, i)
        return True

    def _resolve(self, view: View, n: int, final: bool) -> None:
        """Settle the candidates that have `spike_recover_points` points after them before n."""
        cfg = self.ctx.cfg
        r = cfg.spike_recover_points
        keep = []
        for i, med, thr, explode in self.pending:
            if i + r >= n and not final:
                keep.append((i, med, thr, explode))
                continue
            after = view.value[max(i + 1, i + r - 2) : i + 1 + r]  # where it should be by now
            after = after[np.isfinite(after)]
            recovered = None
            if len(after) and np.isfinite(med):
                recovered = bool(np.median(after) - med < 0.5 * thr)
            self._report(view, i, med, thr, explode, recovered)
            if recovered is False:  # the level moved: one event until it comes back down
                level = med + 0.5 * thr
                if self.grad and view.value[i] > cfg.grad_norm_max:
                    level = min(level, cfg.grad_norm_max) if np.isfinite(level) else cfg.grad_norm_max
                self.elevated = (level, i + 1)
        self.pending = keep

    def _report(self, view, i, med, thr, explode, recovered) -> None:
        cfg, ctx = self.ctx.cfg, self.ctx
        value = float(view.value[i])
        over_bound = self.grad and value > cfg.grad_norm_max
        step = int(view.step[i])
        if not over_bound and ctx.lr_rose(step):
            return  # the learning rate was just raised (warm restart): an expected jump
        big = value - med > cfg.spike_unrecovered_factor * thr if np.isfinite(med) else True
        if recovered is not True and not (big or over_bound):
            return  # a level change, not an isolated outlier
        times = f"{value / med:.1f}x" if np.isfinite(med) and med > 0 else "far above"
        level = f"its recent median {fmt(med)}" if np.isfinite(med) else "its usual level"
        after = {True: "then recovered", False: "and did not come back down",
                 None: "at the end of the data"}[recovered]
        if explode:
            why = f"above the bound {fmt(cfg.grad_norm_max)}" if over_bound else f"{times} {level}"
            sev = "warning" if recovered else "error"
            msg = (f"{ctx.tag} jumped to {fmt(value)} ({why}) {after}: "
                   f"exploding gradients")
            self.add(self.finding("exploding_gradients", sev, view, i, msg,
                                  recovered=recovered, median=med))
        else:
            msg = f"{ctx.tag} spiked to {fmt(value)} ({times} {level}) {after}"
            self.add(self.finding("spike", "warning", view, i, msg, recovered=recovered,
                                  median=med))
