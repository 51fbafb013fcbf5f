"""Rolling robust level of a series: median and MAD of the `window` points before each block
of `block` points.

Blocks are aligned to the point index, so the reference of a point never depends on how the
points arrived (one at a time or a million at once), and each point costs O(window / block)
amortised: one median over `window` values per block.

Besides the linear MAD, each block carries the MAD of the logarithms (for positive windows):
training noise is multiplicative (a loss near 2 jitters ten times more than one near 0.2, and
with a heavier upper tail), so outliers of positive series are judged as ratios. Both scales
are steadied: a block's MAD is at least the median of its last 8 blocks', so one quiet window
does not make ordinary noise look like an outlier.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

MAD_TO_SIGMA = 1.4826
_STEADY = 8  # blocks whose MADs steady the current one


class BlockStats:
    __slots__ = ("window", "block", "_cols", "_n")

    def __init__(self, window: int, block: int) -> None:
        self.window, self.block = window, block
        # per block: median, MAD, log-MAD of the window before it (NaN: too early / not
        # positive), the last two steadied; rows 3 and 4 keep the raw MADs they come from
        self._cols = np.empty((5, 64))
        self._n = 0  # blocks computed

    @property
    def med(self) -> np.ndarray:
        return self._cols[0, : self._n]

    @property
    def mad(self) -> np.ndarray:
        return self._cols[1, : self._n]

    @property
    def lmad(self) -> np.ndarray:
        return self._cols[2, : self._n]

    def __len__(self) -> int:
        return self._n

    def extend(self, values: np.ndarray) -> None:
        """Compute the reference of every block that has started within `values` (the whole
        series so far; non-finite entries are left out of the medians)."""
        n = len(values)
        nb = -(-n // self.block)  # blocks with at least one point
        if nb <= self._n:
            return
        starts = np.arange(self._n, nb) * self.block
        new = np.full((5, len(starts)), np.nan)
        ok = starts >= self.window
        if ok.any():
            lo = int(starts[ok][0]) - self.window
            seg = values[lo : int(starts[-1])]
            seg = np.where(np.isfinite(seg), seg, np.nan)  # a copy of the needed stretch only
            windows = sliding_window_view(seg, self.window)[starts[ok] - self.window - lo]
            with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows stay NaN
                med = _median(windows)
                new[0, ok] = med
                new[3, ok] = _median(np.abs(windows - med[:, None]))
                positive = (windows > 0).all(axis=1) & (med > 0)
                if positive.any():
                    logs = np.log(windows[positive])
                    lm = np.log(med[positive])
                    lmad = np.full(len(med), np.nan)
                    lmad[positive] = _median(np.abs(logs - lm[:, None]))
                    new[4, ok] = lmad
        if nb > self._cols.shape[1]:
            cols = np.empty((5, max(nb, 2 * self._cols.shape[1])))
            cols[:, : self._n] = self._cols[:, : self._n]
            self._cols = cols
        self._cols[:, self._n : nb] = new
        # steady the scales: at least the median of the last _STEADY blocks' raw MADs
        self._cols[1:3, self._n : nb] = self._cols[3:5, self._n : nb]
        lo = max(0, self._n - _STEADY + 1)
        if nb - lo >= _STEADY:
            steady = _nanmedian_last(sliding_window_view(self._cols[3:5, lo:nb], _STEADY, axis=1))
            k = steady.shape[1]
            cur = self._cols[1:3, nb - k : nb]
            self._cols[1:3, nb - k : nb] = np.where(steady > cur, steady, cur)
        self._n = nb

    def at(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Reference (median, MAD, log-MAD) for point indices `idx`."""
        b = idx // self.block
        return self._cols[0, b], self._cols[1, b], self._cols[2, b]

    def center(self, b: int) -> int:
        """Index of the point at the middle of block b's window."""
        return b * self.block - self.window // 2


def _median(a: np.ndarray) -> np.ndarray:
    return np.nanmedian(a, axis=1) if np.isnan(a).any() else np.median(a, axis=1)


def _nanmedian_last(a: np.ndarray) -> np.ndarray:
    """np.nanmedian over the last axis, the same numbers (the middle value, or the mean of the
    two middle ones; NaN where all are NaN), by one sort: nanmedian of many short rows goes
    through masked arrays and costs a hundred times more."""
    s = np.sort(a, axis=-1)  # NaN sorts last
    k = (~np.isnan(a)).sum(axis=-1)
    lo = np.take_along_axis(s, np.maximum((k - 1) // 2, 0)[..., None], -1)[..., 0]
    hi = np.take_along_axis(s, (k // 2)[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore", over="ignore"):
        out = np.where(k % 2 == 1, hi, (lo + hi) / 2)
    out[k == 0] = np.nan
    return out
