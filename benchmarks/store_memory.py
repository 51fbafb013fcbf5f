"""Bytes per stored point in the Store at 10M points (target: under 40).

Points arrive as a live reader would deliver them: many small batches per series (so the
columns grow by appending and carry their growth slack). Two figures:
  array bytes  - `Store.nbytes()`: the numpy columns' capacity, slack included;
  traced bytes - everything Python allocated while ingesting (tracemalloc), i.e. arrays
                 plus the dicts, Series objects and run bookkeeping.
A plain Python list of (step, wall, value) tuples is measured on a sample as the peer.

    PYTHONPATH=src python benchmarks/store_memory.py [--quick]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from mlmon_tui.sources.base import ScalarBatch, Update
from mlmon_tui.store import Store


def fill(store: Store, runs: int, tags: int, per_series: int, batch: int) -> int:
    rng = np.random.default_rng(0)
    total = 0
    for start in range(0, per_series, batch):
        k = min(batch, per_series - start)
        step = np.arange(start, start + k, dtype=np.int64)
        wall = 1.7e9 + step * 0.1
        scalars = [
            ScalarBatch(f"run{r:03d}", f"tag{t:02d}", step, wall, rng.standard_normal(k), source=f"f{r}")
            for r in range(runs)
            for t in range(tags)
        ]
        store.apply(Update(scalars=scalars), kind="bench")
        total += k * runs * tags
    return total


def python_tuples_bytes(n: int) -> float:
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    rows = [(i, 1.7e9 + i * 0.1, float(i) * 0.5 + 0.1) for i in range(n)]
    used = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    del rows
    return used / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="1M points instead of 10M")
    args = ap.parse_args()
    runs, tags = 20, 10
    per_series = 5_000 if args.quick else 50_000  # 200 series -> 1M or 10M points
    batch = 500
    tracemalloc.start()
    t = time.perf_counter()
    store = Store()
    n = fill(store, runs, tags, per_series, batch)
    elapsed = time.perf_counter() - t
    traced, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{n:,} points in {runs * tags} series, appended in batches of {batch} ({elapsed:.1f} s, tracemalloc on)")
    print(f"  array bytes / point : {store.nbytes() / n:6.1f}  (raw columns: 8 step + 8 wall + 8 value + 2 source = 26)")
    print(f"  traced bytes / point: {traced / n:6.1f}  (peak while growing: {peak / n:.1f})")
    peer = python_tuples_bytes(200_000)
    print(f"  peer, list of Python (step, wall, value) tuples: {peer:.1f} bytes / point")
    print(f"  ratio peer / store: {peer / (traced / n):.1f}x")


if __name__ == "__main__":
    main()
