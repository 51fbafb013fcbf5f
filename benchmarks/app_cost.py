"""The whole monitor's own cost on the box it watches: CPU share and terminal bytes per
second at 160x48, with 10 live runs (4 tags each, one point per tag per second, 2000 points
of history) and the gauges on; then idle (writers stopped); then idle with the gauges hidden.
The peer, in the same run and the same pty: a naive Textual dashboard that redraws 10 panels
at 2 Hz (what a straightforward Textual monitor does).

    PYTHONPATH=src python benchmarks/app_cost.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
from ptyterm import run_phases, send  # noqa: E402

RUNS, TAGS, HISTORY = 10, ("train/loss", "train/acc", "train/lr", "val/loss"), 2000

WRITER = textwrap.dedent(f"""
    import math, signal, sys, time
    from mlmon_tui.sources.logs.tfevents import EventWriter
    root = sys.argv[1]
    import os
    for k in range({RUNS}):
        os.makedirs(f"{{root}}/run-{{k:02d}}", exist_ok=True)
    ws = [EventWriter(f"{{root}}/run-{{k:02d}}/events.out.tfevents.bench") for k in range({RUNS})]
    def v(k, s, t):
        return 2.0 * math.exp(-s / (800 + 50 * k)) + 0.1 * t + 0.02 * math.sin(s * 0.7 + k)
    now = time.time()
    for s in range({HISTORY}):
        for k, w in enumerate(ws):
            for t, tag in enumerate({TAGS!r}):
                w.add_scalar(tag, v(k, s, t), s, now - {HISTORY} + s)
    for w in ws:
        w.flush()
    print("ready", flush=True)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    s = {HISTORY}
    while True:
        time.sleep(1.0)
        for k, w in enumerate(ws):
            for t, tag in enumerate({TAGS!r}):
                w.add_scalar(tag, v(k, s, t), s)
            w.flush()
        s += 1
""")

NAIVE = textwrap.dedent("""
    import math, time
    from textual.app import App
    from textual.containers import Grid
    from textual.widgets import Static
    from mlmon_tui.panels.braille import Canvas
    class Naive(App):
        CSS = "Grid { grid-size: 2; } Static { height: 9; border: round gray; }"
        BINDINGS = [("q", "quit", "Quit")]
        def compose(self):
            with Grid():
                for k in range(10):
                    yield Static(id=f"p{k}")
        def on_mount(self):
            self.t = 0
            self.set_interval(0.5, self.redraw)
        def redraw(self):
            self.t += 1
            for k, w in enumerate(self.query(Static)):
                line = "".join(chr(0x2800 + int(128 + 127 * math.sin((i + self.t) / (3 + k))) % 256)
                               for i in range(70))
                w.update("\\n".join([f"run-{k:02d} step {self.t}"] + [line] * 6))
    Naive().run()
""")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    warm, steady, idle = (6, 10, 6) if a.quick else (10, 30, 15)
    root = Path(tempfile.mkdtemp(prefix="mlmon-cost-"))
    src = os.path.join(os.path.dirname(__file__), "..", "src")
    env = {"PYTHONPATH": os.pathsep.join(p for p in (src, os.environ.get("PYTHONPATH")) if p)}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(root)], stdout=subprocess.PIPE,
                              env=dict(os.environ, **env), text=True)
    try:
        writer.stdout.readline()  # history written
        ours = run_phases(
            [sys.executable, "-m", "mlmon_tui", str(root), "--no-listen"],
            [("warm-up", warm, None), ("steady", steady, None),
             ("settle", 5, writer.terminate), ("idle", idle, None),
             ("hide", 3, lambda: send(b"g")), ("idle, gauges hidden", idle, None)],
            env=env)
        naive = run_phases([sys.executable, "-c", NAIVE],
                           [("warm-up", 3, None), ("steady", steady, None)], env=env)
    finally:
        writer.kill()
        shutil.rmtree(root, ignore_errors=True)
    print(f"{RUNS} live runs x {len(TAGS)} tags, 1 point/tag/s, {HISTORY} points of history, "
          f"160x48, gauges on; {os.cpu_count()} cores")
    for name, r in ours.items():
        if name not in ("warm-up", "settle", "hide"):
            print(f"  mlmon-tui {name:20s} {r['Bps'] / 1024:7.2f} KB/s  {100 * r['cpu']:5.2f} % of a core")
    n = naive["steady"]
    print(f"  naive dashboard (2 Hz) {'':9s} {n['Bps'] / 1024:7.2f} KB/s  {100 * n['cpu']:5.2f} % of a core")
    o = ours["steady"]
    print(f"  ratio naive/ours: bytes {n['Bps'] / max(o['Bps'], 1):.1f}x, "
          f"CPU {n['cpu'] / max(o['cpu'], 1e-6):.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
