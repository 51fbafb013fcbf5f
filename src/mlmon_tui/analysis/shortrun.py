"""Short series (epoch-level logs of 5 to a few hundred rows, sparse evaluations): spikes and
divergence judged point by point on the whole series, where the rolling references of the
step-level detectors (48 points of history) do not exist yet.

- Spike: one point at least `short_spike_ratio` times both its neighbours (so 3x above the
  level before and after: a single bad epoch that came back), and far outside the local
  noise (see `point_spikes`), so a chaotic stretch raises the bar only where it is chaotic:
  a few points after it the bar is back down.
- Divergence: the running median of three (one odd point is not a trend) climbs from its
  best and stays above 1 + 3/4 of the way to `short_divergence_ratio` x the best up to the
  end of the data, for at least `short_divergence_points` points (and a tenth of the series),
  with the last third of that stretch at the ratio or above, far above the point-to-point
  noise; dated from where the curve left
  its minimum. A loss that ends below its first value but far above its best has diverged.

The whole series is analysed again on each update while it has at most SHORT_MAX points (a
few microseconds per point); then its findings are frozen (spikes only where the rolling
detectors have no reference yet: the first `window` points) and those carry on.
"""

from __future__ import annotations

import numpy as np

from mlmon_tui.analysis.detector import Context, Detector, View
from mlmon_tui.analysis.findings import fmt
from mlmon_tui.analysis.medians import median, running3

SHORT_MAX = 256
MIN_POINTS = 5
LOCAL = 8  # second differences on each side for the local noise of a spike
SPIKE_NOISE_K = 6.0  # the jump must exceed this many local noise sigmas (log scale)
D2_SIGMA = 1.4826 / np.sqrt(6.0)  # median |second difference| -> sigma of one point


def median3(v: np.ndarray) -> np.ndarray:
    """Centred running median of three; the ends keep their own value."""
    if len(v) < 3:
        return v.copy()
    out = v.copy()
    out[1:-1] = running3(v)
    return out


def point_spikes(v: np.ndarray, ratio: float) -> list[tuple[int, float]]:
    """(index, factor over the higher neighbour) of single-point spikes of a positive series.

    The bar is the local noise: second differences of the logarithms (a trend does not count
    as noise), LOCAL of them on each side of the point, leaving out the three the point is
    in, pooled: inside a chaotic stretch the bar is high, a few points past it most of the
    pool is calm again and the bar is back down."""
    n = len(v)
    if n < 3:
        return []
    with np.errstate(divide="ignore", invalid="ignore"):
        lv = np.log(v)
    d2 = np.abs(lv[:-2] - 2 * lv[1:-1] + lv[2:])  # d2[k] involves points k, k+1, k+2
    out = []
    lo = np.minimum(lv[:-2], lv[2:])
    hi = np.maximum(lv[:-2], lv[2:])
    jump = lv[1:-1] - hi  # log of the factor over the higher neighbour
    for j in np.flatnonzero(np.isfinite(jump) & (jump >= np.log(ratio))):
        i = int(j) + 1
        sides = [d2[max(0, i - 2 - LOCAL) : max(0, i - 2)], d2[i + 1 : i + 1 + LOCAL]]
        both = np.concatenate(sides)
        both = both[np.isfinite(both)]
        sigma = D2_SIGMA * float(median(both)) if len(both) >= 2 else 0.0
        if jump[j] > SPIKE_NOISE_K * sigma and np.isfinite(lo[j]):
            out.append((i, float(np.exp(jump[j]))))
    return out


def climb(v: np.ndarray, ratio: float, min_points: int) -> tuple[int, int, float] | None:
    """(onset index, best index, level) of a lasting climb of a positive series to `ratio` x
    its best, up to the end; None when there is none."""
    n = len(v)
    s = median3(v)
    if n < MIN_POINTS or not np.all(s > 0):
        return None
    best_i = int(np.argmin(s))
    best = float(s[best_i])
    after = s[best_i + 1 :]
    if not len(after):
        return None
    high = after >= best * (1 + 0.75 * (ratio - 1))  # stays up (a little below the bar)
    if not high[-1]:
        return None
    # the stretch above the bar that reaches the end
    low = np.flatnonzero(~high)
    start = best_i + 1 + (int(low[-1]) + 1 if len(low) else 0)
    stretch = s[start:]
    if len(stretch) < min_points:
        return None
    # not coming back down: the last third still well above the bar's midpoint to the best
    tail = stretch[-max(1, len(stretch) // 3) :]
    if float(median(tail)) < ratio * best:  # ...and ends at the bar or above
        return None
    # the point-to-point noise (second differences: the descent is not noise): a climb must
    # stand far above it (random values are not a run)
    noise = D2_SIGMA * float(median(np.abs(np.diff(v, 2)))) if n >= 3 else 0.0
    if float(median(stretch)) - best < 6.0 * noise:
        return None
    # onset: the last point near the minimum before the climb
    near = np.flatnonzero(s[best_i:start] <= best * (1 + 0.25 * (ratio - 1)))
    onset = best_i + (int(near[-1]) if len(near) else 0)
    return onset, best_i, float(median(tail))


class ShortRunDetector(Detector):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.frozen = False
        self.diverged = False

    def feed(self, view: View, n0: int, n1: int) -> None:
        if self.frozen:
            return
        n = min(n1, SHORT_MAX)
        self._analyse(view, n, final=False)
        if n1 > SHORT_MAX:
            # a long series: from here on the rolling detectors judge it; of the short
            # view's spikes keep those they cannot (before their first reference)
            self.frozen = True
            self.findings = [f for f in self.findings if f.kind != "spike"
                             or int(np.searchsorted(view.step, f.step)) < self.ctx.cfg.window]

    def flush(self, view: View) -> None:
        if not self.frozen:
            self._analyse(view, min(len(view.value), SHORT_MAX), final=True)

    def _analyse(self, view: View, n: int, final: bool) -> None:
        cfg = self.ctx.cfg
        raw = view.value[:n]
        ok = np.flatnonzero(np.isfinite(raw))
        self.findings = []
        self.diverged = False
        if len(ok) < MIN_POINTS:
            return
        v = raw[ok]
        if not np.all(v > 0):
            return  # ratios only mean something for positive series
        for j, factor in point_spikes(v, cfg.short_spike_ratio):
            i = int(ok[j])
            if self.ctx.lr_rose(int(view.step[i])):
                continue
            msg = (f"{self.ctx.tag} spiked to {fmt(float(view.value[i]))} at step "
                   f"{int(view.step[i])} ({factor:.1f}x both neighbouring points) and came back")
            self.add(self.finding("spike", "warning", view, i, msg, recovered=True))
        min_pts = max(cfg.short_divergence_points, len(v) // 10)
        c = None if self.ctx.val else climb(v, cfg.short_divergence_ratio, min_pts)
        if c is not None:
            onset, best_j, level = c
            i, bi = int(ok[onset]), int(ok[best_j])
            if not self.ctx.lr_rose(int(view.step[min(i + 1, len(ok) - 1)])):
                self.diverged = True
                best = float(median3(v)[best_j])
                msg = (f"{self.ctx.tag} rose from its best {fmt(best)} (step "
                       f"{int(view.step[bi])}) to {fmt(level)} ({level / best:.1f}x) and stayed "
                       f"there: the run is diverging")
                self.add(self.finding("divergence", "error", view, i, msg, value=level,
                                      best=best, best_step=int(view.step[bi])))
