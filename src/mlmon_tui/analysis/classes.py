"""Class collapse: a classifier that predicts (nearly) one class for everything.

Judged on each run's latest evaluation per split (its confusion matrix, from
`Monitor.log_predictions` or a TensorBoard PR curve at threshold 0.5): a warning when one
class takes more than `SHARE` of the predictions while the labels are balanced (no class
holds more than `BALANCED` times its even share of them) and there are at least
`MIN_SAMPLES` predictions. The finding starts at the first evaluation of the current run of
collapsed ones and goes away when an evaluation no longer collapses.
"""

from __future__ import annotations

from mlmon_tui.analysis.findings import Finding

SHARE = 0.9
BALANCED = 1.5
MIN_SAMPLES = 20


def collapsed(confusion: list[list[int]] | None) -> tuple[int, float, float] | None:
    """(predicted class, its share of the predictions, largest true class share) when the
    matrix shows a collapse, else None."""
    if not confusion or len(confusion) < 2:
        return None
    k = len(confusion)
    rows = [sum(r) for r in confusion]
    n = sum(rows)
    if n < MIN_SAMPLES:
        return None
    cols = [sum(confusion[i][j] for i in range(k)) for j in range(k)]
    top = max(range(k), key=cols.__getitem__)
    share, true_top = cols[top] / n, max(rows) / n
    if share > SHARE and true_top <= BALANCED / k:
        return top, share, true_top
    return None


class ClassCollapse:
    """Keeps the class-collapse findings of every (run, split) up to date."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self._version = -1

    def update(self, store) -> None:
        cs = getattr(store, "classification", None)
        if cs is None or cs.version == self._version:
            return
        self._version = cs.version
        found = []
        for run in cs.runs():
            for split in cs.splits(run):
                f = self._check(run, split, cs.points(run, split))
                if f is not None:
                    found.append(f)
        self.findings = found

    @staticmethod
    def _check(run: str, split: str, points) -> Finding | None:
        if not points:
            return None
        last = collapsed(points[-1].confusion)
        if last is None:
            return None
        onset = points[-1]
        for p in reversed(points[:-1]):
            if collapsed(p.confusion) is None:
                break
            onset = p
        cls, share, true_top = last
        labels = points[-1].labels
        name = labels[cls] if cls < len(labels) else str(cls)
        k = len(points[-1].confusion)
        msg = (f"{split}: {share:.0%} of the predictions are class {name!r} while the labels "
               f"are balanced ({k} classes, the largest {true_top:.0%}): the classifier has "
               f"collapsed to one class")
        return Finding(kind="class_collapse", severity="warning", run=run,
                       tag=f"{split}/predictions", step=onset.step, wall_time=onset.wall,
                       value=share, message=msg,
                       extra={"class": name, "share": share, "since_step": onset.step,
                              "latest_step": points[-1].step})
