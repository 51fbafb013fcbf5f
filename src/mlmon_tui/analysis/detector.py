"""What every per-series detector sees: the series' columns and its context."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from mlmon_tui.analysis.config import HealthConfig
from mlmon_tui.analysis.findings import Finding


@dataclass
class View:
    """Columns of one series (views into the store, valid during one update)."""

    step: np.ndarray
    wall: np.ndarray
    value: np.ndarray
    src: np.ndarray | None = None


@dataclass
class Context:
    run: str
    tag: str
    cls: str  # tags.classify(tag)
    rl: bool  # the run is reinforcement learning: its losses may rise as it improves
    cfg: HealthConfig
    # True when the run's learning rate rose shortly before `step` (warm restarts)
    lr_rose: Callable[[int], bool] = field(default=lambda step: False)
    val: bool = False  # a validation / evaluation series (its rise is overfitting's business)
    # True when the run's training loss jumped at `step` (a gradient spike that mattered)
    loss_jumped: Callable[[int], bool] = field(default=lambda step: False)


class Detector:
    """Base: `feed` sees points [n0, n1) as new; `findings` holds its current findings."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.findings: list[Finding] = []

    def feed(self, view: View, n0: int, n1: int) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def flush(self, view: View) -> None:
        """The data is complete (a one-shot check): decide what was waiting for more points."""

    def add(self, finding: Finding) -> None:
        self.findings.append(finding)
        cap = self.ctx.cfg.max_findings_per_series
        if len(self.findings) > cap:
            del self.findings[: len(self.findings) - cap]

    def finding(self, kind: str, severity: str, view: View, i: int, message: str,
                value: float | None = None, **extra) -> Finding:
        i = max(0, min(int(i), len(view.step) - 1))
        return Finding(
            kind=kind, severity=severity, run=self.ctx.run, tag=self.ctx.tag,
            step=int(view.step[i]), wall_time=float(view.wall[i]),
            value=float(view.value[i]) if value is None else float(value),
            message=message, extra=extra,
        )
