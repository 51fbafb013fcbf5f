"""Opening a big log tree: 200 runs x 10 tags x 5k steps (10M points) of TensorBoard files.
How long until the first points are in the store (what the first frame can draw), until
everything is loaded, and the memory per stored point; the monitor's whole pipeline
(discovery, reading, store) as the app runs it, on its watcher thread (the reader modules,
imported once per process, are imported before the clock starts and timed on their own). The
peer, in the same run: TensorBoard's Rust data server loading the whole tree (where
`tensorboard-data-server` is installed: wall and CPU seconds, peak memory), and tbparse and
EventAccumulator each reading one of the runs, extrapolated to all of them (reading all would
take minutes each).

Then the first health analysis of everything loaded (`HealthMonitor.update` over the whole
store, as the app's first update and `mlmon-tui check` run it), in CPU seconds: on the tree as
written (metric/00..09: only the non-finite check and the run's rhythm apply) and on the same
arrays under a training log's tag names, shaped like training curves (losses, gradient norm,
learning rate, validation: every detector runs), the figure that counts.

    PYTHONPATH=src python benchmarks/load_scale.py [--quick] [--analysis-only]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dataserver  # noqa: E402
from read_tfevents import accumulator, corpus, tbparse  # noqa: E402

import numpy as np  # noqa: E402

from mlmon_tui.analysis.monitor import HealthMonitor  # noqa: E402
from mlmon_tui.sources.base import ScalarBatch, Update  # noqa: E402
from mlmon_tui.sources.logs import registry  # noqa: E402
from mlmon_tui.sources.watch.watcher import Watcher  # noqa: E402
from mlmon_tui.store import Store  # noqa: E402

TRAINING_TAGS = ["train/loss", "train/grad_norm", "lr", "train/acc", "val/loss", "val/acc",
                 "train/aux_loss", "gpu_mem", "throughput", "epoch"]


def as_training_log(store: Store) -> Store:
    """The same runs, steps and noise under a training log's tag names: decaying losses with
    multiplicative noise, a noisy gradient norm, a constant learning rate, an accuracy."""
    out = Store()
    for run in store.runs():
        batches = []
        for tag, new in zip(sorted(store.tags(run)), TRAINING_TAGS):
            s = store.series(run, tag)
            t = s.step.astype(float)
            noise = np.exp(0.1 * (s.value - 0.5))
            v = {"lr": np.full(len(t), 3e-4), "epoch": t // 500,
                 "train/acc": 1 - 0.9 * (1 + t / 500) ** -0.7 * noise,
                 "val/acc": 1 - 0.9 * (1 + t / 500) ** -0.7 * noise}.get(
                new, (0.3 + 2.0 * (1 + t / 500) ** -0.7) * noise)
            batches.append(ScalarBatch(run, new, s.step, s.wall, v, source="e"))
        out.apply(Update(scalars=batches))
    return out


def analyse(store: Store) -> tuple[float, int]:
    """CPU seconds of the first analysis of everything in `store`, and findings."""
    last = max(store.run_info(r).last_wall or 0.0 for r in store.runs())
    mon = HealthMonitor()
    c0 = time.process_time()
    mon.update(store, None, now=last + 1.0)
    return time.process_time() - c0, len(mon.findings)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="50 runs instead of 200")
    ap.add_argument("--analysis-only", action="store_true", help="no peers (faster)")
    a = ap.parse_args()
    runs, tags, steps = (50 if a.quick else 200), 10, 5000
    root = Path(tempfile.mkdtemp(prefix="mlmon-scale-"))
    try:
        files, n = corpus(root, runs, tags, steps, tensor=False)
        store = Store()
        first = threading.Event()
        stamps: dict[str, float] = {}

        def on_change(_changed) -> None:
            if not first.is_set():
                stamps["first"] = time.perf_counter()
                first.set()

        w = Watcher([root], store, poll=True, on_change=on_change)
        c_imp = time.process_time()
        registry.modules()
        c_imp = time.process_time() - c_imp
        t0 = time.perf_counter()
        c0 = time.process_time()
        w.start()
        w.loaded.wait()
        t_all = time.perf_counter() - t0
        c_all = time.process_time() - c0
        w.stop()
        points = store.total_points()
        print(f"{runs} runs x {tags} tags x {steps} steps = {n:,} points "
              f"({sum(f.stat().st_size for f in files) / 1e6:.0f} MB of event files)")
        print(f"  (reader modules imported first: {c_imp:.2f} CPU s, not counted below)")
        print(f"  first points in the store: {stamps['first'] - t0:.2f} s")
        print(f"  everything loaded:         {t_all:.2f} s ({points / t_all / 1e3:.0f}k points/s), "
              f"{c_all:.2f} CPU s")
        print(f"  store: {store.nbytes() / points:.1f} bytes per point ({points:,} points)")
        c_an, n_an = analyse(store)
        print(f"  first health analysis, tags as written: {c_an:.2f} CPU s ({n_an} findings)")
        training = as_training_log(store)
        c_tr, n_tr = analyse(training)
        print(f"  first health analysis, training-log tags: {c_tr:.2f} CPU s ({n_tr} findings, "
              f"{points / c_tr / 1e6:.2f}M points/s); loaded and analysed: "
              f"{c_all + c_tr:.2f} CPU s")
        del training
        if a.analysis_only:
            return 0
        per_run = n // runs
        for label, fn, arg in (("tbparse", tbparse, files[0].parent),
                               ("EventAccumulator", accumulator, files[:1])):  # fmt: skip
            t = time.perf_counter()
            assert fn(arg, False) == per_run
            one = time.perf_counter() - t
            print(f"  {label}, one run: {one:.2f} s -> all {runs} runs about {one * runs:.0f} s "
                  f"({one * runs / t_all:.1f}x ours)")
        if dataserver.binary() is None:
            print("  (tensorboard-data-server not installed: no data server figure)")
        else:
            r = dataserver.load(root, steps - 1, runs * tags)
            assert r["points"] == n, r
            print(f"  TensorBoard data server, whole tree: {r['wall']:.2f} s wall "
                  f"({r['wall'] / t_all:.1f}x ours), {r['cpu']:.1f} CPU s, "
                  f"{r['rss'] / n:.0f} bytes per point ({r['rss'] / 1e9:.2f} GB)")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
