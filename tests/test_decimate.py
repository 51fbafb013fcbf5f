"""Per-column min/max keeps every spike: checked against a plain per-point grouping."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mlmon_tui.store.decimate import column_of, minmax_columns, minmax_columns_many
from mlmon_tui.store.series import Series


def brute_force(x, y, x0, x1, ncols):
    """Group point by point, the obvious way."""
    groups: dict[int, list[float]] = {}
    for xi, yi in zip(x, y):
        if not (x0 <= xi <= x1) or not math.isfinite(yi):
            continue
        c = 0 if x1 == x0 else min(ncols - 1, max(0, int(math.floor((xi - x0) * ncols / (x1 - x0)))))
        groups.setdefault(c, []).append(yi)
    return groups


def test_single_spike_among_a_million_points_survives():
    n = 1_000_000
    s = Series()
    step = np.arange(n)
    value = np.sin(step / 5000.0)
    value[612_345] = 50.0
    value[12] = -7.0
    s.append(step, step.astype(float), value)
    c = minmax_columns(s.step, s.value, 0, n - 1, 100)
    assert len(c) == 100
    assert c.ymax.max() == 50.0
    assert c.col[np.argmax(c.ymax)] == 61
    assert c.ymin.min() == -7.0 and c.col[np.argmin(c.ymin)] == 0


def test_non_finite_reported_as_markers_not_in_minmax():
    x = np.arange(10)
    y = np.array([1, np.nan, 3, np.inf, 5, -np.inf, 7, 8, np.nan, 10], dtype=float)
    c = minmax_columns(x, y, 0, 9, 5)
    assert np.all(np.isfinite(c.ymin)) and np.all(np.isfinite(c.ymax))
    assert list(c.nan_x) == [1, 8]
    assert list(c.posinf_x) == [3]
    assert list(c.neginf_x) == [5]
    # column of x=8,9 (last) holds only 10 among finite values
    assert c.ymax[-1] == 10 and c.ymin[-1] == 10


def test_only_visible_range_is_used():
    x = np.arange(100)
    y = x.astype(float)
    c = minmax_columns(x, y, 20, 29, 10)
    assert list(c.col) == list(range(10))
    assert list(c.ymin) == list(range(20, 30))
    assert list(c.first) == list(range(20, 30)) and list(c.last) == list(range(20, 30))
    assert len(minmax_columns(x, y, 200, 300, 10)) == 0
    assert len(minmax_columns(x, y, 0, 10, 0)) == 0


def test_first_and_last_in_column_order():
    x = np.array([0, 1, 2, 3])
    y = np.array([5.0, -1.0, 9.0, 2.0])
    c = minmax_columns(x, y, 0, 3, 1)
    assert (c.first[0], c.last[0], c.ymin[0], c.ymax[0]) == (5.0, 2.0, -1.0, 9.0)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(-50, 500),
            st.one_of(st.floats(-1e9, 1e9, allow_nan=False), st.sampled_from([math.nan, math.inf, -math.inf])),
        ),
        max_size=400,
    ),
    st.integers(-60, 300),
    st.integers(0, 400),
    st.integers(1, 80),
)
def test_property_every_column_max_and_min_equal_raw(points, x0, width, ncols):
    points.sort(key=lambda p: p[0])
    x = np.array([p[0] for p in points], dtype=np.int64)
    y = np.array([p[1] for p in points], dtype=np.float64)
    x1 = x0 + width
    c = minmax_columns(x, y, x0, x1, ncols)
    want = brute_force(x, y, x0, x1, ncols)
    assert sorted(want) == list(c.col)
    for i, col in enumerate(c.col):
        vals = want[int(col)]
        assert c.ymax[i] == max(vals)
        assert c.ymin[i] == min(vals)
        assert c.first[i] == vals[0] and c.last[i] == vals[-1]
    inside = (x >= x0) & (x <= x1)
    assert len(c.nan_x) == int(np.sum(inside & np.isnan(y)))
    assert len(c.posinf_x) == int(np.sum(inside & (y == np.inf)))
    assert len(c.neginf_x) == int(np.sum(inside & (y == -np.inf)))


def test_column_of_edges():
    assert list(column_of(np.array([0, 5, 9.999, 10]), 0, 10, 2)) == [0, 1, 1, 1]
    assert list(column_of(np.array([3, 3]), 3, 3, 4)) == [0, 0]


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=1, max_size=200),
    st.lists(st.integers(0, 199), max_size=5),
    st.integers(1, 50),
)
def test_many_equals_one_at_a_time(values, holes, ncols):
    x = np.arange(len(values)) * 3
    a = np.array(values)
    b = a * 2 + 1
    b[[h for h in holes if h < len(b)]] = np.nan  # b has holes, a has none
    for many, one in zip(minmax_columns_many(x, [a, b], -1, len(values) * 3, ncols),
                         [minmax_columns(x, y, -1, len(values) * 3, ncols) for y in (a, b)]):
        for f in ("col", "ymin", "ymax", "first", "last", "nan_x"):
            assert np.array_equal(getattr(many, f), getattr(one, f))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5), st.one_of(st.floats(-1e3, 1e3, allow_nan=False), st.just(math.nan))),
        min_size=2,
        max_size=300,
    ),
    st.data(),
    st.integers(1, 60),
)
def test_extend_equals_full_recompute(points, data, ncols):
    from mlmon_tui.store.decimate import extend_columns

    x = np.cumsum([p[0] for p in points])  # sorted, with repeats
    y = np.array([p[1] for p in points])
    y2 = np.where(np.isnan(y), np.nan, y * 0.5)
    m = data.draw(st.integers(1, len(x)))
    x1 = float(x[-1]) + data.draw(st.integers(0, 20))
    prev = minmax_columns_many(x[:m], [y[:m], y2[:m]], 0, x1, ncols)
    want = minmax_columns_many(x, [y, y2], 0, x1, ncols)
    for got in (extend_columns(prev, x, [y, y2], 0, x1, ncols),
                extend_columns(prev, x, [y, y2], 0, x1, ncols, prev_len=m)):
        for g, w in zip(got, want):
            for f in ("col", "ymin", "ymax", "first", "last", "nan_x"):
                assert np.array_equal(getattr(g, f), getattr(w, f)), f


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 50), min_size=1, max_size=80),
    st.booleans(),
    st.floats(-100, 100, allow_nan=False),
    st.floats(0.001, 500, allow_nan=False),
    st.integers(1, 200),
    st.integers(-2, 210),
)
def test_first_index_at_or_after_column_agrees_with_column_of(gaps, as_float, x0, span, ncols, col):
    from mlmon_tui.store.decimate import first_index_at_or_after_column

    x = np.cumsum(gaps)
    x = x * 0.37 + x0 if as_float else x + int(x0)
    x1 = float(x0) + span
    got = first_index_at_or_after_column(x, float(x0), x1, ncols, col)
    cols = column_of(x, float(x0), x1, ncols)
    want = next((i for i, c in enumerate(cols) if c >= col), len(x))
    assume((x >= x0).all())  # drawing only asks about points in range
    assert got == want
