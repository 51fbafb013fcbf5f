"""The debiased EMA against a line-by-line transcription of TensorBoard's JavaScript."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmon_tui.store.smoothing import IncrementalEma, ema_debiased, linear_scan


def tensorboard_reference(values, smoothing_weight):
    """vz_line_chart2/line-chart.ts `resmoothDataset`, transcribed statement by statement."""
    last = 0.0 if len(values) > 0 else math.nan
    num_accum = 0
    is_constant = all(v == values[0] for v in values)
    out = []
    for next_val in values:
        if is_constant or not math.isfinite(next_val):
            out.append(next_val)
        else:
            last = last * smoothing_weight + (1 - smoothing_weight) * next_val
            num_accum += 1
            debias_weight = 1.0
            if smoothing_weight != 1:
                debias_weight = 1 - math.pow(smoothing_weight, num_accum)
            out.append(last / debias_weight)
    return np.array(out, dtype=np.float64)


def assert_same(got, want):
    assert got.shape == want.shape
    both_nan = np.isnan(got) & np.isnan(want)
    np.testing.assert_allclose(got[~both_nan], want[~both_nan], rtol=1e-9, atol=1e-12)
    assert np.array_equal(np.isnan(got), np.isnan(want))


def test_matches_reference_on_noisy_loss_with_holes():
    rng = np.random.default_rng(1)
    n = 5000
    v = 2.0 * np.exp(-np.arange(n) / 800) + 0.1 * rng.standard_normal(n)
    v[[3, 700, 701, 4999]] = [np.nan, np.inf, -np.inf, np.nan]
    for w in (0.0, 0.3, 0.6, 0.9, 0.99, 0.999):
        assert_same(ema_debiased(v, w), tensorboard_reference(list(v), w))


def test_non_finite_pass_through_and_do_not_enter_average():
    v = np.array([1.0, np.nan, 3.0, np.inf, 5.0])
    got = ema_debiased(v, 0.5)
    assert np.isnan(got[1]) and got[3] == np.inf
    # without the holes the finite points smooth the same way
    assert_same(got[[0, 2, 4]], ema_debiased(np.array([1.0, 3.0, 5.0]), 0.5))


def test_constant_series_and_weight_zero_unchanged():
    c = np.full(100, 0.25)
    assert np.array_equal(ema_debiased(c, 0.9), c)
    v = np.array([3.0, 1.0, 2.0])
    assert np.array_equal(ema_debiased(v, 0.0), v)
    assert len(ema_debiased(np.array([]), 0.6)) == 0


def test_first_point_is_unbiased():
    # debiasing makes the first smoothed point equal the first value, not (1 - w) * v
    got = ema_debiased(np.array([10.0, 0.0, 0.0]), 0.9)
    assert got[0] == 10.0
    assert got[1] < 10.0


def test_linear_scan_long_and_small_factor():
    rng = np.random.default_rng(2)
    x = rng.standard_normal(10_000)
    for a in (0.05, 0.5, 0.97):
        y = np.empty_like(x)
        acc = 0.0
        for i, xi in enumerate(x):
            acc = a * acc + xi
            y[i] = acc
        np.testing.assert_allclose(linear_scan(x, a), y, rtol=1e-9, atol=1e-9)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(-1e6, 1e6, allow_nan=False),
            st.sampled_from([math.nan, math.inf, -math.inf]),
        ),
        min_size=0,
        max_size=300,
    ),
    st.floats(0.0, 0.999),
)
def test_property_equals_reference(values, w):
    assert_same(ema_debiased(np.array(values, dtype=np.float64), w), tensorboard_reference(values, w))


def test_incremental_equals_full_recompute():
    rng = np.random.default_rng(3)
    v = rng.standard_normal(3000).cumsum()
    v[[10, 1500, 2999]] = [np.nan, np.inf, np.nan]
    for w in (0.0, 0.6, 0.99):
        inc = IncrementalEma(w)
        n = 0
        for k in (1, 1, 5, 300, 1, 2000, 693):
            n += k
            got = inc.update(v[:n], appended=n > k)
            assert_same(np.array(got), tensorboard_reference(list(v[:n]), w))


def test_incremental_constant_then_not_and_resets():
    inc = IncrementalEma(0.5)
    assert list(inc.update(np.array([2.0, 2.0]), False)) == [2.0, 2.0]
    assert list(inc.update(np.array([2.0, 2.0, 2.0]), True)) == [2.0, 2.0, 2.0]
    v = np.array([2.0, 2.0, 2.0, 4.0])
    assert_same(np.array(inc.update(v, True)), tensorboard_reference(list(v), 0.5))
    other = np.array([9.0, 1.0])  # a different series (e.g. points dropped): recomputed
    assert_same(np.array(inc.update(other, False)), tensorboard_reference(list(other), 0.5))
