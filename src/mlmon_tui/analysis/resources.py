"""Resource bottlenecks: GPUs mostly idle while a run is live (the input pipeline cannot keep
up), and memory nearly full.

Input: a history of `ResourceSample`s, oldest first, as a gauge sampler produces them:

    ResourceSample(time=1700000000.0, gpu_util=(97.0, 95.0), gpu_mem_percent=(80.0, 78.0),
                   mem_percent=63.0)

`gpu_util` and `gpu_mem_percent` are percents per GPU (empty without GPUs, None where a
reading is missing); `mem_percent` is the host's used memory in percent (None when unknown).
`samples_from_history()` builds them from the gauge sampler's `History`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from mlmon_tui.analysis.config import HealthConfig
from mlmon_tui.analysis.findings import Finding
from mlmon_tui.analysis.stall import human


@dataclass(frozen=True, slots=True)
class ResourceSample:
    time: float
    gpu_util: tuple[float, ...] = ()
    gpu_mem_percent: tuple[float, ...] = ()
    mem_percent: float | None = None


def samples_from_history(history, interval: float, now: float) -> list[ResourceSample]:
    """ResourceSamples from a sampler `History` (oldest first, one sample per `interval`
    seconds ending at `now`): `mem` in percent, `gpu_util[g]` percent series per GPU,
    `gpu_mem[g]` fraction series per GPU."""
    mem = list(getattr(history, "mem", ()) or ())
    gutil = [list(g) for g in getattr(history, "gpu_util", ()) or ()]
    gmem = [list(g) for g in getattr(history, "gpu_mem", ()) or ()]
    n = max([len(mem)] + [len(g) for g in gutil] + [len(g) for g in gmem])

    def at(series: list, i: int):  # series aligned at their newest end
        j = i - (n - len(series))
        return series[j] if 0 <= j < len(series) else None

    out = []
    for i in range(n):
        gm = tuple(None if at(g, i) is None else 100.0 * at(g, i) for g in gmem)
        out.append(ResourceSample(now - (n - 1 - i) * interval,
                                  gpu_util=tuple(at(g, i) for g in gutil),
                                  gpu_mem_percent=gm, mem_percent=at(mem, i)))
    return out


def check_resources(samples: Sequence[ResourceSample], live_runs: Sequence[str],
                    cfg: HealthConfig) -> list[Finding]:
    out = []
    run = live_runs[0] if len(live_runs) == 1 else ", ".join(live_runs)
    f = _gpu_idle(samples, run, cfg) if live_runs else None
    if f:
        out.append(f)
    out.extend(_memory(samples, run, cfg))
    return out


def _gpu_idle(samples, run, cfg) -> Finding | None:
    gpu = [s for s in samples if s.gpu_util]
    if len(gpu) < 3:
        return None
    t_end = gpu[-1].time
    recent = [s for s in gpu if s.time >= t_end - cfg.gpu_idle_window_s]
    if len(recent) < 3 or recent[-1].time - recent[0].time < 0.5 * cfg.gpu_idle_window_s:
        return None
    n = min(len(s.gpu_util) for s in recent)
    util = np.array([[np.nan if u is None else u for u in s.gpu_util[:n]] for s in recent], float)
    seen = ~np.isnan(util)
    read = seen.sum(axis=0) >= max(3, len(recent) // 2)  # GPUs with enough readings
    if not read.any():
        return None
    mean = np.where(seen, util, 0.0).sum(axis=0)[read] / seen.sum(axis=0)[read]
    if mean.max() >= cfg.gpu_idle_util:
        return None
    # onset: where the trailing stretch of idle samples starts
    busiest = np.array([max((u for u in s.gpu_util if u is not None), default=0.0) for s in gpu])
    k = len(gpu)
    while k > 0 and busiest[k - 1] < cfg.gpu_idle_util:
        k -= 1
    onset = gpu[min(k, len(gpu) - 1)]
    span = human(t_end - onset.time) if k < len(gpu) else human(t_end - recent[0].time)
    msg = (f"the GPU{'s' if n > 1 else ''} averaged {mean.max():.0f}% busy over the last {span} "
           f"while {run or 'a run'} is training: likely waiting on the input pipeline")
    return Finding("gpu_idle", "warning", run, "gpu", None, onset.time, float(mean.max()), msg)


def _memory(samples, run, cfg) -> list[Finding]:
    out = []
    need = cfg.memory_pressure_samples
    if len(samples) < need:
        return out
    series = {"host memory": [s.mem_percent for s in samples]}
    n_gpu = min((len(s.gpu_mem_percent) for s in samples[-need:]), default=0)
    for g in range(n_gpu):
        series[f"gpu{g} memory"] = [s.gpu_mem_percent[g] if len(s.gpu_mem_percent) > g else None
                                    for s in samples]
    for what, vals in series.items():
        k = len(vals)
        while k > 0 and vals[k - 1] is not None and vals[k - 1] >= cfg.memory_pressure_percent:
            k -= 1
        if len(vals) - k < need:
            continue
        onset = samples[k]
        msg = (f"{what} has been at {vals[-1]:.0f}% (>= {cfg.memory_pressure_percent:.0f}%) for "
               f"{human(samples[-1].time - onset.time)}: out-of-memory is near")
        out.append(Finding("memory_pressure", "warning", run, what, None, onset.time,
                           float(vals[-1]), msg))
    return out
