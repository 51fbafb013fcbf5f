"""`mlmon-tui export`: every scalar as (run, tag, step, wall_time, value), or with
`--histograms` every histogram as (run, tag, step, wall_time, count, min, max, mean and the
nine percentiles TensorBoard's Distributions tab draws).

Scalars are written a series at a time: the run and tag are quoted once per series, and the
numbers are turned into text by C loops (`map(repr, ...)` over `tolist()`: CPython's shortest
round-trip repr, which is what `csv` and `json` wrote here cell by cell; numpy's `astype(str)`
gives the same text but measured 1.6x slower), then joined into one string per series. The
bytes are exactly those of the former `csv.writer`/`json.dumps` row loop (tests/test_export.py).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import sys

import numpy as np

from mlmon_tui.sources.watch.remote import load_targets
from mlmon_tui.store import Store

CSV_HEADER = "run,tag,step,wall_time,value\r\n"
_JSON_WALL = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
_JSON_VALUE = {"nan": '"NaN"', "inf": '"Infinity"', "-inf": '"-Infinity"'}


def load(paths: list[str]) -> Store:
    store = Store()
    load_targets(paths, store)
    return store


def _brace(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def _reprs(values: np.ndarray, special: dict[str, str] | None = None) -> list[str]:
    out = list(map(repr, values.tolist()))
    if special is not None:
        for i in np.flatnonzero(~np.isfinite(values)).tolist():
            out[i] = special[out[i]]
    return out


def csv_block(run: str, tag: str, step, wall, value) -> str:
    """The CSV lines (`\\r\\n`-terminated, as `csv.writer` writes) of one series."""
    buf = io.StringIO()
    csv.writer(buf).writerow([run, tag, ""])  # quoted as csv quotes them
    line = _brace(buf.getvalue()[:-3]) + ",{},{},{}\r\n"
    return "".join(map(line.format, np.asarray(step).tolist(), _reprs(np.asarray(wall)),
                       _reprs(np.asarray(value))))  # fmt: skip


def jsonl_block(run: str, tag: str, step, wall, value) -> str:
    """The JSON lines of one series; non-finite wall times as JSON's `NaN`/`Infinity`,
    non-finite values as the strings "NaN", "Infinity", "-Infinity"."""
    head = _brace(json.dumps({"run": run, "tag": tag})[:-1])
    line = head + ', "step": {}, "wall_time": {}, "value": {}}}\n'
    return "".join(map(line.format, np.asarray(step).tolist(),
                       _reprs(np.asarray(wall), _JSON_WALL),
                       _reprs(np.asarray(value), _JSON_VALUE)))  # fmt: skip


def _json_value(v: float):
    """A number for JSON: non-finite ones as the strings "NaN", "Infinity", "-Infinity"."""
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
    block = csv_block if fmt == "csv" else jsonl_block
    with contextlib.ExitStack() as stack:
        out = sys.stdout if output is None else stack.enter_context(
            open(output, "w", newline="", encoding="utf-8"))
        if histograms:
            export_histograms(store, out, fmt)
        elif fmt == "csv":
            out.write(CSV_HEADER)
        for run, tag in ([] if histograms else store.keys()):
            s = store.series(run, tag)
            out.write(block(run, tag, s.step, s.wall, s.value))
    for p in store.problems:
        print(f"mlmon-tui: {p.path}: {p.message}", file=sys.stderr)
    return 0
