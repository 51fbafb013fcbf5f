"""Draw a 100x25 chart of 3 runs x 100k points: the numpy braille canvas vs plotext.

Both produce the full coloured text of the frame (ours: Rich segments rendered to ANSI;
plotext: `plotext.build()`), from the same data, in the same process.

    PYTHONPATH=src python benchmarks/draw_chart.py [--quick] [--points N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from rich.color import ColorSystem

from mlmon_tui.panels.braille import Canvas
from mlmon_tui.panels.palette import colour_for
from mlmon_tui.store.smoothing import ema_debiased

W, H = 100, 25
TRUECOLOR = ColorSystem.TRUECOLOR


def make_data(n: int, runs: int = 3):
    rng = np.random.default_rng(0)
    x = np.arange(n)
    ys = []
    for r in range(runs):
        y = (2 + r * 0.3) * np.exp(-x / (n / 4)) + 0.1 * rng.standard_normal(n)
        y[rng.integers(0, n)] += 3  # one spike each
        ys.append(y)
    return x, ys


def to_ansi(rows) -> str:
    """Segments to the ANSI text a truecolor terminal would receive."""
    out = []
    for row in rows:
        out.extend(seg.style.render(seg.text, color_system=TRUECOLOR) if seg.style else seg.text for seg in row)
        out.append("\n")
    return "".join(out)


def ours(x, ys) -> str:
    c = Canvas(W, H)
    lo = min(float(y.min()) for y in ys)
    hi = max(float(y.max()) for y in ys)
    c.set_range(float(x[0]), float(x[-1]), lo, hi)
    for i, y in enumerate(ys):
        c.draw_series(x, y, colour_for(i))
    return to_ansi(c.rows())


def ours_with_smoothing(x, ys) -> str:
    return ours(x, ys + [ema_debiased(y, 0.6) for y in ys])


def peer_plotext(x, ys) -> str:
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(W, H)
    plt.theme("dark")
    for y in ys:
        plt.plot(x, y, marker="braille")
    return plt.build()


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repeats and points")
    ap.add_argument("--points", type=int, default=100_000)
    args = ap.parse_args()
    n = 20_000 if args.quick else args.points
    x, ys = make_data(n)
    repeat = 3 if args.quick else 10
    ms_ours, text = timed(lambda: ours(x, ys), repeat)
    ms_smooth, _ = timed(lambda: ours_with_smoothing(x, ys), repeat)
    print(f"3 runs x {n} points at {W}x{H}")
    print(f"  braille canvas       : {ms_ours:8.2f} ms  ({len(text.encode())} bytes of ANSI)")
    print(f"  + EMA smoothing layer: {ms_smooth:8.2f} ms  (6 layers, smoothing included)")
    try:
        import plotext  # noqa: F401
    except ImportError:
        print("  plotext              : not installed (pip install plotext to compare)")
        return
    ms_pt, pt = timed(lambda: peer_plotext(x, ys), 1 if args.quick else 3)
    print(f"  plotext              : {ms_pt:8.2f} ms  ({len(pt.encode())} bytes of ANSI)")
    print(f"  ratio plotext / ours : {ms_pt / ms_ours:8.1f}x")


if __name__ == "__main__":
    main()
