"""Reduce a sorted series to per-column min / max / first / last for drawing.

Every finite point of the visible x-range lands in exactly one column, and each column
keeps its min and max, so a single-step spike among a million points is always drawn.
NaN and +/-Inf never enter min/max; their x positions come back separately so they can be
drawn as markers. Cost: two `searchsorted` calls to find the visible slice, then O(k)
numpy over the k visible points (`np.minimum.reduceat`), no Python loop over points.
"""

from __future__ import annotations

import math
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


def _runs(xs: np.ndarray, x0: float, x1: float, ncols: int):
    """Column index of each run of points sharing a column, and where each run starts / ends.
    Same arithmetic as `column_of`, done in place on one float buffer."""
    span = float(x1) - float(x0)
    if span <= 0:
        t = np.zeros(len(xs))
    else:
        t = xs.astype(np.float64)  # a copy: the caller's array is never touched
        t -= x0
        t *= ncols
        t /= span
        np.floor(t, out=t)
        np.minimum(t, ncols - 1, out=t)  # x == x1 belongs to the last column (x >= x0 here)
    # sorted x => column indices are non-decreasing: run starts are the change points
    starts = np.flatnonzero(t[1:] != t[:-1])
    starts += 1
    starts = np.concatenate(([0], starts))
    ends = np.empty_like(starts)
    ends[:-1] = starts[1:] - 1
    ends[-1] = len(t) - 1
    cols = t[starts].astype(np.int64)
    return cols, starts, ends


def minmax_columns(
    x: np.ndarray, y: np.ndarray, x0: float, x1: float, ncols: int
) -> Columns:
    """Min/max/first/last of `y` per column over x in [x0, x1]; `x` must be sorted ascending.

    Points outside [x0, x1] are ignored. Returns only the columns that hold at least one
    finite value; non-finite values are reported as x positions in `nan_x`, `posinf_x`,
    `neginf_x` (within the range).
    """
    return minmax_columns_many(x, [y], x0, x1, ncols)[0]


def minmax_columns_many(
    x: np.ndarray, ys: list[np.ndarray], x0: float, x1: float, ncols: int
) -> list[Columns]:
    """`minmax_columns` for several value arrays over the same x (e.g. raw and smoothed):
    the visible slice and the column runs are found once when the values are all finite."""
    if ncols <= 0 or len(x) == 0 or not (x1 >= x0):
        return [empty_columns() for _ in ys]
    lo, hi = _visible(x, x0, x1)
    if hi <= lo:
        return [empty_columns() for _ in ys]
    xs = x[lo:hi]
    shared = None
    out = []
    for y in ys:
        yv = np.asarray(y[lo:hi], dtype=np.float64)
        finite = np.isfinite(yv)
        if finite.all():
            if shared is None:
                shared = _runs(xs, x0, x1, ncols)
            out.append(_reduce(yv, *shared))
            continue
        bad = ~finite
        xb, yb = xs[bad].astype(np.float64), yv[bad]
        xf, yf = xs[finite], yv[finite]
        c = _reduce(yf, *_runs(xf, x0, x1, ncols)) if len(xf) else empty_columns()
        c.nan_x = xb[np.isnan(yb)]
        c.posinf_x = xb[yb == np.inf]
        c.neginf_x = xb[yb == -np.inf]
        out.append(c)
    return out


def _visible(x: np.ndarray, x0: float, x1: float) -> tuple[int, int]:
    """Index range of x in [x0, x1]. Integer x is searched with integer keys: a float key
    would make numpy convert the whole array first (10x slower on a million steps)."""
    if x.dtype.kind in "iu":
        lo_key, hi_key = x.dtype.type(math.ceil(x0)), x.dtype.type(math.floor(x1))
    else:
        lo_key, hi_key = x0, x1
    return int(np.searchsorted(x, lo_key, side="left")), int(np.searchsorted(x, hi_key, side="right"))


def _reduce(ys: np.ndarray, cols: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> Columns:
    return Columns(
        cols,
        np.minimum.reduceat(ys, starts),
        np.maximum.reduceat(ys, starts),
        ys[starts],
        ys[ends],
    )


def first_index_at_or_after_column(x: np.ndarray, x0: float, x1: float, ncols: int, col: int) -> int:
    """Smallest i with column(x[i]) >= col (len(x) if none), on sorted x. A `searchsorted`
    for the column's left edge finds it up to float rounding; the few points next to that
    edge are then checked with the very arithmetic of `column_of`, so both agree exactly."""
    n = len(x)
    span = float(x1) - float(x0)
    if span <= 0 or col <= 0 or n == 0:
        return 0 if (col <= 0 or span <= 0) else n

    def column(i: int) -> int:
        return min(math.floor((float(x[i]) - x0) * ncols / span), ncols - 1)

    edge = x0 + col * span / ncols
    if edge <= x[0]:
        i = 0
    elif edge > x[-1]:
        i = n
    else:  # an integer key for integer x: a float key would convert the whole array
        key = x.dtype.type(math.floor(edge)) if x.dtype.kind in "iu" else edge
        i = int(np.searchsorted(x, key, side="left"))
    while i > 0 and column(i - 1) >= col:
        i -= 1
    while i < n and column(i) < col:
        i += 1
    return i


def extend_columns(
    prev: list[Columns], x: np.ndarray, ys: list[np.ndarray], x0: float, x1: float, ncols: int
) -> list[Columns]:
    """`minmax_columns_many(x, ys, ...)` when `prev` holds that result for a prefix of the
    same points: only the points from the previous last column on are reduced again."""
    last = max((int(c.col[-1]) for c in prev if len(c)), default=0)
    j = first_index_at_or_after_column(x, x0, x1, ncols, last)
    if j >= len(x):
        return prev
    xcut = float(x[j])
    new = minmax_columns_many(x[j:], [y[j:] for y in ys], x0, x1, ncols)
    out = []
    for p, n in zip(prev, new):
        k = int(np.searchsorted(p.col, last))  # columns are ascending: keep a prefix
        c = Columns(*(np.concatenate((getattr(p, f)[:k], getattr(n, f))) for f in _FIELDS))
        for f in ("nan_x", "posinf_x", "neginf_x"):
            old, add = getattr(p, f), getattr(n, f)
            if len(old) or len(add):
                setattr(c, f, np.concatenate((old[old < xcut], add)))
        out.append(c)
    return out


_FIELDS = ("col", "ymin", "ymax", "first", "last")
