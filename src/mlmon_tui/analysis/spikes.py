"""Spikes (loss and gradient tags) and exploding gradients: a point far above the rolling
median, measured in robust units (MAD) and relative to the level, so that noise on values near
1e-4 and near 10 are judged alike.

Positive series are judged as ratios to the median against the MAD of the logarithms (noise
in training is multiplicative); others linearly.

A candidate waits `spike_recover_points` points to say whether it recovered. A jump that does
not come back is a level change (a warm restart, a schedule change) and is only reported when
it is far larger than the threshold; a lasting rise is the divergence detector's business.

On a gradient norm, a jump that is back near its level at the very next logged point while
the training loss did not jump with it is what clipping produces: not reported (neither as
exploding gradients nor as a spike). Once a blow-up is reported, its later jumps are part of
it.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from mlmon_tui.analysis.detector import Context, Detector, View
from mlmon_tui.analysis.findings import fmt
from mlmon_tui.analysis.medians import median
from mlmon_tui.analysis.rolling import MAD_TO_SIGMA, BlockStats
from mlmon_tui.analysis.tags import GRAD


GROWTH_BLOCKS = 32  # the growth rule's reference: lowest rolling median of this many blocks
GROWTH_CONFIRM = 3  # points in a row above explode_factor x that reference
GROWTH_ONSET = 1.5  # the climb starts after the last point within this factor of it
GROWTH_BACK = 2.0  # a blow-up is over when the norm is back within this factor of its level
CALM_POINTS = 16  # after a chaotic stretch: the points right before a tall one that set its bar
CALM_FACTOR = 5.0  # ...which must stand this many times above the rolling median


class SpikeDetector(Detector):
    def __init__(self, ctx: Context, stats: BlockStats) -> None:
        super().__init__(ctx)
        self.stats = stats
        self.grad = ctx.cls == GRAD
        self.pending: list[tuple[int, float, float, bool]] = []  # (index, median, thr, explode)
        self.quiet_until = -1  # points up to here belong to the last event
        self.elevated: tuple[float, int] | None = None  # (level, checked up to) after a jump
        # sustained growth of a gradient norm: points in a row above explode_factor x the
        # lowest rolling median of the last GROWTH_BLOCKS blocks, and whether one is going on
        self.over_run = 0
        self.under_run = 0
        self.growth_ref: float | None = None  # level before the reported blow-up, until back
        self.growth_at = -1  # index of the point that reported it

    def feed(self, view: View, n0: int, n1: int) -> None:
        cfg = self.ctx.cfg
        v = view.value[n0:n1]
        idx = np.arange(n0, n1)
        med = self.stats.med_at(idx)
        # only the points above the lowest bar any scale can give are judged (nearly none):
        # the scales of their blocks are computed for them alone
        sub = np.flatnonzero(self._maybe(v, med))
        if not len(sub):  # no candidate, no calm rule, no bound crossed
            if self.grad:
                self._growth(view, n0, n1)
            self._resolve(view, n1, final=False)
            return
        n = len(v)
        thr, lmad = np.full(n, np.nan), np.full(n, np.nan)
        cand, tall = np.zeros(n, bool), np.zeros(n, bool)
        mad, lmad[sub] = self.stats.scales_at(idx[sub], view.value)
        m, vs, lm = med[sub], v[sub], lmad[sub]
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            # positive windows: as a ratio to the median (multiplicative noise); else
            # linear. `thr` is the height above the median a point must exceed, in the
            # series' units.
            ratio = np.exp(np.maximum(cfg.spike_z_log * MAD_TO_SIGMA * lm,
                                      np.log1p(cfg.spike_rel)))
            lin = np.maximum(cfg.spike_z * MAD_TO_SIGMA * mad, cfg.spike_rel * np.abs(m))
            t = np.where(np.isfinite(lm) & (m > 0), m * (ratio - 1), lin)
            thr[sub] = t = np.maximum(t, 1e-12)
            c = cand[sub] = np.isfinite(vs) & (vs - m > t)  # NaN median compares False
            # after a chaotic stretch the window's scale stays high for a window and
            # more: a point far above a median it is far above, judged on the calm
            # points right before it instead (few points qualify, so this costs little)
            tall[sub] = ~c & np.isfinite(vs) & (m > 0) & (vs > CALM_FACTOR * m)
        for j in np.flatnonzero(tall):
            t = self._calm_thr(view, n0 + int(j), float(med[j]), float(lmad[j]))
            if t is not None and v[j] - med[j] > t:
                thr[j], cand[j] = t, True
        with np.errstate(invalid="ignore"):
            explode = np.zeros(len(v), bool)
            if self.grad:
                explode = np.isfinite(v) & ((cand & (v > cfg.explode_factor * med))
                                            | (v > cfg.grad_norm_max))
                cand |= explode
        if self.grad:  # first: a blow-up building up is dated before any later single jump
            self._growth(view, n0, n1)
        for j in np.flatnonzero(cand):
            i = n0 + int(j)
            self._resolve(view, i, final=False)  # events before this one first
            if i <= self.quiet_until or self._still_elevated(view, i):
                continue
            m = float(med[j]) if np.isfinite(med[j]) else float("nan")
            self.pending.append((i, m, float(thr[j]), bool(explode[j])))
            self.quiet_until = i + cfg.spike_recover_points
        self._resolve(view, n1, final=False)

    def _maybe(self, v: np.ndarray, med: np.ndarray) -> np.ndarray:
        """The points that can be candidates, whatever the scales: above the median by more
        than the least height `feed` can ask (the relative floor of either rule, a hair
        lower for rounding), far above a positive median (the calm rule), or above the
        gradient bound. NaN compares False; an infinite point is left to `feed`."""
        cfg = self.ctx.cfg
        rel = min(float(np.exp(np.log1p(cfg.spike_rel))) - 1.0, cfg.spike_rel) * (1.0 - 1e-9)
        with np.errstate(invalid="ignore", over="ignore"):
            maybe = v - med > np.maximum(rel * np.abs(med), 1e-12)
            maybe |= (med > 0) & (v > CALM_FACTOR * med)
            if self.grad:
                maybe |= v > cfg.grad_norm_max
        return maybe

    def _calm_thr(self, view: View, i: int, med: float, lmad: float) -> float | None:
        """The height above `med` a point must exceed when the rolling window still holds a
        chaotic stretch that has ended: the log-MAD of the CALM_POINTS points right before
        it, when that is under half the window's (a calm that is not a chance dip of
        ordinary noise), in place of the window's. None when the window's scale stands."""
        cfg = self.ctx.cfg
        if not np.isfinite(lmad) or i < CALM_POINTS:
            return None
        recent = view.value[i - CALM_POINTS : i]
        recent = recent[np.isfinite(recent)]
        if len(recent) < CALM_POINTS * 3 // 4 or not (recent > 0).all():
            return None
        logs = np.log(recent)
        calm = float(median(np.abs(logs - median(logs))))
        if calm >= 0.5 * lmad:
            return None
        ratio = np.exp(max(cfg.spike_z_log * MAD_TO_SIGMA * calm, np.log1p(cfg.spike_rel)))
        return med * (ratio - 1)

    def _growth(self, view: View, n0: int, n1: int) -> None:
        """Exploding gradients that build up over a few dozen steps (x1.05 to x1.2 a step, the
        classic too-high learning rate) never jump 10x above a rolling median that follows
        them; judged instead against the lowest rolling median of the last GROWTH_BLOCKS
        blocks, and dated from where the climb left its usual level."""
        cfg, meds, block = self.ctx.cfg, self.stats.med, self.stats.block
        if not len(meds):
            return
        v = view.value[n0:n1]
        b = np.minimum(np.arange(n0, n1) // block, len(meds) - 1)
        # per block: the lowest positive finite median of it and the GROWTH_BLOCKS before it
        b0, b1 = int(b[0]), int(b[-1]) + 1
        lo = max(0, b0 - GROWTH_BLOCKS)
        seg = meds[lo:b1]
        with np.errstate(invalid="ignore"):
            seg = np.where(np.isfinite(seg) & (seg > 0), seg, np.inf)
        if b1 - b0 == 1:  # a live update: one block
            low = seg.min(keepdims=True) if len(seg) else np.full(1, np.inf)
        else:
            seg = np.concatenate([np.full(GROWTH_BLOCKS - (b0 - lo), np.inf), seg])
            low = sliding_window_view(seg, GROWTH_BLOCKS + 1).min(axis=1)  # blocks b0 .. b1-1
        low[np.isinf(low)] = np.nan
        ref = low[b - b0]
        with np.errstate(invalid="ignore"):
            over = np.isfinite(v) & (v > cfg.explode_factor * ref)
            under = np.isfinite(v) & (v <= cfg.explode_factor * ref)
        for j in range(self._quiet_growth(over, under, max(0, self.growth_at + 1 - n0)), len(v)):
            if n0 + j <= self.growth_at:
                continue  # points before the report (the spike path may settle later ones)
            if self.growth_ref is not None:  # a reported blow-up: over once back near its level
                if np.isfinite(v[j]) and v[j] <= GROWTH_BACK * self.growth_ref:
                    self.under_run += 1
                    if self.under_run >= GROWTH_CONFIRM:
                        self.growth_ref, self.under_run, self.over_run = None, 0, 0
                else:
                    self.under_run = 0
                continue
            if under[j]:
                self.over_run = 0
            elif over[j]:
                self.over_run += 1
                if self.over_run >= GROWTH_CONFIRM:
                    self.growth_ref, self.growth_at = float(ref[j]), n0 + j
                    self._report_growth(view, n0 + j, float(ref[j]))

    def _quiet_growth(self, over: np.ndarray, under: np.ndarray, j0: int) -> int:
        """The stretch from j0 that the loop of `_growth` would walk without reporting a
        blow-up, in one go (a first load of a long series is mostly that): counts the points
        in a row above the reference there and returns where the loop must go on."""
        if self.growth_ref is not None or len(over) - j0 < 16:
            return j0  # a few points: the loop is cheaper
        o, u = over[j0:], under[j0:]
        cs = np.cumsum(o)
        # points above in a row at each point: since the last one at or below the reference
        run = cs - np.maximum.accumulate(np.where(u, cs, -self.over_run))
        hit = np.flatnonzero(o & (run >= GROWTH_CONFIRM))
        end = int(hit[0]) if len(hit) else len(o)
        if end:
            self.over_run = int(run[end - 1])
        return j0 + end

    def _report_growth(self, view: View, i: int, ref: float) -> None:
        lo = max(0, i - GROWTH_BLOCKS * self.stats.block)
        seg = view.value[lo : i + 1]
        with np.errstate(invalid="ignore"):
            calm = np.flatnonzero(seg <= GROWTH_ONSET * ref)
        onset = lo + int(calm[-1]) + 1 if len(calm) else lo
        value = float(view.value[i])
        msg = (f"{self.ctx.tag} has grown from about {fmt(ref)} to {fmt(value)} "
               f"({value / ref:.0f}x) since step {int(view.step[onset])}: exploding gradients")
        self.add(self.finding("exploding_gradients", "error", view, onset, msg,
                              recovered=False, median=ref))

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
                recovered = bool(median(after) - med < 0.5 * thr)
            self._report(view, i, med, thr, explode, recovered)
            if recovered is False:  # the level moved: one event until it comes back down
                level = med + 0.5 * thr
                if self.grad and view.value[i] > cfg.grad_norm_max:
                    level = min(level, cfg.grad_norm_max) if np.isfinite(level) else cfg.grad_norm_max
                self.elevated = (level, i + 1)
        self.pending = keep

    @staticmethod
    def _back_next(view, i: int, med: float, thr: float) -> bool:
        """The next logged point is already back near the level."""
        if i + 1 >= len(view.value) or not np.isfinite(med):
            return False
        nxt = float(view.value[i + 1])
        return bool(np.isfinite(nxt) and nxt - med < 0.5 * thr)

    def _report(self, view, i, med, thr, explode, recovered) -> None:
        cfg, ctx = self.ctx.cfg, self.ctx
        value = float(view.value[i])
        over_bound = self.grad and value > cfg.grad_norm_max
        step = int(view.step[i])
        if not over_bound and ctx.lr_rose(step):
            return None  # the learning rate was just raised (warm restart): an expected jump
        big = value - med > cfg.spike_unrecovered_factor * thr if np.isfinite(med) else True
        if recovered is not True and not (big or over_bound):
            return None  # a level change, not an isolated outlier
        times = f"{value / med:.1f}x" if np.isfinite(med) and med > 0 else "far above"
        level = f"its recent median {fmt(med)}" if np.isfinite(med) else "its usual level"
        after = {True: "then recovered", False: "and did not come back down",
                 None: "at the end of the data"}[recovered]
        if self.grad and self.growth_ref is not None and recovered is not True:
            return None  # a step of the blow-up already reported, not an event of its own
        if self.grad and recovered and not over_bound and self._back_next(view, i, med, thr) \
                and not ctx.loss_jumped(step):
            return None  # one clipped step, back to normal at once, loss unharmed
        if explode:
            if self.growth_ref is not None:
                return None  # the same blow-up, already reported
            self.growth_ref = med if np.isfinite(med) and med > 0 else None
            self.growth_at = i
            why = f"above the bound {fmt(cfg.grad_norm_max)}" if over_bound else f"{times} {level}"
            sev = "warning" if recovered else "error"
            msg = (f"{ctx.tag} jumped to {fmt(value)} ({why}) {after}: "
                   f"exploding gradients")
            self.add(self.finding("exploding_gradients", sev, view, i, msg,
                                  recovered=recovered, median=med))
            return "exploding_gradients"
        else:
            msg = f"{ctx.tag} spiked to {fmt(value)} ({times} {level}) {after}"
            self.add(self.finding("spike", "warning", view, i, msg, recovered=recovered,
                                  median=med))
            return "spike"
