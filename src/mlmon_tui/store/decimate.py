"""Reduce a sorted series to per-column min / max / first / last for drawing.

Every finite point of the visible x-range lands in exactly one column, and each column
keeps its min and max, so a single-step spike among a million points is always drawn.
NaN and +/-Inf never enter min/max; their x positions come back separately so they can be
drawn as markers. Cost: two `searchsorted` calls to find the visible slice, then O(k)
numpy over the k visible points (`np.minimum.reduceat`), no Python loop over points.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_EMPTY_F = np.empty(0, dtype=np.float64)


@dataclass(slots=True)
class Columns:
    """Per non-empty column (ascending `col`): min, max, first and last finite value."""

    col: np.ndarray
    ymin: np.ndarray
    ymax: np.ndarray
    first: np.ndarray
    last: np.ndarray
    nan_x: np.ndarray = field(default_factory=lambda: _EMPTY_F)
    posinf_x: np.ndarray = field(default_factory=lambda: _EMPTY_F)
    neginf_x: np.ndarray = field(default_factory=lambda: _EMPTY_F)

    def __len__(self) -> int:
        return len(self.col)


def empty_columns() -> Columns:
    e = np.empty(0, dtype=np.int64)
    return Columns(e, _EMPTY_F, _EMPTY_F, _EMPTY_F, _EMPTY_F)


def column_of(x: np.ndarray, x0: float, x1: float, ncols: int) -> np.ndarray:
    """Column index of each x: [x0, x1] is split into `ncols` equal columns (x1 in the last)."""
    span = float(x1) - float(x0)
    if span <= 0:
        return np.zeros(len(x), dtype=np.int64)
    c = np.floor((np.asarray(x, dtype=np.float64) - x0) * ncols / span).astype(np.int64)
    return np.clip(c, 0, ncols - 1)


def minmax_columns(
    x: np.ndarray, y: np.ndarray, x0: float, x1: float, ncols: int
) -> Columns:
    """Min/max/first/last of `y` per column over x in [x0, x1]; `x` must be sorted ascending.

    Points outside [x0, x1] are ignored. Returns only the columns that hold at least one
    finite value; non-finite values are reported as x positions in `nan_x`, `posinf_x`,
    `neginf_x` (within the range).
    """
    if ncols <= 0 or len(x) == 0 or not (x1 >= x0):
        return empty_columns()
    lo = int(np.searchsorted(x, x0, side="left"))
    hi = int(np.searchsorted(x, x1, side="right"))
    if hi <= lo:
        return empty_columns()
    xs = x[lo:hi]
    ys = np.asarray(y[lo:hi], dtype=np.float64)
    finite = np.isfinite(ys)
    nan_x = posinf_x = neginf_x = _EMPTY_F
    if not finite.all():
        bad = ~finite
        xb, yb = xs[bad].astype(np.float64), ys[bad]
        nan_x = xb[np.isnan(yb)]
        posinf_x = xb[yb == np.inf]
        neginf_x = xb[yb == -np.inf]
        xs, ys = xs[finite], ys[finite]
    if not len(xs):
        out = empty_columns()
    else:
        cols = column_of(xs, x0, x1, ncols)
        # sorted x => column indices are non-decreasing: run starts are the change points
        starts = np.flatnonzero(np.concatenate(([True], cols[1:] != cols[:-1])))
        ends = np.concatenate((starts[1:], [len(cols)])) - 1
        out = Columns(
            cols[starts],
            np.minimum.reduceat(ys, starts),
            np.maximum.reduceat(ys, starts),
            ys[starts],
            ys[ends],
        )
    out.nan_x, out.posinf_x, out.neginf_x = nan_x, posinf_x, neginf_x
    return out
