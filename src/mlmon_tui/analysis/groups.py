"""Runs grouped into one line each: by a hyper-parameter, a regex capture on the run name, or
every hyper-parameter but the seed; and a group's mean with its min-max band. Pure numpy.

`aggregate` puts every run of a group on the union of their steps (each run interpolated
only inside its own first..last step, never extrapolated) and takes, per step, the mean, min
and max over the runs present there. Smoothing is applied to each run before (see
`smooth_then_aggregate`), as the issue asks: the smoothed mean of a group is the mean of its
runs' smoothed values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from mlmon_tui.analysis.sweep import SEED_KEY, flatten, fmt_value
from mlmon_tui.store.smoothing import ema_debiased

SEED_IN_NAME = re.compile(r"[/_\-.,]?(seed|rng|trial|version)[=_\-]?\d+", re.I)


@dataclass(frozen=True)
class GroupBy:
    """How to group: kind "hparam" (key), "regex" (pattern with a capture group), "seed"
    (everything except the seed)."""

    kind: str
    key: str = ""

    @staticmethod
    def parse(text: str) -> "GroupBy | None":
        """`lr` (a hyper-parameter), `/lr=([^/]+)/` or `re:PATTERN` (a capture on the name),
        `seed` or `-seed` (all but the seed); empty: no grouping. Raises ValueError."""
        text = (text or "").strip()
        if not text:
            return None
        if text.lower() in ("seed", "-seed", "all-but-seed", "noseed"):
            return GroupBy("seed")
        if text.startswith("re:") or (len(text) > 2 and text[0] == text[-1] == "/"):
            pattern = text[3:] if text.startswith("re:") else text[1:-1]
            try:
                re.compile(pattern)
            except re.error as e:
                raise ValueError(f"bad regex {pattern!r}: {e}") from None
            return GroupBy("regex", pattern)
        return GroupBy("hparam", text)

    def describe(self) -> str:
        return {"seed": "all but the seed", "regex": f"/{self.key}/"}.get(self.kind, self.key)


def group_key(run: str, hparams: dict, by: GroupBy) -> str:
    """The group a run belongs to (a run that does not match is a group of its own)."""
    hp = flatten(hparams) if hparams else {}
    if by.kind == "hparam":
        if by.key in hp:
            return f"{by.key}={fmt_value(hp[by.key])}"
        return run
    if by.kind == "regex":
        m = re.search(by.key, run)
        if m is None:
            return run
        caps = [g for g in m.groups() if g is not None]
        return "/".join(caps) if caps else m.group(0)
    # all but the seed: the other hyper-parameters; without any, the name less its seed part
    rest = {k: v for k, v in hp.items() if not SEED_KEY.search(k)}
    if rest and len(rest) < len(hp):
        return ",".join(f"{k}={fmt_value(v)}" for k, v in sorted(rest.items()))
    stripped = SEED_IN_NAME.sub("", run)
    return stripped if stripped and stripped != run else run


def group_runs(runs: list[str], hparams: dict[str, dict], by: GroupBy) -> dict[str, list[str]]:
    """Group name -> its runs, groups in the order their first run comes."""
    out: dict[str, list[str]] = {}
    for run in runs:
        out.setdefault(group_key(run, hparams.get(run) or {}, by), []).append(run)
    return out


@dataclass
class Aggregate:
    step: np.ndarray
    mean: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    count: np.ndarray  # runs present at each step


def aggregate(series: list[tuple[np.ndarray, np.ndarray]]) -> Aggregate:
    """Mean, min and max over runs, per step of the union of their steps."""
    parts = [(np.asarray(s), np.asarray(v, dtype=np.float64)) for s, v in series if len(s)]
    if not parts:
        e = np.empty(0)
        return Aggregate(np.empty(0, dtype=np.int64), e, e, e, np.empty(0, dtype=np.int64))
    grid = np.unique(np.concatenate([s for s, _ in parts]))
    stack = np.full((len(parts), len(grid)), np.nan)
    for i, (s, v) in enumerate(parts):
        fin = np.isfinite(v)
        if not fin.any():
            continue
        s, v = s[fin], v[fin]
        order = np.argsort(s, kind="stable")
        s, v = s[order], v[order]
        inside = (grid >= s[0]) & (grid <= s[-1])
        stack[i, inside] = np.interp(grid[inside].astype(np.float64), s.astype(np.float64), v)
    count = np.isfinite(stack).sum(axis=0)
    with np.errstate(invalid="ignore"), _quiet():
        mean = np.nanmean(stack, axis=0)
        lo = np.nanmin(stack, axis=0)
        hi = np.nanmax(stack, axis=0)
    keep = count > 0
    return Aggregate(grid[keep], mean[keep], lo[keep], hi[keep], count[keep])


def smooth_then_aggregate(series: list[tuple[np.ndarray, np.ndarray]], weight: float) -> Aggregate:
    """Each run smoothed (TensorBoard's debiased EMA), then aggregated."""
    if weight > 0:
        series = [(s, ema_debiased(v, weight)) for s, v in series]
    return aggregate(series)


class _quiet:
    """numpy's all-NaN-slice warnings off (columns with no run are dropped after)."""

    def __enter__(self):
        import warnings

        self._w = warnings.catch_warnings()
        self._w.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        self._w.__exit__(*exc)
