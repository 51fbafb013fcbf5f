"""The rolling block statistics (analysis/rolling.py) are computed in bulk from sorted windows;
they must be exactly the numbers of the definition: for each block, np.median of the finite
values of the `window` points before it, np.median of their distances to it, the same of the
logarithms when the window is all positive, and both scales steadied by the median of the
last 8 blocks' raw figures. Checked window by window, whatever way the points arrive and
whenever the scales (computed when asked for) are asked."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmon_tui.analysis.rolling import BlockStats

STEADY = 8


def reference(values: np.ndarray, window: int, block: int):
    """med, mad, lmad per block, one window at a time, by the definition."""
    nb = -(-len(values) // block)
    raw = np.full((3, nb), np.nan)
    for b in range(nb):
        start = b * block
        if start < window:
            continue
        w = values[start - window : start]
        x = w[np.isfinite(w)]
        if not len(x):
            continue
        m = np.median(x)
        raw[0, b] = m
        raw[1, b] = np.median(np.abs(x - m))
        if np.all(np.isfinite(w)) and np.all(w > 0) and m > 0:
            raw[2, b] = np.median(np.abs(np.log(x) - np.log(m)))
    out = raw.copy()
    for b in range(STEADY - 1, nb):
        for r in (1, 2):
            last = raw[r, b - STEADY + 1 : b + 1]
            last = last[np.isfinite(last)]
            if len(last) and np.median(last) > raw[r, b]:
                out[r, b] = np.median(last)
    return out


def _curve(rng, kind: str, n: int) -> np.ndarray:
    t = np.arange(n, dtype=float)
    v = (0.3 + 2.0 * (1 + t / 500) ** -0.7) * np.exp(0.1 * (rng.random(n) - 0.5))
    if kind == "signed":
        v = rng.normal(size=n)
    elif kind == "ties":
        v = np.round(rng.normal(size=n), 1)
    elif kind == "nan":
        v[rng.random(n) < 0.03] = np.nan
    elif kind == "inf":
        v[rng.random(n) < 0.01] = np.inf
        v[rng.random(n) < 0.01] = -np.inf
    elif kind == "gap":
        v[n // 3 : n // 2] = np.nan
    elif kind == "zeros":
        v[rng.random(n) < 0.05] = 0.0
    elif kind == "signed zeros":
        v = np.where(rng.random(n) < 0.5, -0.0, 0.0)
        v[rng.random(n) < 0.2] = 1.0
        v[rng.random(n) < 0.2] = -1.0
    elif kind == "constant":
        v[:] = 3e-4
    elif kind == "wide":
        v = np.exp(rng.normal(size=n) * 50)
    return v


def _same(got, want, what):
    """Equal, down to the sign of a zero (NaN where NaN)."""
    np.testing.assert_array_equal(got, want, err_msg=what)
    both = ~np.isnan(want)
    np.testing.assert_array_equal(np.signbit(got[both]), np.signbit(want[both]), err_msg=what)


def _check(values, window, block, cuts, rng=None):
    """Feed `values` up to each cut; the scales are asked for (some blocks, in any order)
    between the pieces when `rng` is given, and for all of them at the end."""
    stats = BlockStats(window, block)
    for c in cuts:
        stats.extend(values[:c])
        if rng is not None and len(stats):
            asked = rng.integers(0, len(stats), size=3)
            (stats.mad if rng.random() < 0.5 else stats.lmad)(asked, values[:c])
    want = reference(values, window, block)
    _same(stats.med, want[0], "med")
    blocks = np.arange(len(stats))
    if rng is not None:
        blocks = rng.permutation(blocks)
    _same(stats.mad(blocks, values), want[1][blocks], "mad")
    _same(stats.lmad(blocks, values), want[2][blocks], "lmad")
    idx = np.arange(len(values))
    np.testing.assert_array_equal(stats.med_at(idx), want[0][idx // block])
    np.testing.assert_array_equal(stats.scales_at(idx, values)[0], want[1][idx // block])


def test_block_statistics_are_the_medians_of_each_window():
    rng = np.random.default_rng(7)
    kinds = ("curve", "signed", "ties", "nan", "inf", "gap", "zeros", "signed zeros",
             "constant", "wide")
    for k, kind in enumerate(kinds):
        for window, block in ((48, 8), (47, 5), (9, 9), (4, 1)):
            n = 700 + 37 * k
            values = _curve(rng, kind, n)
            _check(values, window, block, [n])  # a first load
            cuts = sorted(set(rng.integers(1, n, size=6).tolist()) | {n})
            _check(values, window, block, cuts, rng)  # then pieces


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                          st.sampled_from([0.0, 1.0, 2.0, -1.0])), min_size=1, max_size=160),
       st.lists(st.integers(1, 160), max_size=4), st.sampled_from([(8, 2), (5, 1), (6, 6)]))
def test_any_values_any_pieces(values, cuts, shape):
    values = np.array(values, dtype=float)
    with np.errstate(over="ignore"):
        if not np.all(np.abs(values[np.isfinite(values)]) < 1e300):
            values[np.abs(values) >= 1e300] = 1.0  # sums of two middle values stay finite
    n = len(values)
    _check(values, *shape, sorted({min(c, n) for c in cuts} | {n}), np.random.default_rng(n))
