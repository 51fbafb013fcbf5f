"""What the health analysis reports: one `Finding` per problem, located at its onset."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

KINDS = (
    "nan", "inf", "spike", "divergence", "exploding_gradients", "vanishing_gradients",
    "overfitting", "plateau", "stall", "gpu_idle", "memory_pressure",
    "class_collapse",
    "dead_units", "saturation", "activation_explosion", "layer_not_learning",
)
SEVERITIES = ("info", "warning", "error")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """0 for info, 1 for warning, 2 for error (unknown names rank as info)."""
    return _RANK.get(severity, 0)


@dataclass(slots=True)
class Finding:
    """One health problem.

    `step` is where the problem starts (its onset), not where it was noticed; it is None for
    findings about the machine (GPU idle, memory pressure). `wall_time` is the Unix time of that
    onset. `value` is the value that tells (the NaN, the spike's height, the validation value...).
    `message` is one plain sentence. `extra` holds detector-specific figures (for overfitting:
    best_step, gap, ratio, evals_since_best; for spikes: recovered).
    """

    kind: str
    severity: str
    run: str
    tag: str
    step: int | None
    wall_time: float | None
    value: float | None
    message: str
    extra: dict = field(default_factory=dict)
    # every tag the event was seen on, `tag` first (one event on many tags is one finding)
    tags: tuple = ()

    def __post_init__(self) -> None:
        if not self.tags:
            self.tags = (self.tag,)

    @property
    def key(self) -> tuple:
        """Identity used to tell a new finding from one already reported."""
        return (self.kind, self.run, self.tag,
                self.step if self.step is not None else self.wall_time)

    def to_dict(self, extra: bool = True) -> dict:
        """JSON-ready: keys run, kind, tag (the first tag), tags (every tag the event was seen
        on), step, severity, wall_time, value, message, and `extra` when asked for and not
        empty."""
        d = {
            "run": self.run,
            "kind": self.kind,
            "tag": self.tag,
            "tags": list(self.tags),
            "step": self.step,
            "severity": self.severity,
            "wall_time": _json_float(self.wall_time),
            "value": _json_float(self.value),
            "message": self.message,
        }
        if extra and self.extra:
            d["extra"] = {k: _json_float(v) if isinstance(v, float) else v
                          for k, v in self.extra.items()}
        return d

    def line(self) -> str:
        """One line of plain text for the headless check."""
        where = f"step {self.step}" if self.step is not None else "now"
        tag = f" {self.tag}" if self.tag else ""
        if len(self.tags) > 1:
            tag += f" (+{len(self.tags) - 1} more tags)"
        return f"{self.severity.upper():7} {self.kind:19} {self.run}{tag} @ {where}: {self.message}"


def _json_float(x):
    """JSON has no NaN/Inf: say them as strings so the value is not lost."""
    if x is None:
        return None
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    return x


def fmt(x: float | None) -> str:
    """A number as a person reads it: 3 significant digits."""
    if x is None:
        return "?"
    if not math.isfinite(x):
        return str(x)
    return f"{x:.3g}"


def group_events(findings: list[Finding]) -> list[Finding]:
    """One event, one finding: findings of the same kind in the same run at the same step
    (within a few steps: noise moves a gradual onset by a point or two) on several tags
    (every layer's gradient norm, `loss` mirrored as `train/loss`) become one, led by the
    most severe, then first by name, naming the tags and how many."""
    by_kind: dict[tuple, list[Finding]] = {}
    out: list[Finding] = []
    for f in findings:
        if f.step is None or not f.tag:
            out.append(f)
        else:
            by_kind.setdefault((f.kind, f.run), []).append(f)
    for fs in by_kind.values():
        fs.sort(key=lambda f: f.step)
        group = [fs[0]]
        for f in fs[1:]:
            if f.step - group[0].step <= max(3, 0.002 * abs(group[0].step)):
                group.append(f)
            else:
                out.append(_merge(group))
                group = [f]
        out.append(_merge(group))
    return out


def _merge(same: list[Finding]) -> Finding:
    if len(same) == 1:
        return same[0]
    same = sorted(same, key=lambda f: (-severity_rank(f.severity), f.tag, f.step))
    lead = same[0]
    tags = tuple(dict.fromkeys([lead.tag] + [t for f in same for t in f.tags]))
    if len(tags) == 1:  # the same finding twice (two detectors on one point)
        return lead
    others = [t for t in tags if t != lead.tag]
    shown = ", ".join(others[:4]) + (", ..." if len(others) > 4 else "")
    msg = (f"{lead.message} (also on {len(others)} more tag{'s' * (len(others) != 1)}: "
           f"{shown}; {len(tags)} in all)")
    return Finding(lead.kind, lead.severity, lead.run, lead.tag, lead.step, lead.wall_time,
                   lead.value, msg, dict(lead.extra), tags)
