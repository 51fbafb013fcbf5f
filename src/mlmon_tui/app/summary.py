"""`mlmon-tui summary PATH... [--metric TAG] [--sort COLUMN] [--desc|--asc] [--group-by KEY]
[--top N] [--runs REGEX] [--smoothing W] [--json]`: the runs table, headless.

One row per run: its hyper-parameters (those that vary first), state, last step and, for the
metric, last / best / best step / smoothed last. As CSV text, or a JSON array of objects
(`run`, `hparams`, `state`, `last_step`, `last`, `best`, `best_step`, `smoothed_last`), so a
CI job or a notebook can pick the best run. The default metric is the first validation
loss-like tag; the default order is best first by the metric's direction (guessed from its
name: `loss`, `error` down, `acc`, `f1`, `reward` up), `--desc`/`--asc` override it.
With `--group-by` (a hyper-parameter, `/regex/` with a capture, or `seed` for everything
but the seed) the rows are groups: their runs and the mean, min and max of last and best.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys

from mlmon_tui.analysis.groups import GroupBy, group_runs
from mlmon_tui.analysis.sweep import (FIXED_COLUMNS, build_rows, default_metric, direction,
                                      filter_rows, fmt_value, hparam_columns, sort_rows)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlmon-tui summary", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("paths", nargs="+", metavar="PATH", help="log directories")
    p.add_argument("--metric", metavar="TAG", help="the metric (default: first val loss-like)")
    p.add_argument("--sort", metavar="COLUMN", default=None,
                   help="run, state, last_step, last, best, best_step, smoothed_last or a "
                        "hyper-parameter (default: best)")
    order = p.add_mutually_exclusive_group()
    order.add_argument("--desc", action="store_true", help="descending")
    order.add_argument("--asc", action="store_true", help="ascending")
    p.add_argument("--group-by", metavar="KEY", help="hparam name, /regex/ or seed")
    p.add_argument("--top", type=int, metavar="N", help="only the N best runs by the metric")
    p.add_argument("--runs", metavar="REGEX", help="only runs (or k=v hparams) matching REGEX")
    p.add_argument("--smoothing", type=float, default=0.6, metavar="W",
                   help="EMA weight for smoothed_last (default 0.6)")
    p.add_argument("--json", action="store_true", help="a JSON array of objects")
    return p


def _states(store, runs: list[str]) -> dict[str, str]:
    from mlmon_tui.analysis.monitor import HealthMonitor

    monitor = HealthMonitor()
    monitor.update(store, None)
    monitor.finish(store)
    return {r: monitor.run_state(r) for r in runs}


def summarize(store, *, metric=None, sort=None, desc=None, group_by=None, top=None,
              runs_re=None, smoothing=0.6):
    """(metric, direction, rows or group dicts, columns) for `store` already loaded."""
    runs = store.runs()
    metric = metric or default_metric(store.tags())
    want = direction(metric) if metric else "min"
    rows = build_rows(store, runs, metric, smoothing=smoothing, want=want,
                      states=_states(store, runs))
    rows = filter_rows(rows, runs_re, top, want)
    column = sort or "best"
    descending = (want == "max") if desc is None and column in ("best", "last", "smoothed_last") \
        else bool(desc)
    if group_by is not None:
        return metric, want, _groups(rows, group_by, column, descending), None
    return metric, want, sort_rows(rows, column, descending), hparam_columns(rows)


def _stats(values: list) -> tuple:
    vals = [v for v in values if v is not None]
    if not vals:
        return None, None, None
    return sum(vals) / len(vals), min(vals), max(vals)


def _groups(rows, by: GroupBy, column: str, descending: bool) -> list[dict]:
    by_run = {r.run: r for r in rows}
    groups = group_runs([r.run for r in rows], {r.run: r.hparams for r in rows}, by)
    out = []
    for name, members in groups.items():
        rs = [by_run[m] for m in members]
        shared = {k: v for k, v in rs[0].hparams.items()
                  if all(r.hparams.get(k) == v for r in rs[1:])}
        g = {"group": name, "runs": members, "n": len(rs), "hparams": shared}
        for what in ("last", "best", "smoothed_last"):
            g[f"{what}_mean"], g[f"{what}_min"], g[f"{what}_max"] = _stats([r.get(what) for r in rs])
        out.append(g)
    key = {"best": "best_mean", "last": "last_mean", "smoothed_last": "smoothed_last_mean",
           "run": "group"}.get(column, column)
    present = [g for g in out if g.get(key) is not None]
    present.sort(key=lambda g: (isinstance(g[key], str), g[key]), reverse=descending)
    return present + [g for g in out if g.get(key) is None]


def main(argv: list[str] | None = None) -> int:
    p = parser()
    a = p.parse_args(argv)
    from mlmon_tui.sources.watch.remote import missing_targets

    missing = missing_targets(a.paths)
    if missing:
        p.exit(2, f"mlmon-tui summary: no such file or directory: {', '.join(missing)}\n")
    if not 0 <= a.smoothing < 1:
        p.exit(2, "mlmon-tui summary: --smoothing must be in [0, 1)\n")
    try:
        by = GroupBy.parse(a.group_by) if a.group_by else None
        if a.runs:
            re.compile(a.runs)
    except (ValueError, re.error) as e:
        p.exit(2, f"mlmon-tui summary: {e}\n")
    from mlmon_tui.app.check import load
    from mlmon_tui.store import Store

    store = Store()
    for note in load(a.paths, store):
        print(f"note: {note}", file=sys.stderr)
    if not store.runs():
        print(f"mlmon-tui summary: no training logs found under {', '.join(a.paths)}",
              file=sys.stderr)
        return 1
    if a.metric and a.metric not in store.tags():
        p.exit(2, f"mlmon-tui summary: no run has the metric {a.metric!r} "
                  f"(tags: {', '.join(store.tags()[:12])})\n")
    desc = True if a.desc else False if a.asc else None
    metric, want, rows, cols = summarize(store, metric=a.metric, sort=a.sort, desc=desc,
                                         group_by=by, top=a.top, runs_re=a.runs,
                                         smoothing=a.smoothing)
    if a.sort and cols is not None and a.sort not in FIXED_COLUMNS and a.sort not in cols:
        p.exit(2, f"mlmon-tui summary: no column {a.sort!r} "
                  f"(columns: {', '.join(FIXED_COLUMNS + tuple(cols))})\n")
    print(f"metric: {metric} ({'lower' if want == 'min' else 'higher'} is better)",
          file=sys.stderr)
    if a.json:
        data = rows if cols is None else [r.as_json() for r in rows]
        json.dump(data, sys.stdout, indent=1, default=str)
        sys.stdout.write("\n")
        return 0
    w = csv.writer(sys.stdout, lineterminator="\n")
    if cols is None:
        w.writerow(["group", "n", "last_mean", "last_min", "last_max", "best_mean", "best_min",
                    "best_max", "runs"])
        for g in rows:
            w.writerow([g["group"], g["n"]] + [_cell(g[k]) for k in (
                "last_mean", "last_min", "last_max", "best_mean", "best_min", "best_max")]
                + [" ".join(g["runs"])])
        return 0
    w.writerow(["run", "state", "last_step"] + cols + ["last", "best", "best_step", "smoothed_last"])
    for r in rows:
        w.writerow([r.run, r.state, fmt_value(r.last_step)] + [_cell(r.hparams.get(c)) for c in cols]
                   + [_cell(r.last), _cell(r.best), _cell(r.best_step), _cell(r.smoothed_last)])
    return 0


def _cell(v) -> str:
    """A CSV cell: values in full (floats as Python writes them back exactly)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(v).lower()
    return repr(v) if isinstance(v, float) else str(v)
