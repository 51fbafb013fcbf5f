"""NaN and Inf: the first non-finite value of a series is an error.

Reward-like series (reinforcement learning) are NaN until the first episode ends; that prefix
is not a problem, a NaN after the first finite reward is.
"""

from __future__ import annotations

import numpy as np

from mlmon_tui.analysis.detector import Context, Detector, View
from mlmon_tui.analysis.tags import REWARD


class NonFiniteDetector(Detector):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.seen_finite = ctx.cls != REWARD  # only rewards may start non-finite
        self.done = {"nan": False, "inf": False}

    def feed(self, view: View, n0: int, n1: int) -> None:
        if self.done["nan"] and self.done["inf"]:
            return
        v = view.value[n0:n1]
        bad = ~np.isfinite(v)
        if not self.seen_finite:
            good = np.flatnonzero(~bad)
            if not len(good):
                return
            self.seen_finite = True
            start = int(good[0])
            v, bad, n0 = v[start:], bad[start:], n0 + start
        if not bad.any():
            return
        for kind, mask in (("nan", np.isnan(v)), ("inf", np.isinf(v))):
            if self.done[kind] or not mask.any():
                continue
            self.done[kind] = True
            i = n0 + int(np.argmax(mask))
            what = "NaN" if kind == "nan" else str(float(view.value[i])).replace("inf", "Inf")
            prev = i - 1
            last = (f" (last finite value {float(view.value[prev]):.4g})"
                    if prev >= 0 and np.isfinite(view.value[prev]) else "")
            msg = f"{self.ctx.tag} became {what} at step {int(view.step[i])}{last}"
            self.add(self.finding(kind, "error", view, i, msg))
