"""A series fed a few points at a time (the live case, a plain Python path) ends up exactly
as one fed everything at once (numpy): columns, order, min, max and non-finite counts."""

from __future__ import annotations

import numpy as np

from mlmon_tui.store.series import Series


def test_few_point_appends_equal_one_bulk_append():
    rng = np.random.default_rng(7)
    steps, walls, values = [], [], []
    few = Series()
    step = 0
    for _ in range(400):
        k = int(rng.integers(1, 4))
        st = step + np.sort(rng.integers(0, 3, size=k))  # equal steps happen
        if rng.random() < 0.05:
            st = st - 5  # now and then a point before the end: the general path
        v = rng.normal(size=k)
        v[rng.random(k) < 0.05] = np.nan
        v[rng.random(k) < 0.03] = np.inf
        v[rng.random(k) < 0.03] = -np.inf
        w = 1.7e9 + st.astype(float)
        few.append(st, w, v, src=int(rng.integers(0, 3)))
        steps.append(st), walls.append(w), values.append(v)
        step = int(st.max()) + 1
    bulk = Series()
    order = np.argsort(np.concatenate(steps), kind="stable")
    # the bulk reference: points sorted by step, ties kept in arrival order
    bulk.append(np.concatenate(steps)[order], np.concatenate(walls)[order],
                np.concatenate(values)[order])
    assert np.array_equal(few.step, bulk.step)
    assert np.array_equal(few.wall, bulk.wall)
    assert np.array_equal(few.value, bulk.value, equal_nan=True)
    assert (few.min, few.max, few.n_nan, few.n_inf) == (bulk.min, bulk.max, bulk.n_nan, bulk.n_inf)
    assert few.n_nan and few.n_inf and few.rewrites > 0
