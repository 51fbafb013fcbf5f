"""The whole monitor's own cost on the box it watches: CPU share and terminal bytes per
second at 160x48, with 10 live runs (4 tags each, one point per tag per second, 2000 points
of history) and the gauges on; then idle: right after the writers stopped (runs go quiet,
stalls are found, legends catch up), then the same a while later; then idle with the gauges
hidden.
The peers, in the same run, the same pty size and the same live data: a straightforward
Textual monitor that reads the same runs with the same reader and redraws its charts when
new data came (see NAIVE), and btop and htop where they are installed (system monitors:
they read no logs, but are what people keep open beside training).

    PYTHONPATH=src python benchmarks/app_cost.py [--quick] [--before REV [--rounds N]]

`--before REV`: then the steady phase again, N times in turn (each first in turn) for this
code and for the code of git revision REV (its `src/` from `git archive`), same writers and
pty, with the median of each: before and after measured in the same run.
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
    # A straightforward Textual monitor of the same runs: the same incremental reader,
    # one chart per tag (all runs on one braille canvas, autoscaled, raw and TensorBoard's
    # smoothing), a runs table; every second it reads what is new and, when anything is,
    # draws every chart again and updates its widget. No diffing, no caching.
    import sys
    from pathlib import Path
    import numpy as np
    from rich.style import Style
    from rich.text import Text
    from textual.app import App
    from textual.containers import Grid, Horizontal
    from textual.widgets import Static
    from mlmon_tui.panels.braille import Canvas
    from mlmon_tui.panels.palette import colour_for
    from mlmon_tui.sources.logs.tfevents import TfEventsSource
    from mlmon_tui.store.smoothing import ema_debiased

    ROOT = Path(sys.argv[1])

    class Naive(App):
        CSS = ("#runs { width: 44; } Grid { grid-size: 2; } "
               ".chart { height: 1fr; border: round gray; }")
        BINDINGS = [("q", "quit", "Quit")]

        def compose(self):
            self.data = {}
            self.sources = [TfEventsSource(p, ROOT) for p in sorted(ROOT.glob("*/events.*"))]
            with Horizontal():
                yield Static(id="runs")
                with Grid():
                    for k in range(4):
                        yield Static(classes="chart", id=f"c{k}")

        def on_mount(self):
            self.poll()
            self.set_interval(1.0, self.poll)

        def poll(self):
            new = False
            for src in self.sources:
                for b in src.poll().scalars:
                    d = self.data.setdefault((b.run, b.tag), [[], []])
                    d[0].extend(b.step.tolist())
                    d[1].extend(b.value.tolist())
                    new = True
            if new:
                self.redraw()

        def redraw(self):
            runs = sorted({r for r, _ in self.data})
            tags = sorted({t for _, t in self.data})
            lines = [f"{r:20s} {self.data[(r, tags[0])][0][-1]:>8d}" for r in runs]
            self.query_one("#runs").update("\\n".join(lines))
            for k, tag in enumerate(tags[:4]):
                w = self.query_one(f"#c{k}")
                cw, ch = max(1, w.size.width - 2), max(1, w.size.height - 3)
                c = Canvas(cw, ch)
                xs = [np.asarray(self.data[(r, tag)][0], float) for r in runs]
                ys = [np.asarray(self.data[(r, tag)][1], float) for r in runs]
                c.set_range(min(x[0] for x in xs), max(x[-1] for x in xs),
                            min(y.min() for y in ys), max(y.max() for y in ys))
                for i, (x, y) in enumerate(zip(xs, ys)):
                    c.draw_series(x, y, Style(color=colour_for(i), dim=True))
                    c.draw_series(x, ema_debiased(y, 0.6), colour_for(i))
                text = Text(tag + "\\n")
                for row in c.rows():
                    for seg in row:
                        text.append(seg.text, seg.style)
                    text.append("\\n")
                text.append("  ".join(f"{r} {self.data[(r, tag)][1][-1]:.4g}" for r in runs))
                w.update(text)

    Naive().run()
""")

PEERS = (("btop", ["btop"]), ("htop", ["htop"]))


def before_after(rev: str, rounds: int, warm: float, steady: float) -> None:
    """Steady CPU and bytes of this code and of revision `rev`, alternated."""
    import statistics

    repo = Path(__file__).resolve().parents[1]
    old = Path(tempfile.mkdtemp(prefix="mlmon-before-"))
    root = Path(tempfile.mkdtemp(prefix="mlmon-cost-"))
    writer = None
    try:
        tar = subprocess.run(["git", "-C", str(repo), "archive", rev, "src"],
                             capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=tar, check=True)
        srcs = {"this code": str(repo / "src"), f"@{rev}": str(old / "src")}
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(root)],
                                  stdout=subprocess.PIPE, text=True,
                                  env=dict(os.environ, PYTHONPATH=srcs["this code"]))
        writer.stdout.readline()
        got: dict[str, list] = {name: [] for name in srcs}
        order = list(srcs)
        for k in range(rounds):
            for name in order[k % 2:] + order[:k % 2]:
                r = run_phases([sys.executable, "-m", "mlmon_tui", str(root), "--no-listen"],
                               [("warm-up", warm, None), ("steady", steady, None)],
                               env={"PYTHONPATH": srcs[name]})
                got[name].append(r["steady"])
    finally:
        if writer is not None:
            writer.kill()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
    print(f"steady phase, {rounds} rounds in turn, same writers and pty:")
    for name, rs in got.items():
        cpu = [100 * r["cpu"] for r in rs]
        print(f"  mlmon-tui {name:18s} median {statistics.median(cpu):5.2f} % of a core "
              f"(each: {', '.join(f'{c:.2f}' for c in cpu)}), "
              f"{statistics.median(r['Bps'] for r in rs) / 1024:.2f} KB/s")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--before", metavar="REV", help="also the steady phase of git revision REV")
    ap.add_argument("--rounds", type=int, default=4, help="rounds of --before (default 4)")
    a = ap.parse_args()
    if a.before:  # a bad revision: one clear line before anything starts
        repo = Path(__file__).resolve().parents[1]
        got = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "-q",
                              a.before + "^{commit}"], capture_output=True, text=True)
        if got.returncode:
            raise SystemExit(f"--before {a.before}: not a revision of this repository")
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
             ("settle", 5, writer.terminate), ("idle, writers just stopped", idle, None),
             ("idle", idle, None),
             ("hide", 3, lambda: send(b"g")), ("idle, gauges hidden", idle, None)],
            env=env)
        writer.kill()
        writer = subprocess.Popen([sys.executable, "-c", WRITER, str(root) + "-naive"],
                                  stdout=subprocess.PIPE, env=dict(os.environ, **env), text=True)
        writer.stdout.readline()
        naive = run_phases([sys.executable, "-c", NAIVE, str(root) + "-naive"],
                           [("warm-up", warm, None), ("steady", steady, None)], env=env)
        peers = {}
        for name, argv in PEERS:
            exe = shutil.which(argv[0])
            if exe:
                peers[name] = run_phases([exe, *argv[1:]],
                                         [("warm-up", 3, None), ("steady", steady, None)], env=env)
    finally:
        writer.kill()
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(str(root) + "-naive", ignore_errors=True)
    print(f"{RUNS} live runs x {len(TAGS)} tags, 1 point/tag/s, {HISTORY} points of history, "
          f"160x48, gauges on; {os.cpu_count()} cores")
    for name, r in ours.items():
        if name not in ("warm-up", "settle", "hide"):
            print(f"  mlmon-tui {name:28s} {r['Bps'] / 1024:7.2f} KB/s  {100 * r['cpu']:5.2f} % of a core")
    n = naive["steady"]
    print(f"  straightforward Textual monitor, steady {n['Bps'] / 1024:7.2f} KB/s  "
          f"{100 * n['cpu']:5.2f} % of a core")
    for name, r in peers.items():
        print(f"  {name:9s} (system monitor) steady {r['steady']['Bps'] / 1024:7.2f} KB/s  "
              f"{100 * r['steady']['cpu']:5.2f} % of a core")
    for name in ("btop", "htop"):
        if name not in peers:
            print(f"  {name}: not installed, not measured")
    o = ours["steady"]
    print(f"  ratio straightforward/ours, steady: bytes {n['Bps'] / max(o['Bps'], 1):.1f}x, "
          f"CPU {n['cpu'] / max(o['cpu'], 1e-6):.1f}x")
    if a.before:
        before_after(a.before, a.rounds, warm, steady)
    return 0


if __name__ == "__main__":
    sys.exit(main())
