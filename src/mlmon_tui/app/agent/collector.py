"""A prometheus-client Collector that reads the store, the findings and the latest gauge
snapshot at scrape time: nothing is copied between scrapes, so memory does not grow with
the scrape rate and one scrape costs one pass over the runs' last values.

Series are capped (`max_series`, default 10,000): beyond it, scalar series are left out
and counted, once each, in `mlmon_dropped_series_total`.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable

from prometheus_client import generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from mlmon_tui.analysis.runstate import run_state

DEFAULT_MAX_SERIES = 10_000
SCALAR_HELP = "Last value of a logged scalar"
SCALAR_HEAD = f"# HELP mlmon_scalar {SCALAR_HELP}\n# TYPE mlmon_scalar gauge\n"


def _esc(value: str) -> str:
    """A label value as the text format writes it."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class _Families:
    def __init__(self, fams) -> None:
        self._fams = fams

    def collect(self):
        return self._fams


class FindingCounter:
    """Counts findings raised, each (kind, run, tag, onset) once, by (run, kind, severity)."""

    def __init__(self) -> None:
        self._seen: set[tuple] = set()
        self.counts: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()

    def observe(self, findings) -> None:
        with self._lock:
            for f in findings:
                if f.key in self._seen:
                    continue
                self._seen.add(f.key)
                k = (f.run, f.kind, f.severity)
                self.counts[k] = self.counts.get(k, 0) + 1

    def snapshot(self) -> dict[tuple[str, str, str], int]:
        with self._lock:
            return dict(self.counts)


def _proc_totals(procs) -> tuple[float | None, int]:
    cpu, gpu, any_cpu = 0.0, 0, False
    stack = list(procs)
    while stack:
        p = stack.pop()
        if p.cpu_percent is not None:
            cpu += p.cpu_percent
            any_cpu = True
        gpu += p.gpu_mem_total
        stack.extend(p.children)
    return (cpu if any_cpu else None), gpu


class MlmonCollector(Collector):
    """Collects from a running `Services` (watcher + health + sampler)."""

    def __init__(self, services, *, export_tags: str | None = None,
                 max_series: int = DEFAULT_MAX_SERIES,
                 clock: Callable[[], float] = time.time) -> None:
        self.services = services
        self.tags_re = re.compile(export_tags) if export_tags else None
        self.max_series = max_series
        self.clock = clock
        self.counter = FindingCounter()
        self._dropped: set[tuple[str, str]] = set()
        self._lines: dict[tuple[str, str], tuple[float, str, str]] = {}
        self._rates: dict[str, tuple[tuple, float | None]] = {}
        self._values: dict[str, tuple[tuple, list]] = {}
        self._lock = threading.Lock()

    def describe(self):
        return []  # collected at scrape time; no up-front description

    def collect(self):
        """prometheus-client's interface: every family, the scalars as one family."""
        with self._lock:
            fams, scalars = self._gather()
        fam = GaugeMetricFamily("mlmon_scalar", SCALAR_HELP, labels=["run", "tag"])
        for run, tag, v in scalars:
            fam.add_metric([run, tag], v)
        yield from fams[:-1]
        yield fam
        yield fams[-1]

    def render(self) -> bytes:
        """The exposition, as `generate_latest` writes it, with the scalars (nearly all the
        series) written from cached lines: prometheus-client spends ~15-30 us a sample, too
        much for 10,000 series under 100 ms; a line is re-formatted only when its value moved."""
        with self._lock:
            fams, scalars = self._gather()
            lines = self._lines
            if len(lines) > 2 * self.max_series:
                lines.clear()
            out = [SCALAR_HEAD]
            for run, tag, v in scalars:
                hit = lines.get((run, tag))
                if hit is None or hit[0] != v:
                    prefix = hit[1] if hit is not None else (
                        f'mlmon_scalar{{run="{_esc(run)}",tag="{_esc(tag)}"}} ')
                    hit = lines[(run, tag)] = (v, prefix, f"{prefix}{floatToGoString(v)}\n")
                out.append(hit[2])
        return generate_latest(_Families(fams)) + "".join(out).encode()

    def _gather(self):
        sv = self.services
        store = sv.store
        findings = list(sv.findings)
        self.counter.observe(findings)
        budget = [self.max_series]

        def room() -> bool:
            if budget[0] <= 0:
                return False
            budget[0] -= 1
            return True

        host = self._host_families(room)
        now = self.clock()
        step = GaugeMetricFamily("mlmon_step", "Last logged step of a run", labels=["run"])
        rate = GaugeMetricFamily("mlmon_steps_per_second", "Training steps per second",
                                 labels=["run"])
        state = GaugeMetricFamily("mlmon_run_state", "1 for the run's current state",
                                  labels=["run", "state"])
        gmem = GaugeMetricFamily("mlmon_run_gpu_memory_bytes",
                                 "GPU memory held by the run's processes", labels=["run"])
        rcpu = GaugeMetricFamily("mlmon_run_cpu_percent",
                                 "CPU use of the run's processes (100 = one core)",
                                 labels=["run"])
        active = GaugeMetricFamily("mlmon_findings", "Active health findings",
                                   labels=["run", "kind", "severity"])
        total = CounterMetricFamily("mlmon_findings", "Health findings raised",
                                    labels=["run", "kind", "severity"])
        snap = sv.sampler.latest if sv.sampler is not None else None
        procs = snap.runs if snap is not None else {}
        runs = store.runs()
        rows: list[tuple[str, list[tuple[str, float]]]] = []
        with store.lock:
            per_run = []
            for run in runs:
                info = store.run_info(run)
                st = run_state(sv.health.run_state(run), info.last_wall, now)
                per_run.append((run, info.last_step, st))
                rows.append((run, self._last_values(run, info)))
        for run, last_step, st in per_run:
            if room():
                state.add_metric([run, st], 1.0)
            if last_step is not None and room():
                step.add_metric([run], float(last_step))
            r = self._rate(run)
            if r is not None and room():
                rate.add_metric([run], r)
            if run in procs:
                cpu, gpu = _proc_totals(procs[run])
                if room():
                    gmem.add_metric([run], float(gpu))
                if cpu is not None and room():
                    rcpu.add_metric([run], cpu)
        counts: dict[tuple[str, str, str], int] = {}
        for f in findings:
            k = (f.run, f.kind, f.severity)
            counts[k] = counts.get(k, 0) + 1
        for k, n in sorted(counts.items()):
            if room():
                active.add_metric(list(k), float(n))
        for k, n in sorted(self.counter.snapshot().items()):
            if room():
                total.add_metric(list(k), float(n))
        scalars = []
        for run, vals in rows:
            for tag, v in vals:
                if room():
                    scalars.append((run, tag, v))
                else:
                    self._dropped.add((run, tag))
        dropped = CounterMetricFamily("mlmon_dropped_series",
                                      "Scalar series left out by the series cap",
                                      value=float(len(self._dropped)))
        return host + [step, rate, state, gmem, rcpu, active, total, dropped], scalars

    def _last_values(self, run: str, info) -> list[tuple[str, float]]:
        """(tag, last value) of the run's exported tags; re-read only when the run changed."""
        store = self.services.store
        key = (info.points, info.last_step, info.last_wall)
        hit = self._values.get(run)
        if hit is not None and hit[0] == key:
            return hit[1]
        vals = []
        for tag in store.tags(run):
            if self.tags_re is not None and not self.tags_re.search(tag):
                continue
            s = store.series(run, tag)
            v = s.last_value if s is not None else None
            if v is not None:
                vals.append((tag, v))
        self._values[run] = (key, vals)
        return vals

    def _rate(self, run: str) -> float | None:
        """Steps/s, recomputed only when the run got new points."""
        info = self.services.store.run_info(run)
        key = (info.points, info.last_step, len(info.arrivals))
        hit = self._rates.get(run)
        if hit is None or hit[0] != key:
            hit = self._rates[run] = (key, self.services.store.steps_per_second(run))
        return hit[1]

    def _host_families(self, room):
        sv = self.services
        snap = sv.sampler.latest if sv.sampler is not None else None
        out = []
        if snap is None:
            return out
        h = snap.host
        if h is not None:
            for name, doc, v in (
                ("mlmon_cpu_percent", "Host CPU use, mean over cores", h.cpu_percent),
                ("mlmon_memory_used_bytes", "Host memory in use", h.mem_used),
                ("mlmon_memory_total_bytes", "Host memory", h.mem_total),
            ):
                if room():
                    out.append(GaugeMetricFamily(name, doc, value=float(v)))
        fams = {
            "util": GaugeMetricFamily("mlmon_gpu_utilization_percent",
                                      "Percent of time a kernel ran", labels=["gpu", "name"]),
            "mem_used": GaugeMetricFamily("mlmon_gpu_memory_used_bytes", "GPU memory in use",
                                          labels=["gpu", "name"]),
            "mem_total": GaugeMetricFamily("mlmon_gpu_memory_total_bytes", "GPU memory",
                                           labels=["gpu", "name"]),
            "power_w": GaugeMetricFamily("mlmon_gpu_power_watts", "GPU power draw",
                                         labels=["gpu", "name"]),
            "temperature": GaugeMetricFamily("mlmon_gpu_temperature_celsius",
                                             "GPU temperature", labels=["gpu", "name"]),
        }
        for g in snap.gpus:
            if g.lost:
                continue
            for attr, fam in fams.items():
                v = getattr(g, attr)
                if v is not None and room():
                    fam.add_metric([str(g.index), g.name], float(v))
        out.extend(fams.values())
        return out

