"""Terminal bytes/s and CPU of live charts, measured on a real pseudo-terminal.

A tiny app shows 6 charts x 3 runs at 160x48 and receives one new point per series per
second. The app runs as a child process on a pty (TERM=xterm-256color, COLORTERM=truecolor,
window size set with TIOCSWINSZ); this script is the terminal: it reads the pty master and
counts every byte the app writes, and reads the child's CPU time from psutil. Phases:
warm-up (first full paint, not counted), steady (points arriving), idle (no new points).

Two charts are compared in the same run:
  ours  - `Chart`: stable axes, cell diff, row-span refreshes of narrow plot strips;
  naive - the same braille canvas in a `Static`, autoscaled x axis, whole-widget update
          every time a point arrives (what a straightforward Textual chart does).

    PYTHONPATH=src python benchmarks/chart_bytes.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import select
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ptyterm import spawn, stop  # noqa: E402

COLS, ROWS = 160, 48
TAGS = [f"train/metric_{i}" for i in range(6)]
RUNS = ["run-a", "run-b", "run-c"]
HISTORY = 2000


# ----------------------------------------------------------------------------------- child
def child_main(mode: str, feed_seconds: float) -> None:
    import numpy as np
    from rich.text import Text
    from textual.app import App
    from textual.widgets import Static

    from mlmon_tui.panels.braille import Canvas
    from mlmon_tui.panels.chart import Chart, ChartOptions
    from mlmon_tui.panels.palette import colour_for
    from mlmon_tui.sources.base import ScalarBatch, Update
    from mlmon_tui.store import Store
    from mlmon_tui.store.smoothing import ema_debiased

    store = Store()
    rng = np.random.default_rng(0)

    def point(step: int, k: int) -> float:
        return float(2.0 * np.exp(-step / 3000) + 0.2 * k + 0.05 * rng.standard_normal())

    steps = np.arange(HISTORY)
    store.apply(Update(scalars=[
        ScalarBatch(r, t, steps, 1.7e9 + steps, np.array([point(s, k) for s in steps]))
        for t in TAGS for k, r in enumerate(RUNS)
    ]))
    runs = [(r, colour_for(i)) for i, r in enumerate(RUNS)]

    class NaiveChart(Static):
        def __init__(self, tag: str) -> None:
            super().__init__()
            self.tag, self.version = tag, None

        def poll(self) -> bool:
            with store.lock:
                ss = [store.series(r, self.tag) for r, _ in runs]
                v = tuple(s.version for s in ss)
                if v == self.version or not self.size.width:
                    return False
                self.version = v
                w, h = self.size.width, self.size.height
                c = Canvas(w, h - 1)
                xs = [s.step.copy() for s in ss]
                ys = [ema_debiased(s.value, 0.6) for s in ss]
            c.set_range(min(x[0] for x in xs), max(x[-1] for x in xs),
                        min(y.min() for y in ys), max(y.max() for y in ys))
            for (r, col), x, y in zip(runs, xs, ys):
                c.draw_series(x, y, col)
            t = Text(self.tag + "\n")
            for row in c.rows():
                for seg in row:
                    t.append(seg.text, seg.style)
                t.append("\n")
            self.update(t)
            return True

    class Bench(App):
        CSS = "Screen { layout: grid; grid-size: 2 3; } Chart, NaiveChart { height: 1fr; }"

        def compose(self):
            for t in TAGS:
                yield Chart(store, t) if mode == "ours" else NaiveChart(t)

        def on_mount(self) -> None:
            self.step = HISTORY
            self.t0 = time.monotonic()
            for c in self.query(Chart):
                c.set_runs(runs)
                c.set_options(ChartOptions(smoothing=0.6))
            self.set_interval(1.0, self.feed)
            self.set_interval(0.25, self.poll_all)

        def feed(self) -> None:
            if time.monotonic() - self.t0 > feed_seconds:
                return
            s = np.array([self.step])
            store.apply(Update(scalars=[
                ScalarBatch(r, t, s, 1.7e9 + s, np.array([point(self.step, k)]))
                for t in TAGS for k, r in enumerate(RUNS)
            ]))
            self.step += 1

        def poll_all(self) -> None:
            with self.batch_update():
                for c in self.query(Chart if mode == "ours" else NaiveChart):
                    c.poll()

    if os.environ.get("CHART_BYTES_PROFILE"):  # developer aid: profile the app
        import cProfile

        cProfile.runctx("Bench().run()", globals(), locals(), os.environ["CHART_BYTES_PROFILE"] + f".{mode}")
    else:
        Bench().run()


# ---------------------------------------------------------------------------------- driver
def measure(mode: str, warm: float, steady: float, idle: float) -> dict:
    import psutil

    pid, fd = spawn([sys.executable, __file__, "--child", mode, str(warm + steady)], COLS, ROWS)
    proc = psutil.Process(pid)
    counts: list[tuple[float, int]] = []
    t_start = time.monotonic()
    marks = {"warm": t_start + warm, "steady": t_start + warm + steady, "idle": t_start + warm + steady + idle}
    cpu_at = {}
    dump = open(os.environ["CHART_BYTES_DUMP"] + f".{mode}", "wb") if os.environ.get("CHART_BYTES_DUMP") else None
    while True:
        now = time.monotonic()
        for name, t in marks.items():
            if name not in cpu_at and now >= t:
                ct = proc.cpu_times()
                cpu_at[name] = (now, ct.user + ct.system)
        if now >= marks["idle"]:
            break
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            counts.append((time.monotonic(), len(data)))
            if dump is not None and marks["warm"] + 1 <= counts[-1][0] < marks["steady"]:
                dump.write(data)
    stop(pid, fd, b"\x11")  # ctrl+q

    def rate(a: float, b: float) -> float:
        return sum(n for t, n in counts if a <= t < b) / (b - a)

    w, s, i = marks["warm"], marks["steady"], marks["idle"]
    return {
        "first_paint_bytes": sum(n for t, n in counts if t < w),
        "steady_Bps": rate(w + 1, s),  # skip the first second after warm-up
        "idle_Bps": rate(s + 2, i),  # the last point's frame may still be in flight
        "steady_cpu": (cpu_at["steady"][1] - cpu_at["warm"][1]) / (cpu_at["steady"][0] - cpu_at["warm"][0]),
        "idle_cpu": (cpu_at["idle"][1] - cpu_at["steady"][1]) / (cpu_at["idle"][0] - cpu_at["steady"][0]),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2], float(sys.argv[3]))
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    warm, steady, idle = (4, 10, 5) if args.quick else (6, 30, 10)
    print(f"{len(TAGS)} charts x {len(RUNS)} runs at {COLS}x{ROWS}, 1 point/series/s, "
          f"{HISTORY} points of history; steady {steady}s, idle {idle}s")
    res = {m: measure(m, warm, steady, idle) for m in ("ours", "naive")}
    for m, r in res.items():
        print(f"  {m:5s}: steady {r['steady_Bps'] / 1024:7.2f} KB/s  cpu {100 * r['steady_cpu']:5.1f}%   "
              f"idle {r['idle_Bps']:6.0f} B/s  cpu {100 * r['idle_cpu']:4.1f}%   first paint {r['first_paint_bytes'] / 1024:.0f} KB")
    o, n = res["ours"], res["naive"]
    print(f"  ratio naive/ours: bytes {n['steady_Bps'] / max(o['steady_Bps'], 1):.1f}x, "
          f"cpu {n['steady_cpu'] / max(o['steady_cpu'], 1e-6):.1f}x")


if __name__ == "__main__":
    main()
