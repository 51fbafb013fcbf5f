"""`mlmon-tui export`: every scalar as (run, tag, step, wall_time, value)."""

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


def export(paths: list[str], fmt: str, output: str | None) -> int:
    store = load(paths)
    with contextlib.ExitStack() as stack:
        out = sys.stdout if output is None else stack.enter_context(
            open(output, "w", newline="", encoding="utf-8"))
        writer = csv.writer(out) if fmt == "csv" else None
        if writer:
            writer.writerow(["run", "tag", "step", "wall_time", "value"])
        for run, tag in store.keys():
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
