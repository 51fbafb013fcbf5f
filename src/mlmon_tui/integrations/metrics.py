"""The classification metrics `Monitor.log_predictions` logs, for people who log elsewhere.

    from mlmon_tui.integrations.metrics import classification

    writer.add_scalars(classification(y_true, probs, split="val"))   # or wandb.log, mlflow...
    # {"val/accuracy": 0.91, "val/precision_macro": ..., "val/roc_auc_macro": ..., ...}

Same inputs, same computation (`mlmon_tui.classmetrics`), same names. Unusable input (NaN
scores, mismatched lengths, nothing at all) raises ValueError with a one-line reason.
"""

from __future__ import annotations

from mlmon_tui.classmetrics import PredictionError, compute

__all__ = ["PredictionError", "classification"]


def classification(y_true, y_score=None, *, y_pred=None, split: str = "val", labels=None,
                   threshold: float = 0.5, logits: bool = False,
                   details: bool = False) -> dict:
    """`{"<split>/<metric>": value}` as `log_predictions` would log them. With
    `details=True`: {"scalars": that dict, "roc": [fpr, tpr], "pr": [recall, precision],
    "confusion": k x k counts, "labels": [...], "kind": "binary" | "multiclass", "n": n}."""
    r = compute(y_true, y_score, y_pred, threshold=threshold, logits=logits, labels=labels)
    scalars = {f"{split}/{k}": v for k, v in r["scalars"].items()}
    if not details:
        return scalars
    return {**r, "scalars": scalars}
