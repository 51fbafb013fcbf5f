"""The chart's frame, apart from any widget: layout plan, stable ranges, canvas, labels.

`collect` reads the store (the caller holds `store.lock`) and reduces every run to
per-dot-column min/max, raw and smoothed; `draw` puts them on a reused braille canvas;
`y_labels`, `x_labels` and `legend_lines` make the text around it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
from rich.style import Style
from rich.text import Text

from mlmon_tui.analysis.names import fit_labels
from mlmon_tui.panels import bands as sweep_bands
from mlmon_tui.panels.axis import format_tick, format_value, log_ticks, nice_ceil, nice_step, ticks
from mlmon_tui.panels.braille import MARK_FINDING, MARK_NAN, MARK_NEGINF, MARK_POSINF, Canvas
from mlmon_tui.panels.palette import ERROR_COLOUR, WARNING_COLOUR, RunColour, pattern_of, style_of
from mlmon_tui.panels.palette import swatch as pattern_swatch
from mlmon_tui.store.decimate import Columns, empty_columns, extend_columns, minmax_columns_many
from mlmon_tui.store.smoothing import IncrementalEma


@dataclass(frozen=True)
class Layout:
    w: int
    h: int
    title: bool
    xaxis: bool
    yaxis_width: int
    legend_rows: int  # 0: none, 1 with several runs: one compact line, else one line per run
    compact_legend: bool
    plot_w: int
    plot_h: int


def plan_layout(w: int, h: int, nruns: int) -> Layout:
    """Decide what fits: at 38x8 the legend shrinks to one line; at 10x3 only title + plot."""
    title = h >= 3
    rem = h - title
    xaxis = rem >= 4
    rem -= xaxis
    if nruns and nruns <= max(1, rem // 3) and rem - nruns >= 5:
        legend, compact = nruns, False
    elif nruns and rem >= 4:
        legend, compact = 1, nruns > 1
    else:
        legend, compact = 0, False
    yw = 7 if w >= 30 else 5 if w >= 16 else 0
    return Layout(w, h, title, xaxis, yw, legend, compact, max(0, w - yw), max(0, rem - legend))


@dataclass
class RunData:
    run: str
    colour: str
    raw: Columns = field(default_factory=empty_columns)
    smooth: Columns | None = None
    n: int = 0
    last: float | None = None
    smoothed_last: float | None = None
    vmin: float | None = None
    vmax: float | None = None
    n_bad: int = 0
    finding_x: list[tuple[float, str]] = field(default_factory=list)


@dataclass
class Frame:
    codes: np.ndarray
    sid: np.ndarray
    styles: list


@dataclass
class FrameInfo:
    x0: float
    x1: float
    y0: float
    y1: float
    log_y: bool
    n_bad: int = 0


@dataclass
class Drawn:
    """What the canvas holds: the frame's context and each run's columns when drawn."""

    ctx: tuple
    layers: list[tuple[Columns, Columns | None]]
    info: FrameInfo
    frame: Frame


class ChartState:
    """What survives between frames: stable ranges, the canvas, the smoothing cache."""

    def __init__(self) -> None:
        self.drawn: Drawn | None = None
        self.canvas: Canvas | None = None
        self.xr: tuple[float, float] | None = None
        self.yr: tuple[float, float] | None = None
        self.smooth_cache: dict[str, tuple] = {}
        self.column_cache: dict[str, tuple] = {}

    def reset_ranges(self) -> None:
        self.xr = self.yr = None
        self.drawn = None

    def smoothed(self, run: str, series, weight: float) -> np.ndarray:
        """The EMA of a series' values (step order), extended when points were appended."""
        n = len(series)
        hit = self.smooth_cache.get(run)
        if hit is not None:
            s, w, m, rewrites, ema, out = hit
            if s is series and w == weight and rewrites == series.rewrites and n >= m and m:
                if n == m:
                    return out
                out = ema.update(series.value, appended=True)
                self.smooth_cache[run] = (series, w, n, rewrites, ema, out)
                return out
        ema = IncrementalEma(weight)
        out = ema.update(series.value, appended=False)
        self.smooth_cache[run] = (series, weight, n, series.rewrites, ema, out)
        return out

    def smooth_generation(self, run: str) -> tuple | None:
        """Changes whenever the run's smoothed values were recomputed rather than extended."""
        hit = self.smooth_cache.get(run)
        return (id(hit[4]), hit[4].generation) if hit is not None else None

    def columns(self, run: str, series, x, ys, key: tuple, appendable: bool) -> list[Columns]:
        """Decimated columns of `ys` over `x`; when the series only grew since the last call
        with the same `key` (range, width, mode), only the newest column is reduced again."""
        n = len(series)
        hit = self.column_cache.get(run)
        if appendable and hit is not None:
            s, k, m, rewrites, cols = hit
            if s is series and k == key and rewrites == series.rewrites and m <= n:
                if n > m:
                    cols = extend_columns(cols, x, ys, key[2], key[3], key[4], prev_len=m)
                    self.column_cache[run] = (series, k, n, rewrites, cols)
                return cols
        cols = minmax_columns_many(x, ys, key[2], key[3], key[4])
        if appendable:
            self.column_cache[run] = (series, key, n, series.rewrites, cols)
        else:
            self.column_cache.pop(run, None)
        return cols


def _x_of(series, x_mode: str) -> np.ndarray:
    if x_mode == "step":
        return series.step
    wall = series.wall
    return wall - wall[0] if x_mode == "relative" else wall


def _stable_x(state: ChartState, lo: float, hi: float) -> tuple[float, float]:
    xr = state.xr
    if xr is None or lo < xr[0] or hi > xr[1]:
        x0 = lo if xr is None else min(lo, xr[0])
        span = hi - x0
        x1 = x0 + (nice_ceil(span * 1.1) if span > 0 else 1.0)
        state.xr = xr = (x0, x1)
    return xr


def collect(store, tag: str, runs, options, markers, state: ChartState, ncols: int):
    """Reduce each run's series to `ncols` dot columns. Call with `store.lock` held."""
    found = []
    for run, colour in runs:
        s = store.series(run, tag)
        if s is None or not len(s):
            found.append((RunData(run, colour), None, None, None, None))
            continue
        x = _x_of(s, options.x_mode)
        y = s.value
        order = None
        if options.x_mode != "step" and len(x) > 1 and not bool(np.all(x[1:] >= x[:-1])):
            # wall time went back (clock change, restart): draw in time order
            order = np.argsort(x, kind="stable")
            x, y = x[order], y[order]
        rd = RunData(run, colour, n=len(s), last=s.last_value, vmin=s.min, vmax=s.max, n_bad=s.n_nan + s.n_inf)
        found.append((rd, s, x, y, order))
    spans = [(float(x[0]), float(x[-1])) for _, _, x, _, _ in found if x is not None]
    if not spans:
        return [f[0] for f in found], _stable_x(state, 0.0, 1.0)
    x0, x1 = _stable_x(state, min(a for a, _ in spans), max(b for _, b in spans))
    out = []
    for rd, s, x, y, order in found:
        if s is not None:
            if options.smoothing > 0:
                sm = state.smoothed(rd.run, s, options.smoothing)  # step order, as TensorBoard
                last_sm = float(sm[-1])
                fin = () if math.isfinite(last_sm) else np.flatnonzero(np.isfinite(sm[-64:]))
                if math.isfinite(last_sm):
                    rd.smoothed_last = last_sm
                elif len(fin):
                    rd.smoothed_last = float(sm[len(sm) - min(64, len(sm)) + fin[-1]])
                else:
                    fin = np.flatnonzero(np.isfinite(sm))
                    rd.smoothed_last = float(sm[fin[-1]]) if len(fin) else None
                ys = [y, sm if order is None else sm[order]]
            else:
                ys = [y]
            key = (options.x_mode, options.smoothing, x0, x1, ncols, state.smooth_generation(rd.run))
            cols = state.columns(rd.run, s, x, ys, key, appendable=order is None)
            rd.raw, rd.smooth = cols[0], (cols[1] if len(cols) > 1 else None)
            mine = [(step, sev) for run, step, sev in markers if run == rd.run]
            if mine:
                xm = _x_of(s, options.x_mode)  # in step order, like s.step
                for step, severity in mine:
                    i = min(int(np.searchsorted(s.step, step)), len(s) - 1)
                    rd.finding_x.append((float(xm[i]), severity))
        out.append(rd)
    return out, (x0, x1)


def _stable_y(state: ChartState, data: list[RunData], log_y: bool, rows: int) -> tuple[float, float]:
    lows, highs = [], []
    for rd in data:
        c = rd.raw
        if len(c):
            lo, hi = c.ymin, c.ymax
            if log_y:
                lo, hi = lo[lo > 0], hi[hi > 0]
            if len(lo):
                lows.append(float(lo.min()))
            if len(hi):
                highs.append(float(hi.max()))
    yr = state.yr
    if not lows or not highs:
        return yr or ((1.0, 10.0) if log_y else (0.0, 1.0))
    lo, hi = min(lows), max(highs)
    if yr is not None and lo >= yr[0] and hi <= yr[1]:
        return yr
    if yr is not None:
        lo, hi = min(lo, yr[0]), max(hi, yr[1])
    # values near the float limit are drawn at the edge: rounding them would overflow
    lo, hi = max(lo, 1e-300 if log_y else -1e300), min(hi, 1e300)
    if log_y:
        y0 = 10.0 ** math.floor(math.log10(lo))
        y1 = 10.0 ** math.ceil(math.log10(hi))
        if y1 <= y0:
            y1 = y0 * 10
    else:
        if hi == lo:
            pad = abs(lo) * 0.1 or 1.0
            lo, hi = lo - pad, hi + pad
        step = nice_step((hi - lo) / 10)  # pad to a round value, wasting at most ~20%
        y0, y1 = math.floor(lo / step) * step, math.ceil(hi / step) * step
    if not (math.isfinite(y0) and math.isfinite(y1) and y1 > y0):
        y0, y1 = (1.0, 10.0) if log_y else (0.0, 1.0)
    state.yr = (y0, y1)
    return state.yr


def _context(data: list[RunData], xr, options, w: int, h: int, highlight) -> tuple:
    return (xr, options, w, h, highlight,
            tuple((rd.run, rd.colour, tuple(rd.finding_x)) for rd in data))


_MARKED = ("nan_x", "posinf_x", "neginf_x")


def unchanged(state: ChartState, data: list[RunData], xr, options, w: int, h: int,
              bands=(), highlight: str | None = None) -> tuple[Frame, FrameInfo] | None:
    """The last frame, when `draw` would give exactly its cells again; else None.

    The live case: each run's points went into its last dot column (`extend_columns` then
    shares the other columns' arrays with the frame drawn), the ranges held, and that
    column's min and max fall on the same dot rows as when drawn. A dot column's span is
    floor(min(its max, the path from its neighbours) + 0.5) (and the same for the bottom);
    the last column has no right neighbour and its left one did not move, so equal rows of
    its own min and max mean equal cells."""
    d = state.drawn
    c = state.canvas
    if d is None or c is None or bands or len(d.layers) != len(data):
        return None
    if _context(data, xr, options, w, h, highlight) != d.ctx:
        return None
    vals = []
    for rd, (raw, smooth) in zip(data, d.layers):
        for new, old in ((rd.raw, raw), (rd.smooth, smooth)):
            if new is old:
                continue
            if new is None or old is None or new.col is not old.col or new.first is not old.first:
                return None
            if any(getattr(new, f) is not getattr(old, f) for f in _MARKED):
                return None
            if len(new):
                vals += (new.ymin[-1], new.ymax[-1], old.ymin[-1], old.ymax[-1])
    extents = data + [RunData("", "", raw=b) for b, _ in bands]
    if _stable_y(state, extents, options.log_y, h) != (d.info.y0, d.info.y1):
        return None
    if vals:
        rows = np.floor(c.y_to_dot_row(np.asarray(vals)) + 0.5).reshape(-1, 2, 2)
        if not np.array_equal(rows[:, 0], rows[:, 1], equal_nan=True):
            return None
    n_bad = sum(rd.n_bad for rd in data)
    return d.frame, replace(d.info, n_bad=n_bad)


def draw(state: ChartState, data: list[RunData], xr, options, w: int, h: int,
         bands=(), highlight: str | None = None) -> tuple[Frame, FrameInfo]:
    """`bands`: [(Columns, style)] shaded under the lines; `highlight`: the run drawn on top."""
    c = state.canvas
    if c is None or (c.width, c.height, c.unicode, c.color) != (w, h, not options.ascii, options.color):
        c = state.canvas = Canvas(w, h, unicode=not options.ascii, color=options.color)
    else:
        c.clear()
    extents = data + [RunData("", "", raw=b) for b, _ in bands]
    y0, y1 = _stable_y(state, extents, options.log_y, h)
    c.set_range(xr[0], xr[1], y0, y1, log_y=options.log_y)
    for cols, style in bands:
        sweep_bands.paint_band(c, cols, style)
    # raw underneath (faint when smoothed), smoothed on top: one vectorised pass
    lay = sweep_bands.layers(data, options.smoothing > 0, highlight)
    c.draw_layers([(cols, st) for cols, st, _ in lay], [pattern_of(rd.colour) for _, _, rd in lay])
    n_bad = 0
    for rd in data:
        mark = style_of(rd.colour, bold=True)
        c.mark_x(rd.raw.nan_x, MARK_NAN, mark)
        c.mark_x(rd.raw.posinf_x, MARK_POSINF, mark)
        c.mark_x(rd.raw.neginf_x, MARK_NEGINF, mark, bottom=True)
        n_bad += rd.n_bad
    for rd in data:
        for x, severity in rd.finding_x:
            colour = ERROR_COLOUR if severity == "error" else WARNING_COLOUR
            c.mark_x(np.array([x]), MARK_FINDING, style_of(colour, bold=True))
    codes, sid = c.cells()
    frame = Frame(codes, sid, list(c.styles))
    info = FrameInfo(xr[0], xr[1], y0, y1, options.log_y, n_bad)
    state.drawn = Drawn(_context(data, xr, options, w, h, highlight),
                        [(rd.raw, rd.smooth) for rd in data], info, frame)
    return frame, info


def row_spans(rows: np.ndarray) -> list[tuple[int, int]]:
    """[(start, stop)] of the runs of True in a boolean vector."""
    if not rows.any():
        return []
    d = np.diff(np.concatenate(([0], rows.astype(np.int8), [0])))
    starts, stops = np.flatnonzero(d == 1), np.flatnonzero(d == -1)
    return list(zip(starts.tolist(), stops.tolist()))


def y_labels(info: FrameInfo, lay: Layout, options) -> list[str]:
    """One string of `yaxis_width` chars per plot row: tick labels and the axis line."""
    h, yw = lay.plot_h, lay.yaxis_width
    if yw <= 0 or h <= 0:
        return []
    tick_ch, line_ch = ("+", "|") if options.ascii else ("┤", "│")
    rows = [" " * (yw - 1) + line_ch] * h
    n = max(1, min(h // 3 + 1, 6))
    if info.log_y:
        vals, step = log_ticks(info.y0, info.y1, n), None
        to = lambda v: math.log10(v)  # noqa: E731
        lo, hi = math.log10(info.y0), math.log10(info.y1)
    else:
        vals = ticks(info.y0, info.y1, n)
        step = vals[1] - vals[0] if len(vals) > 1 else None
        to = lambda v: v  # noqa: E731
        lo, hi = info.y0, info.y1
    if hi <= lo:
        return rows
    used = set()
    for v in vals:
        dot = (hi - to(v)) * (4 * h - 1) / (hi - lo)
        r = min(h - 1, max(0, int(math.floor(dot + 0.5)) // 4))
        if r in used:
            continue
        used.add(r)
        rows[r] = format_value(v, step)[: yw - 1].rjust(yw - 1) + tick_ch
    return rows


def x_labels(info: FrameInfo, lay: Layout, options) -> str:
    """The tick labels under the plot, placed at their columns without overlapping."""
    w = lay.plot_w
    if w <= 0:
        return ""
    mode = options.x_mode
    vals = ticks(info.x0, info.x1, max(1, w // 10), time_axis=mode != "step")
    step = vals[1] - vals[0] if len(vals) > 1 else (info.x1 - info.x0)
    line = [" "] * w
    end = -2
    span = info.x1 - info.x0 or 1.0
    for v in vals:
        label = format_tick(v, step, "value" if mode == "step" else mode)
        if len(label) > w:
            continue
        col = int((v - info.x0) / span * w)
        start = min(max(0, col - len(label) // 2), w - len(label))
        if start <= end + 1:
            continue
        line[start : start + len(label)] = label
        end = start + len(label) - 1
    return "".join(line)


def legend_lines(data: list[RunData], options, lay: Layout, labels: dict | None = None) -> list[list[Text]]:
    """Per run the parts [swatch + name, (smoothed) last (raw last), min max], each a
    separate widget so a new last value resends only its own few cells; or one compact
    line [text] for all runs. `labels` maps a run to the name to show (told apart)."""
    if lay.legend_rows <= 0 or not data:
        return []
    names = [(labels or {}).get(rd.run, rd.run) for rd in data]
    patterned = any(isinstance(rd.colour, RunColour) for rd in data)
    swatch = "--" if options.ascii else "━━"
    smoothing = options.smoothing > 0

    def sample(rd: RunData, cells: int) -> str:
        """The run's line as the legend shows it: its dash pattern where runs have one."""
        if not patterned:
            return swatch[:cells]
        return pattern_swatch(pattern_of(rd.colour), not options.ascii, cells)

    fmt = lambda v: "–" if v is None else format_value(v)  # noqa: E731
    if lay.compact_legend:
        t = Text(no_wrap=True, overflow="crop")
        for rd, name in zip(data, fit_labels(names, 10)):
            shown = rd.smoothed_last if smoothing and rd.smoothed_last is not None else rd.last
            t.append(sample(rd, 3) + " " if patterned else swatch[0],
                     style_of(rd.colour) if options.color else None)
            t.append(f"{name} {fmt(shown)}  ")
        t.truncate(lay.w)
        return [[t]]
    cells = []
    for rd in data:
        if rd.n == 0:
            vals = "no data"
        elif smoothing:  # like TensorBoard's "Smoothed | Value"
            vals = f"{fmt(rd.smoothed_last)} ({fmt(rd.last)})"
        else:
            vals = fmt(rd.last)
        extra = f"  min {fmt(rd.vmin)}  max {fmt(rd.vmax)}" if rd.n else ""
        cells.append((vals, extra))
    # fixed minimum widths: a value that gets one digit longer must not move (and so lay
    # out and repaint) its neighbours
    wv = max(17 if smoothing else 8, max(len(v) for v, _ in cells))
    we = max(26, max(len(e) for _, e in cells))
    width = 3 if patterned else len(swatch)
    room = lay.w - width - 1 - wv - 2
    longest = max(len(n) for n in names)
    show_extra = room - we >= min(longest, 16)  # names before min/max: they tell lines apart
    room = max(4, room - we if show_extra else room)
    room = min(room, max(4, longest))
    out = []
    for rd, (vals, extra), name in zip(data, cells, fit_labels(names, room)):
        head = Text(no_wrap=True, overflow="crop")
        head.append(sample(rd, width), style_of(rd.colour) if options.color else None)
        head.append(" " + name.ljust(room) + "  ")
        parts = [head, Text(vals.rjust(wv), Style(bold=True), no_wrap=True, overflow="crop")]
        if show_extra:
            parts.append(Text(extra.ljust(we), no_wrap=True, overflow="crop"))
        out.append(parts)
    return out

