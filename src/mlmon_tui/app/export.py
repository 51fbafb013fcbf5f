"""`mlmon-tui export`: every scalar as (run, tag, step, wall_time, value), or with
`--histograms` every histogram as (run, tag, step, wall_time, count, min, max, mean and the
nine percentiles TensorBoard's Distributions tab draws)."""

from __future__ import annotations

import contextlib
import csv
import json
import math
import sys

from mlmon_tui.sources.watch.watcher import Watcher
from mlmon_tui.store import Store


def load(paths: list[str]) -> Store:
    store = Store()
    Watcher(paths, store).load_once()
    return store


def _json_value(v: float):
    return v if math.isfinite(v) else ("NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity"))


def _json_or_null(v):
    return None if v is None else _json_value(v)


def _histogram_rows(store: Store):
    from mlmon_tui.store.percentiles import summary

    for (run, tag) in sorted(store.histograms):
        for h in sorted(store.histograms[(run, tag)], key=lambda h: (h.step, h.wall)):
            yield run, tag, h, summary(h)


def export_histograms(store: Store, out, fmt: str) -> None:
    from mlmon_tui.store.percentiles import COLUMNS

    writer = csv.writer(out) if fmt == "csv" else None
    if writer:
        writer.writerow(["run", "tag", "step", "wall_time", "count", "min", "max", "mean",
                         *COLUMNS])
    for run, tag, h, s in _histogram_rows(store):
        if writer:
            cells = [s["count"], s["min"], s["max"], s["mean"], *s["percentiles"]]
            writer.writerow([run, tag, h.step, repr(h.wall),
                             *("" if v is None else repr(v) for v in cells)])
        else:
            out.write(json.dumps({
                "run": run, "tag": tag, "step": h.step, "wall_time": h.wall,
                "count": _json_value(s["count"]), "min": _json_or_null(s["min"]),
                "max": _json_or_null(s["max"]), "mean": _json_or_null(s["mean"]),
                "percentiles": [_json_value(v) for v in s["percentiles"]]}) + "\n")


def export(paths: list[str], fmt: str, output: str | None, histograms: bool = False) -> int:
    store = load(paths)
    with contextlib.ExitStack() as stack:
        out = sys.stdout if output is None else stack.enter_context(
            open(output, "w", newline="", encoding="utf-8"))
        writer = csv.writer(out) if fmt == "csv" and not histograms else None
        if writer:
            writer.writerow(["run", "tag", "step", "wall_time", "value"])
        if histograms:
            export_histograms(store, out, fmt)
        for run, tag in ([] if histograms else store.keys()):
            s = store.series(run, tag)
            for step, wall, value in zip(s.step.tolist(), s.wall.tolist(), s.value.tolist()):
                if writer:
                    writer.writerow([run, tag, step, repr(wall), repr(value)])
                else:
                    out.write(json.dumps({"run": run, "tag": tag, "step": step, "wall_time": wall,
                                          "value": _json_value(value)}) + "\n")
    for p in store.problems:
        print(f"mlmon-tui: {p.path}: {p.message}", file=sys.stderr)
    return 0
