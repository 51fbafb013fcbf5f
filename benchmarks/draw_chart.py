"""Draw a 100x25 chart of 3 runs x 100k points: ours vs plotext, the whole chart both ways.

Both produce the full coloured text of a whole chart from the same data, in the same process:
title, y axis ticks, plot, x axis ticks and legend (ours: the chart's own layout, reduction
from the store, canvas, labels and legend, as the Chart widget draws its first frame, with a
fresh state every time, rendered to ANSI; plotext: `plotext.build()` of a figure with a
title, its axes and one labelled line per run). Ours is timed without and with its EMA
smoothing layer (plotext draws no smoothing). The bare canvas is also shown.

    PYTHONPATH=src python benchmarks/draw_chart.py [--quick] [--points N]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
from rich.color import ColorSystem

from rich.console import Console

from mlmon_tui.panels import chart_frame as cf
from mlmon_tui.panels.braille import Canvas, row_segments
from mlmon_tui.panels.chart import ChartOptions
from mlmon_tui.panels.palette import colour_for
from mlmon_tui.records.metrics import ScalarBatch, Update
from mlmon_tui.store import Store

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


TAG = "train/loss"
CONSOLE = Console(color_system="truecolor", force_terminal=True, width=W)


def make_store(x, ys) -> tuple[Store, list[tuple[str, str]]]:
    store = Store()
    runs = [(f"run-{i}", colour_for(i)) for i in range(len(ys))]
    step = np.asarray(x, dtype=np.int64)
    store.apply(Update(scalars=[ScalarBatch(r, TAG, step, 1.7e9 + step.astype(float), y)
                                for (r, _), y in zip(runs, ys)]))  # fmt: skip
    return store, runs


def ours_whole(store, runs, smoothing: float) -> str:
    """The whole chart as the Chart widget draws a first frame, rendered to ANSI."""
    options = ChartOptions(smoothing=smoothing)
    state = cf.ChartState()
    lay = cf.plan_layout(W, H, len(runs))
    with store.lock:
        data, xr = cf.collect(store, TAG, runs, options, [], state, 2 * lay.plot_w)
    frame, info = cf.draw(state, data, xr, options, lay.plot_w, lay.plot_h)
    ylab = cf.y_labels(info, lay, options)
    out = [TAG, "\n"]
    for y in range(lay.plot_h):
        out.append(ylab[y] if y < len(ylab) else " " * lay.yaxis_width)
        out.append(to_ansi([row_segments(frame.codes[y], frame.sid[y], frame.styles)]))
    out += [" " * lay.yaxis_width, cf.x_labels(info, lay, options), "\n"]
    for parts in cf.legend_lines(data, options, lay):
        for text in parts:
            out.append(to_ansi([list(text.render(CONSOLE))]).rstrip("\n"))
        out.append("\n")
    return "".join(out)


def peer_plotext(x, ys) -> str:
    import plotext as plt

    plt.clear_figure()
    plt.plotsize(W, H)
    plt.theme("dark")
    plt.title(TAG)
    for i, y in enumerate(ys):
        plt.plot(x, y, marker="braille", label=f"run-{i}")
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
    store, runs = make_store(x, ys)
    ms_canvas, _ = timed(lambda: ours(x, ys), repeat)
    ms_ours, text = timed(lambda: ours_whole(store, runs, 0.0), repeat)
    ms_smooth, _ = timed(lambda: ours_whole(store, runs, 0.6), repeat)
    print(f"3 runs x {n} points at {W}x{H}, the whole chart (title, axes, plot, legend)")
    print(f"  ours                 : {ms_ours:8.2f} ms  ({len(text.encode())} bytes of ANSI)")
    print(f"  ours + EMA smoothing : {ms_smooth:8.2f} ms  (6 layers, smoothing included)")
    print(f"  (bare braille canvas : {ms_canvas:8.2f} ms)")
    try:
        import plotext  # noqa: F401
    except ImportError:
        print("  plotext              : not installed (pip install -e '.[bench]' to compare)")
        return
    ms_pt, pt = timed(lambda: peer_plotext(x, ys), 1 if args.quick else 3)
    print(f"  plotext              : {ms_pt:8.2f} ms  ({len(pt.encode())} bytes of ANSI)")
    print(f"  ratio plotext / ours : {ms_pt / ms_ours:8.1f}x (with smoothing: {ms_pt / ms_smooth:.1f}x)")


if __name__ == "__main__":
    main()
