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
    prev: list[Columns], x: np.ndarray, ys: list[np.ndarray], x0: float, x1: float, ncols: int,
    prev_len: int | None = None,
) -> list[Columns]:
    """`minmax_columns_many(x, ys, ...)` when `prev` holds that result for a prefix of the
    same points (its length `prev_len`, when known): only the points from the previous last
    column on are reduced again, or only the new ones when they all fall in that column."""
    last = max((int(c.col[-1]) for c in prev if len(c)), default=0)
    if prev_len is not None and 0 < len(x) - prev_len <= SMALL_TAIL:
        same = _into_last_column(prev, x, ys, x0, x1, ncols, last, prev_len)
        if same is not None:
            return same
    j = first_index_at_or_after_column(x, x0, x1, ncols, last)
    if j >= len(x):
        return prev
    if len(x) - j <= SMALL_TAIL:
        small = _extend_small(prev, x, ys, x0, x1, ncols, last, j)
        if small is not None:
            return small
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
SMALL_TAIL = 32


def _into_last_column(prev, x, ys, x0, x1, ncols, last, m):
    """New finite points that all fall in the last drawn column: its min, max and last value
    move, nothing else (the common live case, one point at a time)."""
    span = float(x1) - float(x0)
    xa, xb = float(x[m]), float(x[-1])
    if span <= 0 or xa < x0 or xb > x1:
        return None
    if (min(math.floor((xa - x0) * ncols / span), ncols - 1) != last
            or min(math.floor((xb - x0) * ncols / span), ncols - 1) != last):
        return None
    out = []
    for p, y in zip(prev, ys):
        if not len(p) or p.col[-1] != last:
            return None
        t = y[m:].tolist()
        if not all(math.isfinite(v) for v in t):
            return None
        ymin, ymax, lasts = p.ymin.copy(), p.ymax.copy(), p.last.copy()
        ymin[-1], ymax[-1], lasts[-1] = min(ymin[-1], *t), max(ymax[-1], *t), t[-1]
        out.append(Columns(p.col, ymin, ymax, p.first, lasts, p.nan_x, p.posinf_x, p.neginf_x))
    return out


def _extend_small(prev, x, ys, x0, x1, ncols, last, j):
    """`extend_columns` for the usual live case, a few finite points at the end, in plain
    Python: a numpy call costs more than a point here. The points' columns use the float
    arithmetic of `column_of`; None when the case is not the simple one."""
    xs = x[j:].tolist()
    span = float(x1) - float(x0)
    if span <= 0 or xs[0] < x0 or xs[-1] > x1:
        return None
    tails = [y[j:].tolist() for y in ys]
    if not all(math.isfinite(v) for t in tails for v in t):
        return None
    cols = [min(math.floor((float(v) - x0) * ncols / span), ncols - 1) for v in xs]
    groups = []  # (column, start, end) of each run of points sharing a column
    a = 0
    for i in range(1, len(cols) + 1):
        if i == len(cols) or cols[i] != cols[a]:
            groups.append((cols[a], a, i))
            a = i
    out = []
    for p, t in zip(prev, tails):
        if len(p.nan_x) or len(p.posinf_x) or len(p.neginf_x):
            return None  # markers to cut at the same place: the general path does it
        k = int(np.searchsorted(p.col, last))
        reduced = [(c, min(t[a:b]), max(t[a:b]), t[a], t[b - 1]) for c, a, b in groups]
        if k == len(p) - 1 and len(reduced) == 1 and reduced[0][0] == p.col[-1]:
            # the points fell into the last column: only its max, min and last move
            _, lo, hi, _, lst = reduced[0]
            ymin, ymax, lasts = p.ymin.copy(), p.ymax.copy(), p.last.copy()
            # the column is reduced again from its first point (j), as the full path does
            ymin[-1], ymax[-1], lasts[-1] = lo, hi, lst
            out.append(Columns(p.col, ymin, ymax, p.first, lasts))
            continue
        new = list(zip(*reduced))
        out.append(Columns(
            np.concatenate((p.col[:k], np.asarray(new[0], dtype=p.col.dtype))),
            *(np.concatenate((getattr(p, f)[:k], np.asarray(v, dtype=np.float64)))
              for f, v in zip(_FIELDS[1:], new[1:]))))
    return out
