"""Names the text formats share: which column or key is the step, which is the wall time."""

from __future__ import annotations

import numpy as np

# First match wins. The chosen one is the x axis; the others stay metrics (Lightning's
# `epoch` beside `step` is a useful curve). Ray Tune's `training_iteration` is always there,
# `timesteps_total` only for RL trainables, so the iteration comes first.
STEP_KEYS = (
    "step", "global_step", "_step", "iteration", "iter", "training_iteration",
    "timesteps_total", "epoch",
)
TIME_KEYS = ("wall_time", "walltime", "_timestamp", "timestamp", "time")
# A value in this range is a Unix time in seconds (1973..2100); in milliseconds, x1000.
_UNIX_S = (1e8, 4.2e9)
_UNIX_MS = (1e11, 4.2e12)


def pick(names, wanted) -> int:
    """Index in `names` of the first of `wanted` present (case-insensitive), else -1."""
    lower = [n.strip().lower() for n in names]
    for w in wanted:
        if w in lower:
            return lower.index(w)
    return -1


def wall_scale(value: float) -> float:
    """1.0 if `value` looks like Unix seconds, 1e-3 if Unix milliseconds, else 0.0 (not a
    wall clock: a duration such as Ray's `time_total_s` or a relative `time`)."""
    if _UNIX_S[0] <= value <= _UNIX_S[1]:
        return 1.0
    if _UNIX_MS[0] <= value <= _UNIX_MS[1]:
        return 1e-3
    return 0.0


def steps_from(values: np.ndarray, last: int) -> tuple[np.ndarray, int]:
    """Integer steps from a float column; missing (non-finite) cells repeat the previous step."""
    bad = ~np.isfinite(values)
    if bad.any():
        idx = np.where(bad, 0, np.arange(len(values)))
        np.maximum.accumulate(idx, out=idx)
        values = values[idx]
        values[bad & ~np.isfinite(values)] = last
    steps = values.astype(np.int64)
    return steps, int(steps[-1]) if len(steps) else last
