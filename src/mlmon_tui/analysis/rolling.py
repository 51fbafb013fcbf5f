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
            new[0, ok], new[3, ok], new[4, ok] = _window_stats(
                seg, starts[ok] - self.window - lo, self.window)
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


def _window_stats(seg: np.ndarray, offsets: np.ndarray, window: int):
    """Median, MAD and log-MAD (NaN where a window is not all positive) of the windows
    seg[o : o + window] for o in `offsets`, non-finite values left out. Windows without a
    non-finite value (nearly all) are sorted once and every figure is read from the sorted
    rows; the others go through nanmedian."""
    fin = np.isfinite(seg)
    if fin.all():
        return _sorted_stats(sliding_window_view(seg, window)[offsets])
    seg = np.where(fin, seg, np.nan)  # a copy of the needed stretch only
    bad = np.concatenate(([0], np.cumsum(~fin)))
    clean = bad[offsets + window] == bad[offsets]
    out = np.empty((3, len(offsets)))
    windows = sliding_window_view(seg, window)
    if clean.any():
        out[:, clean] = _sorted_stats(windows[offsets[clean]])
    out[:, ~clean] = _nan_stats(windows[offsets[~clean]])
    return out


def _sorted_stats(windows: np.ndarray) -> np.ndarray:
    """_nan_stats of finite windows (a copy, sorted in place), the same numbers: the median
    is the middle of the sorted row, and the median distance to it is found among runs of
    neighbours in the sorted row (no second sort or partition)."""
    windows.sort(axis=1)
    c = windows.shape[1]
    h = c // 2
    out = np.full((3, len(windows)), np.nan)
    med = out[0]
    if c % 2:
        med[:] = windows[:, h]
    else:
        np.add(windows[:, h - 1], windows[:, h], out=med)
        med /= 2
    cols = windows.T.copy()  # one sorted window per column: the runs below are whole rows
    out[1] = _mid_distance(cols, med)
    positive = (windows[:, 0] > 0) & (med > 0)
    if positive.any():
        logs = np.log(cols[:, positive])
        if not (logs[1:] >= logs[:-1]).all():  # log is monotonic; should rounding not be
            logs.sort(axis=0)
        out[2, positive] = _mid_distance(logs, np.log(med[positive]))
    return out


def _mid_distance(cols: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per column of `cols` (each sorted ascending): the median of |x - m|, as np.median
    computes it (the middle value, or the mean of the two middle ones)."""
    c = len(cols)
    h = c // 2
    if c % 2:
        return _kth_distance(cols, m, h + 1)
    return (_kth_distance(cols, m, h) + _kth_distance(cols, m, h + 1)) / 2


def _kth_distance(cols: np.ndarray, m: np.ndarray, k: int) -> np.ndarray:
    """Per column: the k-th smallest |x - m|. The k values nearest m are k neighbours in the
    sorted column, and a run of neighbours is as far from m as its farther end: the k-th
    smallest distance is the least, over runs of k, of the larger distance at its two ends
    (m - x and x - m are exactly -(x - m) and x - m, so the numbers are those of |x - m|)."""
    d = m - cols[: len(cols) - k + 1]
    np.maximum(d, cols[k - 1 :] - m, out=d)
    return d.min(axis=0)


def _nan_stats(windows: np.ndarray) -> np.ndarray:
    """Median, MAD and log-MAD of windows with non-finite values as NaN, by nanmedian."""
    out = np.full((3, len(windows)), np.nan)
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows stay NaN
        med = out[0] = _median(windows)
        out[1] = _median(np.abs(windows - med[:, None]))
        positive = (windows > 0).all(axis=1) & (med > 0)
        if positive.any():
            logs = np.log(windows[positive])
            lm = np.log(med[positive])
            out[2, positive] = _median(np.abs(logs - lm[:, None]))
    return out


def _median(a: np.ndarray) -> np.ndarray:
    return np.nanmedian(a, axis=1) if np.isnan(a).any() else np.median(a, axis=1)


def _nanmedian_last(a: np.ndarray) -> np.ndarray:
    """np.nanmedian over the last axis, the same numbers (the middle value, or the mean of the
    two middle ones; NaN where all are NaN), by one sort: nanmedian of many short rows goes
    through masked arrays and costs a hundred times more."""
    s = np.sort(a, axis=-1)  # NaN sorts last
    n = a.shape[-1]
    out = s[..., n // 2].copy()
    if n % 2 == 0:
        with np.errstate(invalid="ignore", over="ignore"):
            out += s[..., n // 2 - 1]
        out /= 2
    part = np.isnan(s[..., -1])  # rows with a NaN (few): count what is left
    if part.any():
        s = s[part]
        k = (~np.isnan(s)).sum(axis=-1)
        lo = np.take_along_axis(s, np.maximum((k - 1) // 2, 0)[..., None], -1)[..., 0]
        hi = np.take_along_axis(s, (k // 2)[..., None], -1)[..., 0]
        with np.errstate(invalid="ignore", over="ignore"):
            sub = np.where(k % 2 == 1, hi, (lo + hi) / 2)
        sub[k == 0] = np.nan
        out[part] = sub
    return out
