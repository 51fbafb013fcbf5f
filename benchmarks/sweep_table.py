"""The runs table with a 200-run sweep: how long rows take to build and sort (the peers, in
the same run: pandas' `DataFrame.sort_values` on the same table, and Python's `sorted` on
bare tuples), and the whole monitor's steady cost with 200 live runs, the table on (200x50)
and off (the runs list, 160x48), against the README's figures for 10 runs.

    PYTHONPATH=src python benchmarks/sweep_table.py [--quick] [--no-screen]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

from mlmon_tui.analysis.sweep import build_rows, hparam_columns, sort_rows  # noqa: E402
from mlmon_tui.panels.runs_table import TableSpec, plan_cells, row_text  # noqa: E402
from mlmon_tui.records.metrics import ScalarBatch, Update  # noqa: E402
from mlmon_tui.store import Store  # noqa: E402

RUNS, STEPS = 200, 2000
COLUMNS = ("best", "last", "smoothed_last", "run", "lr", "seed", "batch_size", "dropout")


def sweep_store() -> Store:
    rng = np.random.default_rng(0)
    store = Store()
    for k in range(RUNS):
        run = f"sweep/lr={[1e-4, 3e-4, 1e-3, 3e-3][k % 4]:g}/bs={[32, 64][k // 4 % 2]}/seed={k}"
        step = np.arange(STEPS, dtype=np.int64)
        val = 0.3 + 2 * np.exp(-step / (300 + k)) + 0.05 * rng.random(STEPS)
        up = Update(scalars=[ScalarBatch(run, "val/loss", step, 1.7e9 + step.astype(float), val)],
                    meta={run: {"hparams": {"lr": [1e-4, 3e-4, 1e-3, 3e-3][k % 4],
                                            "seed": k, "batch_size": [32, 64][k // 4 % 2],
                                            "dropout": round(float(rng.random()), 2),
                                            "optimizer": "adamw", "model": {"width": 256}}}})
        store.apply(up)
    return store


def _time(fn, repeat: int = 20) -> float:
    fn()
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def sort_figures() -> None:
    store = sweep_store()
    runs = store.runs()
    rows = build_rows(store, runs, "val/loss")
    cols = hparam_columns(rows)
    t_build = _time(lambda: build_rows(store, runs, "val/loss"), 5)
    t_sort = max(_time(lambda c=c: sort_rows(rows, c, c == "lr")) for c in COLUMNS)

    spec = TableSpec(columns=cols, metric="val/loss")

    def table_text():
        ordered = sort_rows(rows, "best")
        cells = plan_cells(ordered, spec, 100)
        for r in ordered[:60]:  # what a tall screen shows
            row_text(r, cells, spec, r.run)

    t_text = _time(table_text, 10)
    tuples = [(r.best, r.run) for r in rows]
    t_tuples = _time(lambda: sorted(tuples))
    print(f"{RUNS} runs x {STEPS} steps, {len(cols)} hyper-parameter columns; {os.cpu_count()} cores")
    print(f"  sort by the slowest of {len(COLUMNS)} columns  {1e3 * t_sort:8.3f} ms")
    print(f"  rows from the store (last/best/smoothed)  {1e3 * t_build:8.3f} ms  (once; "
          "the monitor then recomputes only runs whose series moved)")
    print(f"  sort + lay out + 60 lines of text         {1e3 * t_text:8.3f} ms")
    print(f"  peer: sorted() of bare (value, name)      {1e3 * t_tuples:8.3f} ms "
          f"(ours {t_sort / t_tuples:.1f}x: missing values last, numbers before text, ties)")
    try:
        import pandas as pd

        df = pd.DataFrame([{"run": r.run, "best": r.best, "last": r.last, **r.hparams}
                           for r in rows])
        t_pd = max(_time(lambda c=c: df.sort_values([c, "run"], na_position="last"))
                   for c in ("best", "last", "lr", "dropout"))
        print(f"  peer: pandas sort_values (same columns)   {1e3 * t_pd:8.3f} ms "
              f"(ratio pandas/ours {t_pd / t_sort:.1f}x)")
    except ImportError:
        print("  peer: pandas not installed")
    verdict = "under" if t_text < 0.05 else "OVER"
    print(f"  => the table's sort and layout: {1e3 * t_text:.1f} ms, {verdict} the 50 ms budget")


WRITER = textwrap.dedent("""
    import math, os, signal, sys, time
    from mlmon_tui.sources.logs.tfevents import EventWriter
    root, runs, history = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    ws = []
    for k in range(runs):
        d = f"{root}/lr={[1e-4, 3e-4, 1e-3, 3e-3][k % 4]:g}/seed={k}"
        os.makedirs(d, exist_ok=True)
        ws.append(EventWriter(f"{d}/events.out.tfevents.bench"))
    v = lambda k, s, t: 2.0 * math.exp(-s / (300 + k)) + 0.1 * t + 0.02 * math.sin(s + k)
    now = time.time()
    for s in range(history):
        for k, w in enumerate(ws):
            w.add_scalar("train/loss", v(k, s, 0), s, now - history + s)
            w.add_scalar("val/loss", v(k, s, 1), s, now - history + s)
    for w in ws:
        w.flush()
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    s = history
    while True:
        time.sleep(1.0)
        for k, w in enumerate(ws):
            w.add_scalar("train/loss", v(k, s, 0), s)
            w.add_scalar("val/loss", v(k, s, 1), s)
            w.flush()
        s += 1
""")


def screen_figures(quick: bool, baseline: str | None = None) -> None:
    from ptyterm import run_phases

    warm, steady = (10, 10) if quick else (15, 30)
    root = Path(tempfile.mkdtemp(prefix="mlmon-sweep-"))
    src = os.path.join(os.path.dirname(__file__), "..", "src")
    env = {"PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(RUNS), "500"],
                              stdout=subprocess.PIPE, env=dict(os.environ, **env), text=True)
    try:
        writer.stdout.readline()
        argv = [sys.executable, "-m", "mlmon_tui", str(root), "--no-listen", "--no-gpu"]
        table = run_phases(argv, [("warm-up", warm, None), ("steady", steady, None)],
                           cols=200, rows=50, env=env)["steady"]
        plain = run_phases(argv, [("warm-up", warm, None), ("steady", steady, None)],
                           cols=160, rows=48, env=env)["steady"]
        base = None
        if baseline:  # the same screen from another checkout (the code before the table)
            benv = dict(env, PYTHONPATH=os.path.abspath(baseline))
            base = run_phases(argv, [("warm-up", warm, None), ("steady", steady, None)],
                              cols=160, rows=48, env=benv)["steady"]
    finally:
        writer.terminate()
        writer.wait(5)
        shutil.rmtree(root, ignore_errors=True)
    print(f"{RUNS} live runs x 2 tags, 1 point/tag/s, gauges on (no GPU), {steady} s")
    print(f"  table on, 200x50     {table['Bps'] / 1024:7.2f} KB/s  {100 * table['cpu']:5.2f} % of a core")
    print(f"  runs list, 160x48    {plain['Bps'] / 1024:7.2f} KB/s  {100 * plain['cpu']:5.2f} % of a core")
    if base is not None:
        print(f"  peer: {baseline}, 160x48  {base['Bps'] / 1024:7.2f} KB/s  "
              f"{100 * base['cpu']:5.2f} % of a core")
    print("  README (app_cost.py, 10 live runs x 4 tags, 160x48): 3.8 KB/s, 5.9 % of a core")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-screen", action="store_true", help="only the sort figures")
    ap.add_argument("--baseline", metavar="SRC",
                    help="also measure the runs list with the package under SRC (e.g. the "
                         "main checkout's src/) as the peer")
    a = ap.parse_args()
    sort_figures()
    if not a.no_screen:
        screen_figures(a.quick, a.baseline)
    return 0


if __name__ == "__main__":
    sys.exit(main())
