"""Detectors that read the inside of a model: activation statistics, update ratios and
histograms of activations and weights, per layer.

    dead_units            > 90 % exact-zero activations for a sustained stretch, after lower
    saturation            > 50 % of tanh / sigmoid outputs at their bounds, sustained
    activation_explosion  a layer's activation std grown 100-fold over its earlier least
    layer_not_learning    update ratio < 1e-5 (or weights unchanged) while other layers learn

Inputs, by tag name: the scalars `integrations.torch.watch(activations=True)` writes
(`act/<layer>/zero_frac`, `.../saturated`, `.../std`, `update_ratio/<layer>`), and TensorBoard
histograms whose names say what they hold: activations (`activation`, `act/`, `relu`, `tanh`,
`sigmoid`, `output`) and weights (`weight`, `kernel`; never gradients). Incremental: every
series remembers how far it was read; each new point costs O(1).
"""

from __future__ import annotations

import math
import re

import numpy as np

from mlmon_tui.analysis.findings import Finding

DEAD_FRAC = 0.9
SATURATED_FRAC = 0.5
EXPLOSION = 100.0
SLOW_RATIO = 1e-5
SUSTAIN = 3  # consecutive logged points

_ZERO = re.compile(r"(?:^|/)(zero_frac|zero_fraction|dead_frac|frac_zero)$")
_SAT = re.compile(r"(?:^|/)(saturated|saturation|sat_frac)$")
_STD = re.compile(r"^(?:act|acts|activations?)/.+/std$")
_RATIO = re.compile(r"(?:^|/)update_ratio(?:/|$)")
_ACT_WORDS = re.compile(
    r"(?:^|[/._])(act|acts|activations?|relu\d*|tanh|sigmoid|outputs?)(?:$|[/._\d])")
_WEIGHT_WORDS = re.compile(r"(weight|kernel)", re.I)


def _layer(tag: str) -> str:
    for pat in (_ZERO, _SAT):
        tag = pat.sub("", tag)
    if tag.endswith("/std"):
        tag = tag[:-4]
    tag = _RATIO.sub("/", tag).strip("/")
    parts = tag.split("/")
    if parts and parts[0] in ("act", "acts", "activation", "activations"):
        parts = parts[1:]
    return "/".join(parts) or tag


class _Track:
    """One series: how far it was read, the current stretch, the finding."""

    __slots__ = ("n", "run_start", "seen_low", "least", "finding", "state")

    def __init__(self) -> None:
        self.n = 0
        self.run_start: int | None = None  # index where the current stretch began
        self.seen_low = False
        self.least = math.inf
        self.finding: Finding | None = None
        self.state = None  # fingerprint of the last weight histogram


def _finding(kind, severity, run, tag, step, wall, value, message, **extra) -> Finding:
    return Finding(kind=kind, severity=severity, run=run, tag=tag, step=int(step),
                   wall_time=float(wall), value=float(value), message=message, extra=extra)


class InsideDetectors:
    def __init__(self) -> None:
        self._tracks: dict[tuple, _Track] = {}
        self._seen: dict[tuple[str, str], tuple[int, int]] = {}  # histograms already read

    def findings(self) -> list[Finding]:
        return [t.finding for t in self._tracks.values() if t.finding is not None]

    def update(self, store, keys) -> None:
        runs_with_ratios = set()
        for run, tag in keys:
            kind = "zero" if _ZERO.search(tag) else "sat" if _SAT.search(tag) else \
                "std" if _STD.search(tag) else "ratio" if _RATIO.search(tag) else None
            if kind is None:
                continue
            s = store.series(run, tag)
            if s is None:
                continue
            if kind == "ratio":
                runs_with_ratios.add(run)
                continue
            self._scan(kind, run, tag, s.step, s.wall, s.value)
        for run in runs_with_ratios:
            tags = [t for t in store.tags(run) if _RATIO.search(t)]
            self._not_learning(run, {t: store.series(run, t) for t in tags})
        self._histograms(store)

    # -- per-series thresholds ----------------------------------------------------------------
    def _scan(self, kind: str, run: str, tag: str, step, wall, value) -> None:
        tr = self._tracks.setdefault((kind, run, tag), _Track())
        if tr.n > len(value):  # the series was replaced: read again
            self._tracks[(kind, run, tag)] = tr = _Track()
        for i in range(tr.n, len(value)):
            v = float(value[i])
            if not math.isfinite(v):
                continue
            if kind == "std":
                self._explosion(tr, run, tag, step, wall, value, i, v)
                continue
            high = v > (DEAD_FRAC if kind == "zero" else SATURATED_FRAC)
            if not high:
                tr.seen_low, tr.run_start = True, None
                continue
            if tr.run_start is None:
                tr.run_start = i
            if tr.finding is None and i - tr.run_start + 1 >= SUSTAIN and (
                    kind == "sat" or tr.seen_low):
                j = tr.run_start
                tr.finding = self._message(kind, run, tag, step[j], wall[j], value[j], i - j + 1)
        tr.n = len(value)

    @staticmethod
    def _message(kind, run, tag, step, wall, value, n) -> Finding:
        layer = _layer(tag)
        if kind == "zero":
            return _finding("dead_units", "warning", run, tag, step, wall, value,
                            f"Layer {layer} went dead at step {int(step)}: {value:.0%} of its "
                            f"activations are exactly zero ({n} records in a row).",
                            layer=layer, fraction=float(value))
        return _finding("saturation", "warning", run, tag, step, wall, value,
                        f"Layer {layer} is saturated from step {int(step)}: {value:.0%} of its "
                        "outputs sit at the bounds, where gradients vanish.",
                        layer=layer, fraction=float(value))

    def _explosion(self, tr: _Track, run, tag, step, wall, value, i: int, v: float) -> None:
        if tr.finding is None and 0 < tr.least < math.inf and v >= EXPLOSION * tr.least:
            layer = _layer(tag)
            tr.finding = _finding(
                "activation_explosion", "error", run, tag, step[i], wall[i], v,
                f"Activations of layer {layer} exploded at step {int(step[i])}: their std is "
                f"{v:.3g}, {v / tr.least:.0f} times its earlier {tr.least:.3g}.",
                layer=layer, growth=v / tr.least)
        if v > 0:
            tr.least = min(tr.least, v)

    # -- update ratios ------------------------------------------------------------------------
    def _not_learning(self, run: str, series: dict) -> None:
        """A layer whose ratio stays below SLOW_RATIO for SUSTAIN records while some other
        layer's is above it at the same steps."""
        series = {t: s for t, s in series.items() if s is not None and len(s)}
        if len(series) < 2:
            return
        for tag, s in series.items():
            tr = self._tracks.setdefault(("ratio", run, tag), _Track())
            if tr.finding is not None or tr.n == len(s):
                continue
            others = [o for t, o in series.items() if t != tag]
            step, value = s.step, s.value
            for i in range(tr.n, len(value)):
                v = float(value[i])
                slow = math.isfinite(v) and v < SLOW_RATIO and any(
                    _value_at(o, int(step[i])) >= SLOW_RATIO for o in others)
                if not slow:
                    tr.run_start = None
                    continue
                if tr.run_start is None:
                    tr.run_start = i
                if i - tr.run_start + 1 >= SUSTAIN:
                    j = tr.run_start
                    layer = _layer(tag)
                    how = ("its weights do not change at all: frozen by accident "
                           "(requires_grad=False, or left out of the optimizer)?"
                           if float(np.nanmax(value[j:i + 1])) == 0 else
                           f"its update ratio is {float(value[j]):.1e}, below {SLOW_RATIO:.0e}.")
                    tr.finding = _finding("layer_not_learning", "warning", run, tag, step[j],
                                          s.wall[j], value[j],
                                          f"Layer {layer} is not learning from step "
                                          f"{int(step[j])} while other layers do: {how}",
                                          layer=layer)
                    break
            tr.n = len(value)

    # -- histograms ---------------------------------------------------------------------------
    def _histograms(self, store) -> None:
        weights: dict[str, dict[str, list]] = {}
        changed = set()
        for (run, tag), points in list(store.histograms.items()):
            if not points or "grad" in tag.lower():
                continue
            mark = (len(points), id(points[-1]))
            fresh = self._seen.get((run, tag)) != mark
            self._seen[(run, tag)] = mark
            if _WEIGHT_WORDS.search(tag):
                if fresh:
                    changed.add(run)
                weights.setdefault(run, {})[tag] = points
            elif fresh and _ACT_WORDS.search(tag.lower()):
                self._activation_histograms(run, tag, points)
        for run in changed:
            self._weight_histograms(run, weights[run])

    def _activation_histograms(self, run: str, tag: str, points: list) -> None:
        pts = sorted(points, key=lambda h: (h.step, h.wall))
        step = np.array([h.step for h in pts])
        wall = np.array([h.wall for h in pts])
        zero = np.array([_frac_between(h, -1e-6, 1e-6) for h in pts])
        self._scan("zero", run, tag + "/zero_frac", step, wall, zero)
        name = tag.lower()
        if "tanh" in name or "sigmoid" in name:
            lo, hi = (-1.0, 1.0) if "tanh" in name else (0.0, 1.0)
            eps = 0.02 * (hi - lo)
            sat = np.array([_frac_between(h, -np.inf, lo + eps) + _frac_between(h, hi - eps, np.inf)
                            for h in pts])
            self._scan("sat", run, tag + "/saturated", step, wall, sat)
        std = np.array([_std(h) for h in pts])
        self._scan("std", run, "act/" + tag + "/std", step, wall, std)

    def _weight_histograms(self, run: str, tags: dict[str, list]) -> None:
        """Weight histograms that stop changing while other layers' change: not learning."""
        ratio = {}
        for tag, points in tags.items():
            pts = sorted(points, key=lambda h: (h.step, h.wall))
            change = [np.nan] + [_change(a, b) for a, b in zip(pts, pts[1:])]
            ratio[tag] = _Cols(np.array([h.step for h in pts]), np.array([h.wall for h in pts]),
                               np.array(change, dtype=np.float64))
        self._not_learning(run, ratio)


class _Cols:
    __slots__ = ("step", "wall", "value")

    def __init__(self, step, wall, value) -> None:
        self.step, self.wall, self.value = step, wall, value

    def __len__(self) -> int:
        return len(self.step)


def _value_at(s, step: int) -> float:
    """The series' value at the last point at or before `step` (NaN if none)."""
    i = int(np.searchsorted(s.step, step, side="right")) - 1
    return float(s.value[i]) if i >= 0 else math.nan


def _rows(h) -> np.ndarray:
    from mlmon_tui.store.percentiles import buckets_of

    with np.errstate(all="ignore"):
        return np.asarray(buckets_of(h), dtype=np.float64)


def _frac_between(h, a: float, b: float) -> float:
    """Share of a histogram's count within [a, b], buckets spread evenly."""
    rows = _rows(h)
    if not len(rows) or not rows[:, 2].sum():
        return math.nan
    left, right, count = np.maximum(rows[:, 0], -1e300), np.minimum(rows[:, 1], 1e300), rows[:, 2]
    w = right - left
    with np.errstate(all="ignore"):
        lo, hi = np.maximum(left, a), np.minimum(right, b)
        part = np.where(w > 0, np.clip(hi - lo, 0, None) / np.where(w > 0, w, 1),
                        ((left >= a) & (left <= b)).astype(float))
    return float((count * part).sum() / count.sum())


def _std(h) -> float:
    if h.num > 0 and getattr(h, "layout", "proto") == "proto":
        var = h.sum_squares / h.num - (h.sum / h.num) ** 2
        return math.sqrt(max(var, 0.0))
    rows = _rows(h)
    if not len(rows) or not rows[:, 2].sum():
        return math.nan
    mid = (rows[:, 0] + rows[:, 1]) / 2
    c = rows[:, 2] / rows[:, 2].sum()
    m = float((c * mid).sum())
    return math.sqrt(max(float((c * mid * mid).sum()) - m * m, 0.0))


def _change(a, b) -> float:
    """How much a weight histogram moved between two records, relative to its size."""
    fa = np.array([a.min, a.max, a.sum, a.sum_squares], dtype=np.float64)
    fb = np.array([b.min, b.max, b.sum, b.sum_squares], dtype=np.float64)
    scale = max(float(np.abs(fb).max()), 1e-30)
    d = float(np.abs(fb - fa).max()) / scale
    if d == 0 and not (np.array_equal(a.bucket, b.bucket)
                       and np.array_equal(a.bucket_limit, b.bucket_limit)):
        d = 1.0  # the buckets moved: it changed
    return d
