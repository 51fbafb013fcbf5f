"""Feed a labelled case into a real Store in arrival order, in chunks, and run the monitor."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mlmon_tui.analysis.findings import Finding, severity_rank
from mlmon_tui.analysis.monitor import HealthMonitor
from mlmon_tui.sources.base import HistogramPoint, ScalarBatch, Update
from mlmon_tui.store import Store


@dataclass
class Seg:
    """Points of one (run, tag) as one writer wrote them."""

    run: str
    tag: str
    step: np.ndarray
    wall: np.ndarray
    value: np.ndarray
    source: str = "events.1"
    purge: bool = False
    histogram: bool = False  # value is the gradient's L2 norm, written as a histogram


@dataclass
class Expect:
    kind: str
    tag: str
    step: int
    tol: int
    run: str = "run"
    n_tags: int | None = None  # one finding naming this many tags (one event, many tags)
    severity: str | None = None


@dataclass
class Case:
    name: str
    segs: list[Seg]
    expect: list[Expect] = field(default_factory=list)  # empty: a negative (no finding at all)
    meta: dict = field(default_factory=dict)
    now: float | None = None  # default: just after the last point
    allow: tuple[str, ...] = ()  # kinds tolerated besides the expected ones
    alive: bool | None = None  # what the process hook answers
    params: dict = field(default_factory=dict)  # the generator's drawn parameters


def _hist(run, tag, step, wall, norm, source) -> HistogramPoint:
    # a two-bucket histogram whose sum of squares gives the norm
    return HistogramPoint(run, tag, int(step), float(wall), -norm, norm, 2.0, 0.0,
                          float(norm) ** 2, np.array([0.0, norm]), np.array([1.0, 1.0]), source)


def feed(case: Case, chunk: int | None = 100, seed: int = 0, monitor: HealthMonitor | None = None,
         store: Store | None = None, head: float = 0.0) -> tuple[HealthMonitor, Store]:
    """Apply the case's points in wall-time order, `chunk` points at a time (None: all at once;
    0: random chunk sizes), updating the monitor after each chunk. `head`: this fraction of
    the points arrives first, in one update (a first load), the rest in chunks."""
    rng = np.random.default_rng(seed)
    store = store or Store()
    alive = case.alive
    monitor = monitor or HealthMonitor(process_alive=lambda run: alive)
    walls = np.concatenate([s.wall for s in case.segs])
    seg_id = np.concatenate([np.full(len(s.wall), k) for k, s in enumerate(case.segs)])
    idx = np.concatenate([np.arange(len(s.wall)) for s in case.segs])
    order = np.argsort(walls, kind="stable")
    total = len(order)
    if chunk is None:
        bounds = [0, total]
    elif chunk == 0:
        cuts = np.cumsum(rng.integers(1, 300, size=total))
        bounds = [0] + [int(c) for c in cuts[cuts < total]] + [total]
    else:
        bounds = list(range(0, total, chunk)) + [total]
    cut = int(head * total)
    if 0 < cut < total:
        bounds = [0, cut] + [b for b in bounds if b > cut]
    first = True
    for a, b in zip(bounds[:-1], bounds[1:]):
        sel = order[a:b]
        up = Update()
        if first:
            up.meta = dict(case.meta)
            first = False
        for k in np.unique(seg_id[sel]):
            s = case.segs[k]
            ii = np.sort(idx[sel][seg_id[sel] == k])
            if s.histogram:
                up.histograms += [_hist(s.run, s.tag, s.step[i], s.wall[i], s.value[i], s.source)
                                  for i in ii]
            else:
                up.scalars.append(ScalarBatch(s.run, s.tag, s.step[ii], s.wall[ii], s.value[ii],
                                              source=s.source, purge_orphans=s.purge))
        changed = store.apply(up)
        monitor.update(store, changed, now=float(walls[order[b - 1]]) + 0.5)
    now = case.now if case.now is not None else float(walls.max()) + 1.0
    monitor.update(store, [], now=now)
    monitor.finish(store)
    return monitor, store


def check(case: Case, findings: list[Finding]) -> list[str]:
    """Problems with the findings against the labels (empty list: all good)."""
    problems = []
    used = set()
    for e in case.expect:
        hits = [f for f in findings if f.kind == e.kind and e.tag in f.tags and f.run == e.run]
        if not hits:
            problems.append(f"{case.name}: missing {e.kind} on {e.run}/{e.tag} near step {e.step}")
            continue
        best = min(hits, key=lambda f: abs((f.step if f.step is not None else 1 << 60) - e.step))
        used.add(id(best))
        if best.step is None or abs(best.step - e.step) > e.tol:
            problems.append(f"{case.name}: {e.kind} on {e.tag} at step {best.step}, expected "
                            f"{e.step} +- {e.tol}")
        if e.n_tags is not None and len(best.tags) != e.n_tags:
            problems.append(f"{case.name}: {e.kind} names {len(best.tags)} tags, expected "
                            f"{e.n_tags}: {best.tags}")
        if e.severity is not None and best.severity != e.severity:
            problems.append(f"{case.name}: {e.kind} is {best.severity}, expected {e.severity}")
    expected_kinds = set(case.allow)
    for f in findings:
        if id(f) in used or f.kind in expected_kinds:
            continue
        problems.append(f"{case.name}: unexpected {f.severity} {f.kind} {f.run}/{f.tag} "
                        f"@ {f.step}: {f.message}")
    return problems


def worst(findings: list[Finding]) -> int:
    return max((severity_rank(f.severity) for f in findings), default=-1)
