"""Validation predictions gathered batch by batch for `Monitor.log_predictions` (torch)."""

from __future__ import annotations

import torch

TRUE_KEYS = ("y_true", "target", "targets", "labels")
SCORE_KEYS = (("y_score", False), ("probs", False), ("probabilities", False),
              ("scores", False), ("logits", True))


class PredictionBuffer:
    """Labels and scores of one validation run, kept as the (detached) tensors given."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        self.y_true: list = []
        self.y_score: list = []
        self.y_pred: list = []
        self.logits = False
        self.missing = False

    def add(self, outputs) -> None:
        if not isinstance(outputs, dict):
            self.missing = True
            return
        t = next((outputs[k] for k in TRUE_KEYS if outputs.get(k) is not None), None)
        score = next(((outputs[k], lg) for k, lg in SCORE_KEYS
                      if outputs.get(k) is not None), None)
        pred = outputs.get("preds")
        if t is None or (score is None and pred is None):
            self.missing = True
            return
        self.y_true.append(_detach(t))
        if score is not None:
            self.y_score.append(_detach(score[0]))
            self.logits = score[1]
        else:
            self.y_pred.append(_detach(pred))

    def log(self, monitor, step: int, split: str, labels) -> None:
        if monitor is None:
            return
        if not self.y_true:
            if self.missing:
                monitor._prediction_problem(
                    step, split, "validation_step returned no dict with labels (y_true / "
                    "target) and scores (y_score / probs / logits / preds)")
            return
        y_true = torch.cat([t.reshape(-1) for t in self.y_true])
        if self.y_score:
            s = torch.cat(self.y_score)
            if s.ndim == 2 and s.shape[1] == 1:
                s = s[:, 0]
            monitor.log_predictions(step, y_true, s, split=split, labels=labels,
                                    logits=self.logits)
        else:
            monitor.log_predictions(step, y_true, split=split, labels=labels,
                                    y_pred=torch.cat([p.reshape(-1) for p in self.y_pred]))
        self.clear()


def _detach(x):
    return x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(x)
