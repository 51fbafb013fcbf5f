"""Facts about a run that detectors ask the monitor for: which tag is its training loss,
whether that loss jumped at a step, whether its learning rate decayed or was cut."""

from __future__ import annotations

import numpy as np

from mlmon_tui.analysis.medians import median
from mlmon_tui.analysis.pairs import is_val
from mlmon_tui.analysis.tags import LOSS, classify


def train_loss_tag(store, run: str) -> str | None:
    """The run's training loss: the shortest loss-like tag that is not a validation one."""
    if store is None:
        return None
    tags = [t for t in store.tags(run) if classify(t) == LOSS and not is_val(run, t)]
    return min(tags, key=lambda t: (len(t), t)) if tags else None


def loss_jumped(store, run: str, step: int) -> bool:
    """The run's training loss rose by half its recent level within a few points of `step`
    (True when the run logs no training loss: nothing says it was harmless)."""
    tag = train_loss_tag(store, run)
    s = store.series(run, tag) if tag else None
    if s is None or len(s) < 4:
        return True
    j = int(np.searchsorted(s.step, step))
    before = s.value[max(0, j - 20) : j]
    after = s.value[j : j + 4]
    before, after = before[np.isfinite(before)], after[~np.isnan(after)]
    if len(before) < 3 or not len(after):
        return True
    ref = float(median(before))
    return bool(np.any(~np.isfinite(after)) or np.max(after) > ref + 0.5 * abs(ref))


def lr_decayed(lr, since_step: int) -> bool:
    """The learning rate series `lr` is now below half of what it was at `since_step`."""
    if lr is None or not len(lr):
        return False
    j = max(0, int(np.searchsorted(lr.step, since_step, side="right")) - 1)
    then, now = float(lr.value[j]), float(lr.value[-1])
    return bool(np.isfinite(then) and np.isfinite(now) and now < 0.5 * then)


def lr_stepped(lr, onset: int) -> bool:
    """The learning rate was cut suddenly (to under 0.6 of itself from one logged value to
    the next) shortly before `onset`, or just after it (within a tenth of the run)."""
    if lr is None or len(lr) < 2:
        return False
    span = max(int(0.1 * (lr.step[-1] - lr.step[0])), 1)
    a = int(np.searchsorted(lr.step, onset - span))
    b = int(np.searchsorted(lr.step, onset + span // 4, side="right"))
    v = lr.value[max(0, a - 1) : b]
    with np.errstate(invalid="ignore", divide="ignore"):
        return bool(len(v) >= 2 and np.any(v[1:] < 0.6 * v[:-1]))
