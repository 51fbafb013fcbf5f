"""The incremental runner: keeps per-series detector state and feeds it only the new points.

    monitor = HealthMonitor(config, process_alive=lambda run: None)
    changed = store.apply(update)
    new = monitor.update(store, changed)      # findings not reported before
    monitor.findings                          # everything current

A series that was changed other than by points added at its end (a rewritten file, a resumed
run whose orphaned steps were purged: the store's `Series.rewrites` counts those) has its
state rebuilt from the start. For a series without that count, one that shrank or whose
first, middle, last-seen point or a finding's onset changed is rebuilt.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Callable, Iterable, Sequence

import numpy as np

from mlmon_tui.analysis.classes import ClassCollapse
from mlmon_tui.analysis.config import DEFAULT, HealthConfig
from mlmon_tui.analysis.detector import Context, View
from mlmon_tui.analysis import runfacts
from mlmon_tui.analysis.findings import Finding, group_events
from mlmon_tui.analysis.firstload import feed_first
from mlmon_tui.analysis.gradients import LayerRatio, VanishingDetector
from mlmon_tui.analysis.inside import InsideDetectors
from mlmon_tui.analysis.nonfinite import NonFiniteDetector
from mlmon_tui.analysis.overfit import check_pair
from mlmon_tui.analysis.pairs import Pair, find_pairs, is_val
from mlmon_tui.analysis.progress import DivergenceDetector, PlateauDetector
from mlmon_tui.analysis.resources import ResourceSample, check_resources
from mlmon_tui.analysis.rolling import BlockStats
from mlmon_tui.analysis.shortrun import ShortRunDetector
from mlmon_tui.analysis.spikes import SpikeDetector
from mlmon_tui.analysis.stall import Rhythm
from mlmon_tui.analysis.tags import (GRAD, LOSS, LR, classify, is_global_grad,
                                     is_histogram_gradient, is_rl_tag, layer_sort_key)
from mlmon_tui.store.series import Series

Key = tuple[str, str]
MAX_STEP_KEYS = ("max_steps", "total_steps", "num_training_steps", "last_step")


class _SeriesState:
    __slots__ = ("n", "anchors", "stats", "detectors", "series", "rewrites")

    def __init__(self, ctx: Context) -> None:
        cfg = ctx.cfg
        self.n = 0
        self.anchors: dict[int, tuple] = {}  # index -> (step, value) as processed
        self.series = None  # the store's series fed, and its rewrites count then
        self.rewrites: int | None = None
        self.stats = None
        self.detectors = [NonFiniteDetector(ctx)]
        if ctx.cls == GRAD or (ctx.cls == LOSS and not ctx.rl):
            self.stats = BlockStats(cfg.window, cfg.block)
            self.detectors.append(SpikeDetector(ctx, self.stats))
        if ctx.cls == GRAD:
            self.detectors.append(VanishingDetector(ctx))
        elif ctx.cls == LOSS and not ctx.rl:
            short = ShortRunDetector(ctx)
            div = DivergenceDetector(ctx, self.stats)
            div.short = short
            self.detectors += [short, div, PlateauDetector(ctx, self.stats, div)]

    def feed(self, view: View, series=None) -> None:
        n = len(view.step)
        if n <= self.n:
            return
        self.series, self.rewrites = series, getattr(series, "rewrites", None)
        if self.stats is not None:
            self.stats.extend(view.value)
        if self.n == 0:  # a first load: the whole array at once (analysis/firstload.py)
            for d in self.detectors:
                feed_first(d, view, n)
        else:
            for d in self.detectors:
                d.feed(view, self.n, n)
        self.n = n
        if self.rewrites is not None:
            return  # the series counts its own rewrites
        # points whose change means the series was rewritten: the ends, the middle and
        # every finding's onset (so a finding never outlives the data it was about)
        idx = {0, n // 2, n - 1}
        idx.update(int(np.searchsorted(view.step, f.step)) for f in self.findings()
                   if f.step is not None)
        self.anchors = {i: _point(view, i) for i in idx if 0 <= i < n}

    def unchanged(self, view: View, series=None) -> bool:
        """The points already processed are still there as they were."""
        if len(view.step) < self.n:
            return False
        if self.rewrites is not None:
            return series is self.series and series.rewrites == self.rewrites
        return all(_same(p, _point(view, i)) for i, p in self.anchors.items())

    def findings(self) -> Iterable[Finding]:
        for d in self.detectors:
            yield from d.findings


def _point(view: View, i: int) -> tuple:
    return int(view.step[i]), float(view.value[i])


def _same(a, b) -> bool:
    return a[0] == b[0] and (a[1] == b[1] or (a[1] != a[1] and b[1] != b[1]))


class HealthMonitor:
    def __init__(self, config: HealthConfig | None = None,
                 process_alive: Callable[[str], bool | None] | None = None) -> None:
        self.cfg = config or DEFAULT
        self.process_alive = process_alive
        self.findings: list[Finding] = []
        # run -> live | stalled | finished | crashed (process gone before its known last step)
        self.run_states: dict[str, str] = {}
        self._series: dict[Key, _SeriesState] = {}
        # gradient norms from histograms: key -> (series of norms, (step, wall) of the last read)
        self._hist: dict[Key, tuple[Series, tuple | None]] = {}
        self._run_tags: dict[str, int] = {}
        self._rl: set[str] = set()
        self._lr: dict[str, str] = {}
        self._pairs: list[Pair] = []
        self._pair_found: dict[Pair, Finding] = {}
        self._pair_seen: dict[Pair, tuple] = {}
        self._layers: dict[str, LayerRatio] = {}
        self._rhythm: dict[str, Rhythm] = {}
        self._clock: dict[str, Finding] = {}
        self._resource: list[Finding] = []
        self._collapse = ClassCollapse()
        self._inside = InsideDetectors()
        self._reported: set[tuple] = set()
        self._store = None

    # -- public ----------------------------------------------------------------------------
    def update(self, store, changed_keys: Iterable[Key] | None = None,
               now: float | None = None) -> list[Finding]:
        """Feed what changed (everything when `changed_keys` is None); returns new findings."""
        now = time.time() if now is None else now
        self._store = store
        with store.lock:
            keys = set(store.keys() if changed_keys is None else changed_keys)
            keys |= self._refresh_runs(store, {run for run, _ in keys})
            for key in sorted(keys):
                series = store.series(*key)
                if series is not None:
                    self._feed(key, series)
            hist_runs = self._feed_histograms(store)
            self._check_pairs(store)
            self._collapse.update(store)
            self._check_layers(store, {run for run, _ in keys} | hist_runs)
            self._inside.update(store, keys)
            self._check_clock(store, now)
        return self._collect()

    def finish(self, store) -> list[Finding]:
        """The data is complete (a one-shot check): settle what waited for more points."""
        with store.lock:
            for (run, tag), st in self._series.items():
                s = store.series(run, tag)
                if s is not None:
                    view = View(s.step, s.wall, s.value, s.src)
                    for d in st.detectors:
                        d.flush(view)
            self._check_pairs(store, force=True)
            self._collapse.update(store)
        return self._collect()

    def update_resources(self, samples: Sequence[ResourceSample]) -> list[Finding]:
        """Judge a history of resource samples (oldest first) against the live runs."""
        live = sorted(r for r, s in self.run_states.items() if s == "live")
        before = {(f.kind, f.tag): f for f in self._resource}
        found = check_resources(samples, live, self.cfg)
        for f in found:
            # a condition that goes on keeps its first onset (the history window slides)
            old = before.get((f.kind, f.tag))
            if old is not None and old.wall_time is not None and f.wall_time is not None:
                f.wall_time = min(old.wall_time, f.wall_time)
        self._resource = found
        return self._collect()

    def run_state(self, run: str) -> str:
        return self.run_states.get(run, "unknown")

    # -- series ----------------------------------------------------------------------------
    def _context(self, run: str, tag: str, cls: str | None = None) -> Context:
        return Context(run, tag, cls or classify(tag), run in self._rl, self.cfg,
                       lambda step, run=run: self._lr_rose(run, step), is_val(run, tag),
                       lambda step, run=run: self._loss_jumped(run, step))

    def _feed(self, key: Key, series) -> None:
        view = View(series.step, series.wall, series.value, series.src)
        st = self._series.get(key)
        reset = st is None or not st.unchanged(view, series)
        if reset:
            st = self._series[key] = _SeriesState(self._context(*key))
        st.feed(view, series)
        run, tag = key
        rh = self._rhythm.get(run)
        # the run's rhythm follows its busiest series, learned from its start
        if rh is None or (rh.tag != tag and len(series) > 2 * max(rh.n, 1)) \
                or (rh.tag == tag and (reset or len(series) < rh.n)):
            rh = self._rhythm[run] = Rhythm(run, tag, self.cfg)
        if rh.tag == tag:
            rh.feed(view, rh.n, len(series), lambda a, b, run=run: self._explained(run, a, b))

    def _refresh_runs(self, store, runs: set[str]) -> set[Key]:
        """Per-run facts from tag names: RL or not, learning-rate tag, train/val pairs.
        Returns series to re-feed from scratch (a run turned out to be RL)."""
        refeed: set[Key] = set()
        changed = False
        for run in runs:
            tags = store.tags(run)
            if self._run_tags.get(run) == len(tags):
                continue
            self._run_tags[run] = len(tags)
            changed = True
            lr = sorted((t for t in tags if classify(t) == LR), key=len)
            if lr:
                self._lr[run] = lr[0]
            if run not in self._rl and any(is_rl_tag(t) for t in tags):
                self._rl.add(run)
                for key in [k for k in self._series if k[0] == run]:
                    del self._series[key]
                    refeed.add(key)
        if changed:
            self._pairs = find_pairs({r: store.tags(r) for r in store.runs()})
        return refeed

    def _lr_rose(self, run: str, step: int) -> bool:
        tag = self._lr.get(run)
        s = self._store.series(run, tag) if tag and self._store is not None else None
        if s is None or not len(s):
            return False
        j = int(np.searchsorted(s.step, step, side="right")) - 1
        if j < 1:
            return False
        window = s.value[max(0, j - 10) : j]
        window = window[np.isfinite(window)]
        return bool(len(window)) and float(s.value[j]) > 1.2 * float(window.min())

    def _train_loss_tag(self, run: str) -> str | None:
        return runfacts.train_loss_tag(self._store, run)

    def _loss_jumped(self, run: str, step: int) -> bool:
        return runfacts.loss_jumped(self._store, run, step)

    def _lr_series(self, run: str):
        tag = self._lr.get(run)
        return self._store.series(run, tag) if tag and self._store is not None else None

    def _lr_decayed(self, run: str, since_step: int) -> bool:
        return runfacts.lr_decayed(self._lr_series(run), since_step)

    def _lr_stepped(self, run: str, onset: int) -> bool:
        return runfacts.lr_stepped(self._lr_series(run), onset)

    def _explained(self, run: str, a: float, b: float) -> bool:
        """Some other series of the run logged something during the pause (an evaluation
        whose results arrive before training goes on). Values written with the point that
        ends the pause (other columns of the same row, other tags of the same step) do not
        count: they are that point, not something that happened in between."""
        rh = self._rhythm.get(run)
        usual = rh.quantile(0.5) if rh is not None and rh.total else 0.0
        margin = max(0.25 * usual if np.isfinite(usual) else 0.0, 1e-3 * (b - a), 1e-6)
        lo, hi = a + margin, b - margin
        if hi <= lo:
            return False
        for tag in self._store.tags(run):
            if rh is not None and tag == rh.tag:
                continue
            s = self._store.series(run, tag)
            if s is None or not len(s):
                continue
            w = s.wall
            if np.any((w > lo) & (w <= hi)) if len(w) < 64 else _any_between(w, lo, hi):
                return True
        return False

    # -- histograms, pairs, layers -----------------------------------------------------------
    def _feed_histograms(self, store) -> set[str]:
        runs = set()
        for key, points in store.histograms.items():
            if not points or not is_histogram_gradient(key[1]):
                continue
            series, last = self._hist.get(key, (None, None))
            if last is not None and (points[-1].step, points[-1].wall) == last:
                continue
            new = points
            if last is not None:
                k = len(points)
                while k > 0 and (points[k - 1].step, points[k - 1].wall) != last:
                    k -= 1
                new = points[k:] if k else points
                if not k:  # the last one read is gone: the list was replaced, start over
                    series = None
            hkey = (key[0], "\0" + key[1])  # kept apart from a scalar of the same name
            if series is None:
                series = Series()
                self._series.pop(hkey, None)
            series.append([p.step for p in new], [p.wall for p in new],
                          [np.sqrt(max(p.sum_squares, 0.0)) for p in new])
            self._hist[key] = (series, (points[-1].step, points[-1].wall))
            st = self._series.get(hkey)
            if st is None:
                st = self._series[hkey] = _SeriesState(self._context(key[0], key[1], GRAD))
            st.feed(View(series.step, series.wall, series.value))
            runs.add(key[0])
        return runs

    def _view(self, store, run: str, tag: str) -> View | None:
        h = self._hist.get((run, tag))
        s = h[0] if h else store.series(run, tag)
        if s is None:
            return None
        return View(s.step, s.wall, s.value)

    def _check_pairs(self, store, force: bool = False) -> None:
        for pair in self._pairs:
            t = store.series(pair.train_run, pair.train_tag)
            v = store.series(pair.val_run, pair.val_tag)
            if t is None or v is None:
                continue
            # judged when validation changes (training only matters then); a validation
            # logged at every step is judged every 1 % of its points, so each point is O(1)
            seen = self._pair_seen.get(pair)
            n = len(v)
            if seen is not None and not force:
                version, n_seen = seen
                if version == v.version or (n_seen <= n < n_seen + n // 100):
                    continue
            self._pair_seen[pair] = (v.version, n)
            f = check_pair(pair, t, v, self.cfg)
            if f is None:
                self._pair_found.pop(pair, None)
            else:
                self._pair_found[pair] = f

    def _check_layers(self, store, runs: set[str]) -> None:
        for run in runs:
            layer_tags = [t for t in store.tags(run) if classify(t) == GRAD and not is_global_grad(t)]
            layer_tags += [t for (r, t) in self._hist if r == run]
            if len(layer_tags) < 2:
                continue
            weights = [t for t in layer_tags if "weight" in t.lower()]
            ordered = sorted(weights if len(weights) >= 2 else layer_tags, key=layer_sort_key)
            first, last = ordered[0], ordered[-1]
            lr = self._layers.get(run)
            if lr is None or (lr.first_tag, lr.last_tag) != (first, last):
                lr = self._layers[run] = LayerRatio(run, first, last)
            fv, lv = self._view(store, run, first), self._view(store, run, last)
            if fv is None or lv is None:
                continue
            glob = next((t for t in store.tags(run) if classify(t) == GRAD and is_global_grad(t)), None)
            lr.feed(fv, lv, self.cfg, glob)

    # -- stalls ------------------------------------------------------------------------------
    def _check_clock(self, store, now: float) -> None:
        self._clock.clear()
        for run, rh in self._rhythm.items():
            info = store.run_info(run)
            if info.last_wall is None or info.last_step is None:
                continue
            if isinstance(info.meta.get("exit_code"), int):  # the run wrote that it ended (W&B)
                self.run_states[run] = "finished" if info.meta["exit_code"] == 0 else "crashed"
                continue
            alive = self.process_alive(run) if self.process_alive else None
            max_step = _known_last_step(info.meta)
            reached = max_step is not None and info.last_step >= max_step - 1
            if reached or alive is False:
                if alive is False and not reached and max_step is not None \
                        and now - info.last_wall <= self.cfg.stale_after_s:
                    self._clock[run] = Finding(
                        "stall", "error", run, rh.tag, int(info.last_step), info.last_wall, None,
                        f"the process writing {run} is gone at step {info.last_step} of "
                        f"{max_step}: the run stopped before it finished")
                    self.run_states[run] = "crashed"
                else:
                    self.run_states[run] = "finished"
                continue
            state = "alive" if alive else "unknown"
            f = rh.clock(now, info.last_wall, info.last_step, state)
            if f is not None:
                self._clock[run] = f
                self.run_states[run] = "stalled"
            else:
                thr = rh.threshold() or self.cfg.stall_min_s
                recent = now - info.last_wall <= max(thr, 2.0 * rh.max_normal)
                self.run_states[run] = "live" if (recent or alive) else "finished"

    # -- output ------------------------------------------------------------------------------
    def _on_loss(self, f: Finding) -> Finding:
        """A stall is the run's, found on its busiest series: say it on the training loss
        when the run has one, naming the series it was seen on too."""
        lt = self._train_loss_tag(f.run) if self._store is not None else None
        if not lt or lt == f.tag:
            return f
        return replace(f, tag=lt, tags=(lt, f.tag))

    def _collect(self) -> list[Finding]:
        current: list[Finding] = []
        for st in self._series.values():
            current.extend(st.findings())
        current.extend(self._pair_found.values())
        current.extend(lr.finding for lr in self._layers.values() if lr.finding is not None)
        for rh in self._rhythm.values():
            current.extend(self._on_loss(f) for f in rh.findings)
        current.extend(self._on_loss(f) for f in self._clock.values())
        current.extend(self._resource)
        current.extend(self._collapse.findings)
        current.extend(self._inside.findings())
        kept = []
        for f in current:  # a plateau matters while it costs time: live, LR not lowered
            if f.kind == "plateau" and not f.extra.get("underfitting") and f.step is not None:
                if self._lr_stepped(f.run, f.step):
                    continue  # the level a learning-rate step gave: the schedule, not a stop
                live = self.run_states.get(f.run) == "live"
                f.severity = "warning" if live and not self._lr_decayed(f.run, f.step) else "info"
            kept.append(f)
        current = kept
        current = group_events(current)
        self.findings = current
        new = [f for f in current if f.key not in self._reported]
        self._reported.update(f.key for f in new)
        return new


def _any_between(w: np.ndarray, a: float, b: float) -> bool:
    if np.all(w[1:] >= w[:-1]):
        i = int(np.searchsorted(w, a, side="right"))
        return i < len(w) and w[i] <= b
    return bool(np.any((w > a) & (w <= b)))


def _known_last_step(meta: dict) -> int | None:
    for k in MAX_STEP_KEYS:
        v = meta.get(k)
        if isinstance(v, (int, float)) and v > 0:
            return int(v)
    return None
