"""analysis/medians.py stands in for np.median in the detectors: the same numbers, down to
the sign of a zero, NaN where numpy gives NaN, the same type."""

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmon_tui.analysis.medians import median, running3

VALUES = st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                            st.sampled_from([0.0, -0.0, 1.0, -1.0, 2.0])),
                  min_size=0, max_size=40)


def _same(a, b) -> bool:
    if np.isnan(a) or np.isnan(b):
        return bool(np.isnan(a) and np.isnan(b))
    return a == b and np.signbit(a) == np.signbit(b)


@settings(max_examples=400, deadline=None)
@given(VALUES)
def test_median_is_numpys(values):
    x = np.array(values, dtype=float)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        want, got = np.median(x), median(x)
    assert type(got) is type(want)
    assert _same(got, want), (x, want, got)


@settings(max_examples=300, deadline=None)
@given(VALUES.filter(lambda v: len(v) >= 3))
def test_running_median_of_three_is_numpys(values):
    v = np.array(values, dtype=float)
    with np.errstate(all="ignore"):
        want = np.median(np.stack([v[:-2], v[1:-1], v[2:]]), axis=0)
        got = running3(v)
    assert all(_same(a, b) for a, b in zip(got, want)), (v, want, got)


def test_other_inputs_go_to_numpy():
    assert median(np.array([1, 2, 3, 4])) == 2.5
    assert median(np.array([[1.0, 3.0], [2.0, 9.0]])) == 2.5
