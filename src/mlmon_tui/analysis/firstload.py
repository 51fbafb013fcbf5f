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
from mlmon_tui.analysis.progress import PlateauDetector


def feed_first(det: Detector, view: View, n: int) -> None:
    """Feed points [0, n) to a detector that has seen none."""
    if type(det) is PlateauDetector:
        _plateau(det, view)
    else:
        det.feed(view, 0, n)


def _plateau(det: PlateauDetector, view: View) -> None:
    cfg = det.ctx.cfg
    med = det.stats.med
    checks: list[tuple[int, int]] = []  # (block, age) at which `block` would call _check
    for b in range(det.b, len(med)):  # what _Blocks.feed and PlateauDetector.block do
        m = med[b]
        if not np.isfinite(m):
            continue
        if det.first is None:
            det.first = float(m)
        if det.ctx.val:
            continue
        if det.first_b is None:
            det.first_b = b
        age = b + 1 - det.first_b
        if age < 2 * cfg.plateau_min_blocks or b < det.next_check:
            continue
        det.next_check = b + max(1, age // 16)
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
