"""`export` writes a series at a time; its bytes are exactly those of the former row-by-row
writer (csv.writer / json.dumps per row, kept below as the reference), on tricky values."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys

import numpy as np
import tbwrite as tw
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmon_tui.app.export import CSV_HEADER, csv_block, jsonl_block

TRICKY = [0.0, -0.0, math.nan, math.inf, -math.inf, 1e-300, 5e-324, -1e-300, 1e16, 1e15,
          123456789012345678.0, 1e-4, 1e-5, 0.1, 1 / 3, 2.5e-7, 1.7976931348623157e308,
          float(np.float32(0.3)), -2.0, 1700000000.25, 2**53 + 2.0]  # fmt: skip
STEPS = [0, 1, -1, 2**31, 2**53 + 1, 2**62, -(2**63), 2**63 - 1]
NAMES = ["run", "a,b", 'say "hi"', "line\nbreak", "cr\rhere", "{braces}", "é/ü 🙂", " lead",
         "", "tab\there"]  # fmt: skip


def _json_value(v: float):
    return v if math.isfinite(v) else ("NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity"))


def reference(fmt: str, series) -> str:
    """The former writer, row by row, verbatim but for the output stream."""
    out = io.StringIO(newline="")
    writer = csv.writer(out) if fmt == "csv" else None
    if writer:
        writer.writerow(["run", "tag", "step", "wall_time", "value"])
    for run, tag, s_step, s_wall, s_value in series:
        for step, wall, value in zip(s_step.tolist(), s_wall.tolist(), s_value.tolist()):
            if writer:
                writer.writerow([run, tag, step, repr(wall), repr(value)])
            else:
                out.write(json.dumps({"run": run, "tag": tag, "step": step, "wall_time": wall,
                                      "value": _json_value(value)}) + "\n")
    return out.getvalue()


def ours(fmt: str, series) -> str:
    block = csv_block if fmt == "csv" else jsonl_block
    return (CSV_HEADER if fmt == "csv" else "") + "".join(block(*s) for s in series)


def test_tricky_values_names_and_steps_byte_for_byte():
    vals = np.array(TRICKY)
    series = []
    for k, name in enumerate(NAMES):
        step = np.array((STEPS * 3)[: len(vals)], dtype=np.int64)
        series.append((name, NAMES[-1 - k], step, np.roll(vals, k), np.roll(vals, -k)))
    for fmt in ("csv", "jsonl"):
        assert ours(fmt, series) == reference(fmt, series)


@settings(max_examples=200, deadline=None)
@given(
    bits=st.lists(st.integers(0, 2**64 - 1), min_size=1, max_size=40),
    run=st.text(max_size=12), tag=st.text(max_size=12),
)  # fmt: skip
def test_any_float64_bit_pattern_and_name(bits, run, tag):
    vals = np.array(bits, dtype=np.uint64).view(np.float64)
    series = [(run, tag, np.arange(len(vals), dtype=np.int64), vals[::-1].copy(), vals)]
    for fmt in ("csv", "jsonl"):
        assert ours(fmt, series) == reference(fmt, series)


def test_the_command_writes_what_the_reference_writes(tmp_path):
    """The whole command on an event file with tricky values, against the reference."""
    vals = [v for v in TRICKY if v == v and abs(v) < 3e38]  # what float32 can carry
    events = [tw.version_event()] + [tw.simple(t, v, k, wall=1.7e9 + k / 3)
                                     for k, v in enumerate(vals) for t in ("a,b", "z")]
    logs = tmp_path / "logs"
    (logs / "r").mkdir(parents=True)
    tw.write(logs / "r" / "events.out.tfevents.1.h", events)
    from mlmon_tui.app.export import load

    store = load([str(logs)])
    series = [(r, t, store.series(r, t).step, store.series(r, t).wall, store.series(r, t).value)
              for r, t in store.keys()]  # fmt: skip
    for fmt in ("csv", "jsonl"):
        out = tmp_path / f"out.{fmt}"
        cmd = [sys.executable, "-m", "mlmon_tui", "export", str(logs), "-o", str(out),
               "--format", fmt]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True)
        assert out.read_bytes() == reference(fmt, series).encode()
