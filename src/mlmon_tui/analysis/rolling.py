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

The medians are computed for every block as it starts (every detector follows them). The
scales only matter where a point stands far above its median or where a plateau is judged,
a handful of blocks: they are computed when first asked for, from the same windows, so they
are the same numbers whenever they are asked.
"""

from __future__ import annotations

import warnings

import numpy as np

MAD_TO_SIGMA = 1.4826
_STEADY = 8  # blocks whose MADs steady the current one
_BACK = np.arange(_STEADY)  # a block and those before it


class BlockStats:
    __slots__ = ("window", "block", "_cols", "_done", "_n")

    def __init__(self, window: int, block: int) -> None:
        self.window, self.block = window, block
        # per block: median, MAD, log-MAD of the window before it (NaN: too early / not
        # positive), the last two steadied; rows 3 and 4 keep the raw MADs they come from.
        # The scales are filled in when asked for: _done says which raw MADs (row 0), raw
        # log-MADs (1), steadied MADs (2) and log-MADs (3) are there
        self._cols = np.empty((5, 64))
        self._done = np.zeros((4, 64), bool)
        self._n = 0  # blocks started

    @property
    def med(self) -> np.ndarray:
        return self._cols[0, : self._n]

    def __len__(self) -> int:
        return self._n

    def extend(self, values: np.ndarray) -> None:
        """Compute the median of every block that has started within `values` (the whole
        series so far; non-finite entries are left out of the medians)."""
        n = len(values)
        nb = -(-n // self.block)  # blocks with at least one point
        if nb <= self._n:
            return
        if nb > self._cols.shape[1]:
            size = max(nb, 2 * self._cols.shape[1])
            cols, done = np.empty((5, size)), np.zeros((4, size), bool)
            cols[:, : self._n] = self._cols[:, : self._n]
            done[:, : self._n] = self._done[:, : self._n]
            self._cols, self._done = cols, done
        b0 = max(self._n, -(-self.window // self.block))  # the first with a whole window
        self._cols[0, self._n : b0] = np.nan  # too early
        if nb > b0:
            values = _float_array(values)
            seg = values[b0 * self.block - self.window : (nb - 1) * self.block]
            rows = self._rows(values, b0, nb)
            if np.isfinite(seg).all():
                self._cols[0, b0:nb] = _middle(np.sort(rows, axis=1))
            else:
                self._cols[0, b0:nb] = _medians(rows.copy())
        self._done[:, self._n : nb] = False
        self._n = nb

    def _rows(self, values: np.ndarray, b0: int, b1: int) -> np.ndarray:
        """The windows of blocks b0 .. b1-1 (each b * block >= window), a view of `values`
        (a contiguous float64 array)."""
        return np.ndarray((b1 - b0, self.window), np.float64, values,
                          (b0 * self.block - self.window) * 8, (self.block * 8, 8))

    def med_at(self, idx: np.ndarray) -> np.ndarray:
        """Median of the reference of point indices `idx`."""
        return self._cols[0, idx // self.block]

    def scales_at(self, idx: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """MAD and log-MAD of the reference of point indices `idx` (`values`: the series)."""
        blocks = idx // self.block
        return self.mad(blocks, values), self.lmad(blocks, values)

    def mad(self, blocks: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Steadied MAD of `blocks` (started ones), computed from `values` (the series, at
        least up to those blocks) where not asked for before."""
        return self._scale(0, np.asarray(blocks, dtype=np.intp), values)

    def lmad(self, blocks: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Steadied log-MAD of `blocks`, as `mad`."""
        return self._scale(1, np.asarray(blocks, dtype=np.intp), values)

    def _scale(self, r: int, blocks: np.ndarray, values: np.ndarray) -> np.ndarray:
        todo = blocks[~self._done[2 + r, blocks]]
        if len(todo):
            # the raw scales of each block and of the _STEADY - 1 before it, once each
            lo, hi = max(0, int(todo.min()) - _STEADY + 1), int(todo.max()) + 1
            want = np.zeros(hi - lo, bool)
            want[np.maximum(todo[:, None] - lo - _BACK, 0).ravel()] = True
            want &= ~self._done[r, lo:hi]
            need = np.flatnonzero(want) + lo
            if len(need):
                raw = np.full(len(need), np.nan)
                ok = need * self.block >= self.window
                if ok.any():
                    b = need[ok]
                    rows = self._rows(_float_array(values), int(b[0]), int(b[-1]) + 1)
                    raw[ok] = _raw_scale(rows[b - b[0]], r)
                self._cols[3 + r, need] = raw
                self._done[r, need] = True
            # steadied: at least the median of the last _STEADY blocks' raw figures
            cur = self._cols[3 + r, todo]
            late = todo >= _STEADY - 1
            if late.any():
                steady = _nanmedian_last(self._cols[3 + r, todo[late][:, None] - _BACK])
                cur[late] = np.where(steady > cur[late], steady, cur[late])
            self._cols[1 + r, todo] = cur
            self._done[2 + r, todo] = True
        return self._cols[1 + r, blocks]

    def center(self, b: int) -> int:
        """Index of the point at the middle of block b's window."""
        return b * self.block - self.window // 2


def _float_array(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64)


def _medians(windows: np.ndarray) -> np.ndarray:
    """np.median of the finite values of each row of `windows` (a copy, changed here)."""
    fin = np.isfinite(windows)
    clean = fin.all(axis=1) if not fin.all() else None
    if clean is None or clean.all():
        windows.sort(axis=1)
        return _middle(windows)
    out = np.empty(len(windows))
    rows = windows[clean]
    rows.sort(axis=1)
    out[clean] = _middle(rows)
    rows = np.where(fin[~clean], windows[~clean], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows stay NaN
        out[~clean] = np.nanmedian(rows, axis=1)
    return out


def _middle(s: np.ndarray) -> np.ndarray:
    """The median of each sorted row, as np.median computes it (a zero is +0, as its mean
    makes it)."""
    h = s.shape[1] // 2
    if s.shape[1] % 2:
        return s[:, h] + 0.0
    with np.errstate(over="ignore"):
        return (s[:, h - 1] + s[:, h]) / 2 + 0.0


def _raw_scale(windows: np.ndarray, r: int) -> np.ndarray:
    """The MAD (r = 0) or log-MAD (r = 1, NaN where a window is not all positive) of each
    row of `windows` (a copy, changed here), non-finite values left out. Rows without a
    non-finite value (nearly all) are sorted once and the figure is read from the sorted
    rows; the others go through nanmedian."""
    fin = np.isfinite(windows)
    if fin.all():
        return _sorted_scale(windows, r)
    clean = fin.all(axis=1)
    windows[~fin] = np.nan
    out = np.empty(len(windows))
    if clean.any():
        out[clean] = _sorted_scale(windows[clean], r)
    out[~clean] = _nan_stats(windows[~clean])[1 + r]
    return out


def _sorted_scale(windows: np.ndarray, r: int) -> np.ndarray:
    """_nan_stats' figure r + 1 of finite windows (a copy, sorted in place), the same
    numbers: the median is the middle of the sorted row, and the median distance to it is
    found among runs of neighbours in the sorted row (no second sort or partition)."""
    windows.sort(axis=1)
    med = _middle(windows)
    cols = windows.T.copy()  # one sorted window per column: the runs below are whole rows
    if r == 0:
        return _mid_distance(cols, med)
    out = np.full(len(windows), np.nan)
    positive = (windows[:, 0] > 0) & (med > 0)
    if positive.any():
        logs = np.log(cols[:, positive])
        if not (logs[1:] >= logs[:-1]).all():  # log is monotonic; should rounding not be
            logs.sort(axis=0)
        out[positive] = _mid_distance(logs, np.log(med[positive]))
    return out


def _mid_distance(cols: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Per column of `cols` (each sorted ascending): the median of |x - m|, as np.median
    computes it (the middle value, or the mean of the two middle ones)."""
    c = len(cols)
    h = c // 2
    if c % 2:
        return _kth_distance(cols, m, h + 1) + 0.0  # a zero distance is +0, as |x - m|
    return (_kth_distance(cols, m, h) + _kth_distance(cols, m, h + 1)) / 2 + 0.0


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
