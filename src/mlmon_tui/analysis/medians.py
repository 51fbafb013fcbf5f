"""Medians as numpy computes them, without its generic machinery.

The detectors take many medians of short 1-D arrays (a few block medians, the last three
evaluations, a window of differences); `np.median` spends about 15 µs a call on axis
handling and checks before the selection itself. These give the same numbers: the middle
value or the mean of the two middle ones, NaN when any value is NaN or there is none.
"""

from __future__ import annotations

import numpy as np

_NAN = np.float64("nan")


def median(x: np.ndarray) -> np.float64:
    """np.median of a 1-D array (np.median itself for other than float64)."""
    if x.dtype != np.float64 or x.ndim != 1:
        return np.median(x)
    n = len(x)
    if not n:
        return _NAN
    h = n // 2
    if n % 2:  # the partition np.median makes, so that even the sign of a zero is its
        p = np.partition(x, (h, -1))
        m = p[h] + 0.0  # as np.mean sums: a zero is +0
    else:
        p = np.partition(x, (h - 1, h, -1))
        m = (p[h - 1] + 0.0 + p[h]) / 2
    return _NAN if p[-1] != p[-1] else m  # NaN sorts last


def running3(v: np.ndarray) -> np.ndarray:
    """The median of each point and its two neighbours (v[1:-1]; NaN where one is NaN), as
    np.median over the three shifted copies computes it."""
    a, b, c = v[:-2], v[1:-1], v[2:]
    out = np.maximum(np.minimum(a, b), np.minimum(np.maximum(a, b), c))
    out += 0.0  # as np.mean sums: a zero is +0
    return out
