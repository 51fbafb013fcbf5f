"""One evaluation of a classifier: its ROC and precision-recall curves and confusion matrix.

Produced from predictions pushed by the client (`Monitor.log_predictions`, stored in the
run's socket JSONL as `{"step":..,"wall_time":..,"classification":{...}}`) and from
TensorBoard PR-curve summaries. The JSON form (`to_json` / `from_json`):

    {"split": "val", "kind": "binary" | "multiclass" | "pr_curve", "n": 1000,
     "labels": ["cat", "dog"], "scalars": {"roc_auc": 0.93, ...},
     "roc": [[fpr...], [tpr...]], "pr": [[recall...], [precision...]],
     "confusion": [[tn, fp], [fn, tp]]}

`roc`, `pr` and `confusion` may be null. Curves hold at most 201 points (up to 1001 are
accepted), the confusion matrix at most 100 classes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

MAX_POINTS = 1001
MAX_CLASSES = 100
KINDS = ("binary", "multiclass", "pr_curve")


@dataclass(slots=True)
class ClassificationPoint:
    run: str
    split: str  # "val", "test", ... (for TensorBoard: the summary's tag)
    step: int
    wall: float
    kind: str
    n: int = 0  # predictions scored
    labels: list[str] = field(default_factory=list)
    scalars: dict[str, float] = field(default_factory=dict)
    roc: tuple[list[float], list[float]] | None = None  # (fpr, tpr), fpr ascending
    pr: tuple[list[float], list[float]] | None = None  # (recall, precision), recall ascending
    confusion: list[list[int]] | None = None  # rows: true class, columns: predicted
    source: str = ""

    @property
    def recall_per_class(self) -> list[float | None]:
        if not self.confusion:
            return []
        return [row[i] / sum(row) if sum(row) else None for i, row in enumerate(self.confusion)]


def to_json(p: ClassificationPoint) -> dict:
    return {"split": p.split, "kind": p.kind, "n": p.n, "labels": p.labels,
            "scalars": p.scalars, "roc": list(p.roc) if p.roc else None,
            "pr": list(p.pr) if p.pr else None, "confusion": p.confusion}


def _curve(v) -> tuple[list[float], list[float]] | None:
    if v is None:
        return None
    if (not isinstance(v, (list, tuple)) or len(v) != 2
            or not all(isinstance(c, list) for c in v) or len(v[0]) != len(v[1])
            or not 1 <= len(v[0]) <= MAX_POINTS):
        raise ValueError("a curve must be two lists of equal length (at most 1001 points)")
    out = []
    for c in v:
        vals = []
        for x in c:
            if isinstance(x, bool) or not isinstance(x, (int, float)):
                raise ValueError("curve values must be numbers")
            vals.append(float(x) if math.isfinite(x) else math.nan)
        out.append(vals)
    return out[0], out[1]


def from_json(obj: dict, run: str, step: int, wall: float, source: str = "") \
        -> ClassificationPoint:
    """Validate the JSON form; raises ValueError (one line) when it cannot be used."""
    if not isinstance(obj, dict):
        raise ValueError("classification must be an object")
    split = obj.get("split", "val")
    kind = obj.get("kind", "binary")
    if not isinstance(split, str) or not split or len(split) > 128:
        raise ValueError("classification split must be a short string")
    if kind not in KINDS:
        raise ValueError(f"classification kind must be one of {', '.join(KINDS)}")
    labels = obj.get("labels") or []
    if not isinstance(labels, list) or len(labels) > 10_000:
        raise ValueError("classification labels must be a list")
    scalars = obj.get("scalars") or {}
    if not isinstance(scalars, dict):
        raise ValueError("classification scalars must be an object")
    clean = {str(k): float(v) for k, v in scalars.items()
             if isinstance(v, (int, float)) and not isinstance(v, bool)}
    cm = obj.get("confusion")
    if cm is not None:
        if (not isinstance(cm, list) or not 1 <= len(cm) <= MAX_CLASSES
                or not all(isinstance(r, list) and len(r) == len(cm) for r in cm)
                or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0
                           for r in cm for x in r)):
            raise ValueError("confusion must be a square matrix of counts (at most 100 "
                             "classes)")
    n = obj.get("n", 0)
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        n = 0
    return ClassificationPoint(run=run, split=split, step=int(step), wall=float(wall),
                               kind=kind, n=n, labels=[str(x)[:64] for x in labels],
                               scalars=clean, roc=_curve(obj.get("roc")),
                               pr=_curve(obj.get("pr")), confusion=cm, source=source)


def from_pr_tensor(arr, run: str, tag: str, step: int, wall: float,
                   source: str = "") -> ClassificationPoint | None:
    """A TensorBoard `pr_curves` summary: a [6, T] tensor of TP, FP, TN, FN, precision and
    recall at thresholds i / (T - 1). The confusion matrix is the one at threshold 0.5."""
    import numpy as np

    a = np.asarray(arr, dtype=np.float64)
    if a.ndim != 2 or a.shape[0] != 6 or a.shape[1] < 2:
        return None
    tp, fp, tn, fn, prec, rec = a
    with np.errstate(divide="ignore", invalid="ignore"):
        fpr = np.where(fp + tn > 0, fp / (fp + tn), 0.0)
        tpr = np.where(tp + fn > 0, tp / (tp + fn), 0.0)
    # thresholds ascend, so the curves run from (1, 1) down: reverse, close at (0, 0)
    fpr, tpr = np.r_[fpr[::-1], 0.0], np.r_[tpr[::-1], 0.0]
    order = np.lexsort((tpr, fpr))
    fpr, tpr = np.r_[0.0, fpr[order]], np.r_[0.0, tpr[order]]
    has = (tp + fp) > 0
    r, p = rec[has][::-1], prec[has][::-1]
    o = np.argsort(r, kind="stable")
    r, p = r[o], p[o]
    scalars = {"roc_auc": float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2.0)}
    t = int(round(0.5 * (a.shape[1] - 1)))
    cm = [[int(tn[t]), int(fp[t])], [int(fn[t]), int(tp[t])]]
    n = int(tp[0] + fp[0] + tn[0] + fn[0])
    if n:
        scalars["accuracy"] = (cm[0][0] + cm[1][1]) / n
    step_ = max(1, len(fpr) // 200)
    return ClassificationPoint(
        run=run, split=tag, step=step, wall=wall, kind="pr_curve", n=n, labels=["0", "1"],
        scalars=scalars, roc=(fpr[::step_].tolist(), tpr[::step_].tolist()),
        pr=(r[::step_].tolist(), p[::step_].tolist()) if len(r) else None, confusion=cm,
        source=source)
