"""Divergence (error) and plateau (info) of loss-like series, judged on the rolling median
(the block references of `BlockStats`), relative to the series' own first level and best.
"""

from __future__ import annotations

import numpy as np

from mlmon_tui.analysis.detector import Context, Detector, View
from mlmon_tui.analysis.findings import fmt
from mlmon_tui.analysis.medians import median
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
    """The smoothed loss climbs well above the best value it reached and stays there.

    Judged against the best, not the start: a positive loss at (1 + divergence_rel) x its
    best has diverged even when it ends below its first value. It must stay up for
    `divergence_blocks` blocks and `divergence_wait` of the run's age at the climb, without
    coming back down (a warm restart of a cosine schedule jumps as high, then falls again:
    the level late in the stretch is well below its peak); a jump right after the learning
    rate rose is a restart. Validation series are left to the overfitting check."""

    def __init__(self, ctx: Context, stats: BlockStats) -> None:
        super().__init__(ctx, stats)
        self.over_since: int | None = None  # first block of the current stretch above
        self.first_b: int | None = None
        self.reported = False
        self.short = None  # the short-series detector: a divergence it found is this one

    def _thr(self) -> float:
        cfg = self.ctx.cfg
        if self.best > 0:
            return cfg.divergence_rel * self.best
        return max(cfg.divergence_frac * (self.first - self.best), 1e-12)

    def block(self, view: View, b: int, m: float) -> None:
        if self.ctx.val:
            return
        if self.first_b is None:
            self.first_b = b
        if m < self.best:
            self.best, self.best_b = m, b
        thr = self._thr()
        if m <= self.best + thr:
            self.over_since = None
            if m <= self.best + 0.5 * thr:
                self.reported = False  # came back: a later rise is a new divergence
            return
        if self.over_since is None:
            self.over_since = b
        need = max(self.ctx.cfg.divergence_blocks,
                   int(np.ceil(self.ctx.cfg.divergence_wait * (self.over_since - self.first_b))))
        if not self.reported and b - self.over_since + 1 >= need:
            self._decide(view, b)

    def flush(self, view: View) -> None:
        b = len(self.stats) - 1
        if (not self.ctx.val and not self.reported and self.over_since is not None
                and b - self.over_since + 1 >= self.ctx.cfg.divergence_blocks):
            self._decide(view, b)

    def _decide(self, view: View, b: int) -> None:
        thr = self._thr()
        med = self.stats.med
        stretch = med[self.over_since : b + 1]
        stretch = stretch[np.isfinite(stretch)]
        if not len(stretch):
            return
        peak = float(stretch.max())
        late = float(median(stretch[-max(2, len(stretch) // 4) :]))
        if peak - late > 0.3 * (peak - self.best) or late <= self.best + thr:
            return  # coming back down: a restart or a transient, not a divergence (yet)
        if self.short is not None and self.short.diverged:
            self.reported = True
            return
        # onset: where the smoothed curve left its best level, not where it crossed the bar
        near = np.flatnonzero(med[self.best_b : self.over_since] <= self.best + 0.25 * thr)
        onset_b = self.best_b + (int(near[-1]) + 1 if len(near) else 0)
        i = self.index(view, onset_b)
        if any(self.ctx.lr_rose(int(view.step[k]))
               for k in range(max(0, i - 48), min(len(view.step), i + 49), 4)):
            self.reported = True  # the learning rate was raised there: a warm restart
            return
        self.reported = True
        best_i = self.index(view, self.best_b)
        ratio = f" ({late / self.best:.1f}x)" if self.best > 0 else ""
        msg = (f"{self.ctx.tag} (smoothed) rose from its best {fmt(self.best)} "
               f"(step {int(view.step[best_i])}) to {fmt(late)}{ratio} and stayed there: "
               f"the run is diverging")
        self.add(self.finding("divergence", "error", view, i, msg, value=late,
                              best=self.best, best_step=int(view.step[best_i])))


class PlateauDetector(_Blocks):
    """The smoothed loss stopped improving, judged against the run's own earlier progress.

    At the newest block: the plateau is the trailing stretch of block medians that all sit
    within a noise band of its level (5 standard errors of a block median, or 0.2 % of the
    level). It is a plateau when
      - it is long: at least `plateau_frac` of the run and `plateau_min_blocks` blocks;
      - it is flat: its first and last quarters differ by less than a quarter of...
      - ...the descent just before it (over a quarter of the stretch's length), which must
        be large (`plateau_rel` of the level and one band width) and still going on;
      - the improvement stopped well above where it was heading: the descent before the
        corner (least-squares fit, below), fitted by a line or an exponential approach to a
        floor and carried on over the flat stretch, would have fallen at least one band
        width and half the recent descent further.
    Its onset is the corner of the least-squares fit of "descent (a parabola), then
    constant": the wide band is entered long before the stop on a slow approach.

    How the look-alikes are told apart:
      - converged near its floor: its improvement dies out as it reaches the floor, so the
        rate before the corner, carried on, adds little (and the window right before the
        flat stretch fell much less than the one before it);
      - learning-rate step decay: the descent right before the flat stretch sped up (at some
        scale from 2 blocks to a quarter of the way back, the last w blocks fell over 1.5x
        as much as the w before, beyond noise) where a learning curve only slows down; when
        the learning rate is logged, a cut right before the onset makes the monitor drop
        the finding (the level is the schedule's);
      - cosine restarts: the jump up at a restart breaks the band, and the end of a cycle is
        shorter than `plateau_frac` of the run;
      - warm-up: its bump is a rise then a descent, never a long flat stretch.
    Checked every 1/16 of the run's length, so the cost per block stays constant.
    Severity: info here; the monitor raises it to a warning while the run is live and its
    learning rate (when logged) has not decayed."""

    def __init__(self, ctx: Context, stats: BlockStats,
                 divergence: DivergenceDetector | None = None) -> None:
        super().__init__(ctx, stats)
        self.divergence = divergence  # a diverged run sitting high is not "a plateau"
        self.next_check = 0
        self.first_b: int | None = None

    def block(self, view: View, b: int, m: float) -> None:
        cfg = self.ctx.cfg
        if self.ctx.val:
            return
        if self.first_b is None:
            self.first_b = b
        age = b + 1 - self.first_b
        if age < 2 * cfg.plateau_min_blocks or b < self.next_check:
            return
        self.next_check = b + max(1, age // 16)
        self._check(view, b, age)

    def flush(self, view: View) -> None:
        b = len(self.stats) - 1
        if self.ctx.val or self.first_b is None or b < self.first_b:
            return
        age = b + 1 - self.first_b
        if age >= 2 * self.ctx.cfg.plateau_min_blocks:
            self._check(view, b, age)

    def _check(self, view: View, b: int, age: int) -> None:
        if self.divergence is not None and self.divergence.reported:
            self.findings.clear()
            return
        found = self._judge(view, b, age)
        if found is None:
            self.findings.clear()
            return
        onset_b, level, drop = found
        i = self.index(view, onset_b)
        now = int(view.step[self.index(view, b)])
        if self.findings and abs(self.findings[-1].step - int(view.step[i])) <= 8 * self.stats.block:
            f = self.findings[-1]  # still flat: keep the onset, bring the length up to date
            f.message, f.value = self._message(f.step, now, level, drop), level
            return
        self.findings.clear()
        self.add(self.finding("plateau", "info", view, i,
                              self._message(int(view.step[i]), now, level, drop), value=level))

    def _judge(self, view: View, b: int, age: int):
        cfg = self.ctx.cfg
        med = self.stats.med[self.first_b : b + 1]
        if not np.all(np.isfinite(med[-cfg.plateau_min_blocks :])):
            return None
        mad = self.stats.mad(np.arange(max(self.first_b, b - 15), b + 1), view.value)
        sigma = MAD_TO_SIGMA * float(median(mad))
        se_blk = 1.2533 * sigma / np.sqrt(self.stats.window)
        q0 = max(2, cfg.plateau_min_blocks // 4)
        level = float(median(med[-q0:]))
        band = max(5.0 * se_blk, 0.002 * abs(level), 1e-12)
        s = 0
        for _ in range(2):  # the level of the whole flat stretch, not only its end
            with np.errstate(invalid="ignore"):
                out = np.flatnonzero(~(np.abs(med - level) <= band))
            s = int(out[-1]) + 1 if len(out) else 0  # relative to first_b
            if s >= len(med) - 2:
                return None
            level = float(median(med[s:]))
        length = len(med) - s
        if length < max(cfg.plateau_min_blocks, cfg.plateau_frac * age):
            return None
        q = max(2, min(length, s) // 4)
        if s - 2 * q < 0:
            return None  # no descent before it to compare with (flat from the start)
        before = float(median(med[s - q - 1 : s - q + 2]))
        before2 = float(median(med[max(0, s - 2 * q - 1) : s - 2 * q + 2]))
        near = float(median(med[s : s + 3]))
        drop = before - near  # the descent in the quarter-window right before the onset
        drop2 = before2 - before  # and in the one before that
        if not (drop > max(cfg.plateau_rel * abs(level), band)):
            return None
        if drop < 0.35 * drop2:
            return None  # already slowing down hard: converging, not stopping
        if drop > 3.0 * drop2 or drop2 < 0.5 * band:
            return None  # a sudden fall after a flat stretch: a schedule step, not a descent
        k = max(2, length // 4)
        se_q = 1.2533 * sigma / np.sqrt(k * self.stats.block)
        drift = float(median(med[s : s + k])) - float(median(med[-k:]))
        if abs(drift) + 2.0 * np.sqrt(2.0) * se_q >= 0.25 * drop:
            return None
        # onset: the wide band is entered early on a slow approach; the corner of the
        # best "descent, then flat" fit is where the improvement stopped
        onset = _corner(med, max(0, s - 2 * q), min(len(med) - 4, s + q))
        if onset is None:
            return None
        # converged or stopped: where was the descent before the corner heading? A run that
        # converges reaches its floor as its improvement dies out (the rate before the
        # corner, carried on over the flat stretch, adds little); a stop leaves the earlier
        # rate heading well below the level it stays at
        if any(_accelerated(med, e, se_blk) for e in {onset, s, (onset + s) // 2}):
            return None  # the fall right before was a sudden one: a schedule step
        w = max(6, min(onset, len(med) - onset) // 2)
        if onset < w:
            return None
        heading = _heading(med[onset - w : onset + 1], len(med) - 1 - onset)
        if heading < max(band, 0.5 * drop):
            return None
        return self.first_b + onset, level, drop

    def _message(self, onset: int, now: int, level: float, drop: float) -> str:
        return (f"{self.ctx.tag} has not improved for {now - onset} steps (since step {onset}, "
                f"level {fmt(level)}) after falling by {fmt(drop)} just before: a plateau")



FIT_ROWS = 256  # block medians a fit uses at most (evenly spaced): bounded cost on long runs


def _sse(a: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    r = y - a @ coef
    return float(r @ r), coef


def _corner(med: np.ndarray, lo: int, hi: int) -> int | None:
    """Index in [lo, hi] of the corner of the least-squares fit of med[lo:] by a curve that
    descends (a parabola in the distance to the corner) and is constant after it. Fitted on
    at most FIT_ROWS evenly spaced medians; candidates every `stride` blocks, then every
    block around the best one."""
    if hi - lo < 2:
        return None
    stride = max(1, (len(med) - lo) // FIT_ROWS)
    t = np.arange(lo, len(med), stride, dtype=float)
    y = med[lo::stride]

    def fit(o: int) -> float:
        x = np.maximum(o - t, 0.0)
        return _sse(np.stack([np.ones_like(x), x, x * x], axis=1), y)[0]

    coarse = range(lo + 2, hi + 1, stride)
    if not len(coarse):
        return None
    at = min(coarse, key=fit)
    fine = range(max(lo + 2, at - stride + 1), min(hi, at + stride - 1) + 1,
                 max(1, stride // 16))
    return min(fine, key=fit) if len(fine) else at


def _heading(desc: np.ndarray, ahead: int) -> float:
    """How much further the descent `desc` (block medians up to the corner) would have
    fallen over `ahead` more blocks at its own rate: the best least-squares fit among a
    straight line and exponential approaches to a floor (rates from a twentieth to five
    per window), carried forward."""
    n = len(desc)
    stride = max(1, n // FIT_ROWS)
    u = (np.arange(n, dtype=float) - (n - 1))[::-1][::stride][::-1]  # 0 at the corner
    y = desc[::-1][::stride][::-1]
    best, fall = np.inf, 0.0
    for k in np.concatenate(([0.0], np.geomspace(0.05, 5.0, 16) / n)):
        basis = u if k == 0 else np.exp(-k * u)
        sse, coef = _sse(np.stack([np.ones(len(u)), basis], axis=1), y)
        if sse < best:
            best = sse
            fall = -coef[1] * ahead if k == 0 else coef[1] * (1.0 - np.exp(-k * ahead))
    return float(fall)


def _accelerated(med: np.ndarray, onset: int, se: float) -> bool:
    """Whether the descent sped up right before `onset`, at any scale from 2 blocks to a
    quarter of the way back: over the last w blocks it fell more than 1.5x as much as over
    the w blocks before (beyond the noise of a block median). A learning curve that slows
    down and stops falls less and less; a learning-rate cut makes it fall faster at once."""
    w = 2
    while onset - 2 * w >= 0 and w <= max(2, onset // 4):
        y = [float(median(med[max(0, k - 1) : k + 2])) for k in (onset - 2 * w, onset - w, onset)]
        last, prev = y[1] - y[2], y[0] - y[1]
        if last > 1.5 * max(prev, 0.0) + 12.0 * se:  # 2.5 y1 - y2 - 1.5 y0: 4 sigmas
            return True
        w = max(w + 1, w * 3 // 2)
    return False
