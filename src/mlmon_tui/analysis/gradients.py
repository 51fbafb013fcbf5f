"""Vanishing gradients: a gradient norm below a floor for many points in a row, and per-layer
norms whose earliest layer collapses against the last one while the global norm looks fine.
(Exploding gradients share the spike detector's rolling reference: see spikes.py.)
"""

from __future__ import annotations

import numpy as np

from mlmon_tui.analysis.detector import Context, Detector, View
from mlmon_tui.analysis.findings import Finding, fmt
from mlmon_tui.analysis.medians import median


class VanishingDetector(Detector):
    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.run_start: int | None = None  # first index of the current run below the floor
        self.reported = False

    def feed(self, view: View, n0: int, n1: int) -> None:
        cfg = self.ctx.cfg
        v = view.value[n0:n1]
        with np.errstate(invalid="ignore"):
            low = np.isfinite(v) & (np.abs(v) < cfg.vanish_floor)
        if not low.any() and self.run_start is None:
            return
        # walk the transitions only: starts and ends of stretches below the floor
        edges = np.flatnonzero(np.diff(np.concatenate([[self.run_start is not None], low]).astype(np.int8)))
        for e in edges:
            i = n0 + int(e)
            if low[e]:
                self.run_start, self.reported = i, False
            else:
                self._check(view, i)
                self.run_start = None
        if self.run_start is not None:
            self._check(view, n1)

    def _check(self, view: View, end: int) -> None:
        cfg = self.ctx.cfg
        if self.reported or self.run_start is None or end - self.run_start < cfg.vanish_points:
            return
        self.reported = True
        i = self.run_start
        msg = (f"{self.ctx.tag} has stayed below {fmt(cfg.vanish_floor)} since step "
               f"{int(view.step[i])} ({end - i} points): vanishing gradients")
        self.add(self.finding("vanishing_gradients", "warning", view, i, msg))


class LayerRatio:
    """Earliest vs last layer gradient norm of one run (tags in natural layer order)."""

    def __init__(self, run: str, first_tag: str, last_tag: str) -> None:
        self.run, self.first_tag, self.last_tag = run, first_tag, last_tag
        self.n = 0  # points of the first layer looked at
        self.start_ratio: float | None = None
        self.low_since: int | None = None
        self.finding: Finding | None = None

    def feed(self, first: View, last: View, cfg, global_tag: str | None) -> None:
        n = len(first.step)
        if n <= self.n or not len(last.step):
            return
        steps = first.step[self.n : n]
        j = np.searchsorted(last.step, steps, side="right") - 1
        ok = j >= 0
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(ok, first.value[self.n : n] / last.value[np.maximum(j, 0)], np.nan)
        for k, r in enumerate(ratio):
            if not np.isfinite(r):
                continue
            if self.start_ratio is None:
                self.start_ratio = float(r)
            collapsed = (r < cfg.layer_ratio_floor
                         and r * cfg.layer_ratio_drop <= self.start_ratio)
            if not collapsed:
                self.low_since = None
                continue
            if self.low_since is None:
                self.low_since = self.n + k
            if self.finding is None and self.n + k - self.low_since + 1 >= cfg.vanish_points:
                i = _left_level(first, last, self.low_since)
                g = f" while {global_tag} looks normal" if global_tag else ""
                self.finding = Finding(
                    kind="vanishing_gradients", severity="warning", run=self.run,
                    tag=self.first_tag, step=int(first.step[i]), wall_time=float(first.wall[i]),
                    value=float(ratio[i - self.n]) if i >= self.n else float(r),
                    message=(f"{self.first_tag} fell to {fmt(float(r))} of {self.last_tag} "
                             f"(from {fmt(self.start_ratio)} at the start){g}: the earliest "
                             f"layers' gradients are vanishing"),
                    extra={"start_ratio": self.start_ratio, "last_layer": self.last_tag},
                )
        self.n = n


def _left_level(first: View, last: View, low_since: int) -> int:
    """Where the ratio first/last left its early level on the way down to `low_since`: the
    point after the last one within three noise sigmas (of the early log-ratios) of it."""
    j = np.searchsorted(last.step, first.step[: low_since + 1], side="right") - 1
    ok = j >= 0
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = np.log(first.value[: low_since + 1] / last.value[np.maximum(j, 0)])
    lr = np.where(ok, lr, np.nan)
    early = lr[np.isfinite(lr)][:32]
    if len(early) < 4:
        return low_since
    level = float(median(early))
    noise = 1.4826 * float(median(np.abs(early - level)))
    with np.errstate(invalid="ignore"):
        near = np.flatnonzero(lr >= level - max(3.0 * noise, 0.1))
    cross = min(int(near[-1]) + 1, low_since) if len(near) else low_since
    # the decline is straight in log: extend it back to the early level
    idx = np.arange(cross, min(cross + 40, low_since + 1))
    idx = idx[np.isfinite(lr[idx])]
    if len(idx) >= 5:
        slope, icpt = np.polyfit(idx.astype(float), lr[idx], 1)
        if slope < 0:
            t = (level - icpt) / slope
            if np.isfinite(t):
                return int(np.clip(np.ceil(t), 0, cross))
    return cross
