"""CPU per chart frame in the live case: a chart of 10 runs x 2000 points, one new point per
run per frame, at 46x9 cells (a 160x48 screen's chart). Ours keeps its state between frames
(smoothing and per-column reduction extended, all runs painted in one pass); the peer, in
the same run, draws each frame from scratch with the same code (fresh state: what a chart
without caches does). Process CPU time, not wall time: the box is shared.

    PYTHONPATH=src python benchmarks/chart_frame.py [--frames N]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mlmon_tui.panels import chart_frame as cf
from mlmon_tui.panels.chart import ChartOptions
from mlmon_tui.panels.palette import colour_for
from mlmon_tui.sources.base import ScalarBatch, Update
from mlmon_tui.store import Store

RUNS, HISTORY, W, H = 10, 2000, 46, 9


def batch(run: str, step, value) -> ScalarBatch:
    s = np.asarray(step, dtype=np.int64)
    return ScalarBatch(run, "train/loss", s, 1.7e9 + s, np.asarray(value, dtype=float))


def frames(n: int, keep_state: bool) -> float:
    st = Store()
    runs = [(f"run-{k:02d}", colour_for(k)) for k in range(RUNS)]
    x = np.arange(HISTORY)
    st.apply(Update(scalars=[batch(r, x, np.exp(-x / 900) + 0.01 * np.sin(x + k))
                             for k, (r, _) in enumerate(runs)]))
    opts = ChartOptions(smoothing=0.6)
    state = cf.ChartState()
    spent = 0.0
    for i in range(n):
        st.apply(Update(scalars=[batch(r, [HISTORY + i], [0.5 + 0.01 * k])
                                 for k, (r, _) in enumerate(runs)]))
        if not keep_state:
            fresh = cf.ChartState()
            fresh.xr, fresh.yr = state.xr, state.yr  # same stable axes, no caches
            state = fresh
        t0 = time.process_time()
        with st.lock:
            data, xr = cf.collect(st, "train/loss", runs, opts, [], state, 2 * W)
        cf.draw(state, data, xr, opts, W, H)
        spent += time.process_time() - t0
    return 1000 * spent / n


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=300)
    a = ap.parse_args()
    ours = frames(a.frames, True)
    scratch = frames(a.frames, False)
    print(f"{RUNS} runs x {HISTORY} points, 1 new point per run per frame, {W}x{H} cells")
    print(f"  ours (state kept)     {ours:6.2f} ms of CPU per frame")
    print(f"  from scratch          {scratch:6.2f} ms of CPU per frame  ({scratch / ours:.1f}x)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
