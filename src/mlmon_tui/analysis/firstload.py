"""The first load of a series: every point at once, with the state the incremental detectors
go on from.

Most detectors already take a whole array in one `feed` (their rules are numpy over the new
points, and the rolling references are block-aligned, so a point's reference does not depend
on how the points arrived). The plateau detector is the exception: it judges the trailing
flat stretch at a schedule of checks (every 1/16 of the run's age), and on a first load of a
long series it would replay every one of them. Only the checks since the last one that found
nothing can shape what it reports (a check that finds nothing clears its finding; one that
finds the same onset keeps it), so here the schedule is walked cheaply, the checks are judged
from the newest back until one finds nothing, and only that last stretch is replayed through
the detector's own `_check`: the same findings and the same state as feeding the whole array,
for a handful of judgements instead of dozens.
"""

from __future__ import annotations

import numpy as np

from mlmon_tui.analysis.detector import Detector, View
from mlmon_tui.analysis.progress import DivergenceDetector, PlateauDetector


def feed_first(det: Detector, view: View, n: int) -> None:
    """Feed points [0, n) to a detector that has seen none."""
    if type(det) is PlateauDetector:
        _plateau(det, view)
    elif type(det) is DivergenceDetector and det.b == 0 and _divergence(det):
        return
    else:
        det.feed(view, 0, n)


def _divergence(det: DivergenceDetector) -> bool:
    """The divergence detector's walk over the block medians, in numpy, when no stretch above
    its bar lasts long enough to be judged (nearly always): the state it would end in (first
    level, best and where, the stretch above going on). False, having changed nothing, when a
    stretch needs judging: then the detector walks the blocks itself."""
    cfg = det.ctx.cfg
    med = det.stats.med
    fin = np.flatnonzero(np.isfinite(med))
    if not len(fin):
        det.b = len(med)
        return True
    m = med[fin]
    first = float(m[0])
    if det.ctx.val:  # its blocks are not judged: only the first level is kept
        det.first, det.b = first, len(med)
        return True
    best = np.minimum.accumulate(m)  # the best after each block
    with np.errstate(invalid="ignore", over="ignore"):
        thr = np.where(best > 0, cfg.divergence_rel * best,
                       np.maximum(cfg.divergence_frac * (first - best), 1e-12))
        over = ~(m <= best + thr)
    if over.any():
        # stretches above: for each block above, the first block of its stretch
        k = np.arange(len(m))
        start = np.maximum.accumulate(np.where(~over, k + 1, 0))
        since = fin[np.minimum(start, len(m) - 1)]
        need = np.maximum(cfg.divergence_blocks,
                          np.ceil(cfg.divergence_wait * (since - fin[0])).astype(np.int64))
        if np.any(over & (fin - since + 1 >= need)):
            return False
        det.over_since = int(since[-1]) if over[-1] else None
    # the best is replaced only by a lower median: its first block
    det.first, det.first_b, det.b = first, int(fin[0]), len(med)
    det.best = float(best[-1])
    det.best_b = int(fin[int(np.argmax(m == best[-1]))])
    return True


def _plateau(det: PlateauDetector, view: View) -> None:
    cfg = det.ctx.cfg
    med = det.stats.med
    checks: list[tuple[int, int]] = []  # (block, age) at which `block` would call _check
    # what _Blocks.feed and PlateauDetector.block do, block by block: only the finite
    # medians count, and a check comes every 1/16 of the age (a few dozen in all)
    fin = np.flatnonzero(np.isfinite(med[det.b :])) + det.b
    if len(fin):
        if det.first is None:
            det.first = float(med[fin[0]])
        if not det.ctx.val:
            if det.first_b is None:
                det.first_b = int(fin[0])
            target = max(det.next_check, det.first_b + 2 * cfg.plateau_min_blocks - 1)
            lo, hi = int(fin[0]), int(fin[-1])
            gapless = hi - lo + 1 == len(fin)  # nearly always: then the next is the target
            while True:
                if gapless:
                    b = max(target, lo)
                    if b > hi:
                        break
                else:
                    k = int(fin.searchsorted(target))
                    if k >= len(fin):
                        break
                    b = int(fin[k])
                age = b + 1 - det.first_b
                det.next_check = target = b + max(1, age // 16)
                checks.append((b, age))
    det.b = len(med)
    if not checks:
        return
    if det.divergence is not None and det.divergence.reported:
        det.findings.clear()  # what every one of the checks would do
        return
    judged: dict[int, object] = {}
    start = len(checks)
    for k in range(len(checks) - 1, -1, -1):
        b, age = checks[k]
        judged[b] = det._judge(view, b, age)
        if judged[b] is None:
            break
        start = k
    if start == len(checks) or start > 0:
        det.findings.clear()  # the check before the replayed stretch found nothing
    # replay the stretch through the detector's own code, reusing the judgements made
    det._judge = lambda view, b, age: judged[b]  # type: ignore[method-assign]
    try:
        for b, age in checks[start:]:
            det._check(view, b, age)
    finally:
        del det._judge
