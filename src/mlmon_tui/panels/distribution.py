"""Distributions and histograms of one (run, tag), drawn in braille.

`DistributionChart`: over steps, TensorBoard's nine percentile bands (0 / 6.68 / 15.87 /
30.85 / 50 / 69.15 / 84.13 / 93.32 / 100 %) as four nested bands, shaded from light (outer)
to dark (inner), and the median as a line. `HistogramChart`: the histogram at one step with
earlier steps stacked behind it, each shifted up and fading, as TensorBoard's "offset" mode.
Both only draw what they are handed (steps and percentiles, or bucket rows).
"""

from __future__ import annotations

import numpy as np
from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip
from textual.widget import Widget

from mlmon_tui.panels.axis import format_value
from mlmon_tui.panels.braille import Canvas, unicode_ok
from mlmon_tui.store.decimate import Columns, minmax_columns

# outer band to inner band, then the median: light to dark (TensorBoard's shading)
BAND_COLOURS = ("#ffd7af", "#ffaf5f", "#ff8700", "#d75f00")
MEDIAN_COLOUR = "#875f00"
LABEL = Style(color="#8a8a8a")
TITLE = Style(bold=True)
LABEL_W = 9


def blend(colour: str, towards: str, t: float) -> str:
    """`colour` moved a fraction `t` of the way to `towards` (both #rrggbb)."""
    a = [int(colour[i:i + 2], 16) for i in (1, 3, 5)]
    b = [int(towards[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


def band_columns(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, x0: float, x1: float,
                 ncols: int) -> Columns:
    """Dot columns covering [lo, hi] at each x (the band's lowest low to highest high);
    between sparse steps the band is interpolated, so it stays filled."""
    ok = np.isfinite(lo) & np.isfinite(hi)
    x, lo, hi = x[ok], lo[ok], hi[ok]
    if 1 < len(x) < ncols and x1 > x0:
        c0 = int(np.clip((x[0] - x0) / (x1 - x0) * ncols, 0, ncols - 1))
        c1 = int(np.clip((x[-1] - x0) / (x1 - x0) * ncols, 0, ncols - 1))
        col = np.arange(c0, c1 + 1)
        xc = np.clip(x0 + (col + 0.5) * (x1 - x0) / ncols, x[0], x[-1])
        a, b = np.interp(xc, x, lo), np.interp(xc, x, hi)
        mid = (a + b) / 2
        return Columns(col, a, b, mid, mid)
    a = minmax_columns(x, lo, x0, x1, ncols)
    b = minmax_columns(x, hi, x0, x1, ncols)
    if len(a) != len(b) or not np.array_equal(a.col, b.col):
        return a
    mid = (a.ymin + b.ymax) / 2
    return Columns(a.col, a.ymin, b.ymax, mid, mid)


def _finite_range(values: np.ndarray) -> tuple[float, float]:
    v = values[np.isfinite(values)]
    if not len(v):
        return 0.0, 1.0
    lo, hi = float(v.min()), float(v.max())
    if hi == lo:
        pad = abs(lo) * 0.05 or 0.5
        return lo - pad, hi + pad
    return lo, hi


def _framed(canvas: Canvas, title: str, y0: float, y1: float, xl: str, xr: str,
            width: int) -> list[list[Segment]]:
    """Title line, canvas rows with y labels at top and bottom, an x label line."""
    rows = [[Segment(title[:width].ljust(width), TITLE)]]
    body = canvas.rows()
    for r, segs in enumerate(body):
        label = format_value(y1) if r == 0 else format_value(y0) if r == len(body) - 1 else ""
        rows.append([Segment(label[:LABEL_W - 1].rjust(LABEL_W - 1) + " ", LABEL), *segs])
    gap = max(1, canvas.width - len(xl) - len(xr))
    rows.append([Segment(" " * LABEL_W + (xl + " " * gap + xr)[:canvas.width], LABEL)])
    return rows


def draw_distribution(steps: np.ndarray, pct: np.ndarray, width: int, height: int, title: str,
                      *, unicode: bool = True, color: bool = True) -> list[list[Segment]]:
    """`pct`: (n, 9) percentiles per step; rows of segments `width` x `height` cells."""
    cw, ch = max(1, width - LABEL_W), max(1, height - 2)
    canvas = Canvas(cw, ch, unicode=unicode, color=color)
    x = np.asarray(steps, dtype=np.float64)
    if not len(x):
        return _framed(canvas, title + "  (no data)", 0.0, 1.0, "", "", width)
    x0, x1 = float(x[0]), float(x[-1])
    if x1 <= x0:
        x0, x1 = x0 - 0.5, x0 + 0.5
    y0, y1 = _finite_range(pct)
    canvas.set_range(x0, x1, y0, y1)
    with np.errstate(invalid="ignore"):
        p = np.where(np.isfinite(pct), pct, np.nan)
    layers = [(band_columns(x, p[:, k], p[:, 8 - k], x0, x1, 2 * cw), BAND_COLOURS[k])
              for k in range(4)]
    layers.append((minmax_columns(x, p[:, 4], x0, x1, 2 * cw), MEDIAN_COLOUR))
    canvas.draw_layers(layers)
    return _framed(canvas, title, y0, y1, f"{int(x[0])}", f"step {int(x[-1])}", width)


def _cdf(rows: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Cumulative count at each grid value, buckets spread evenly over [left, right]."""
    left, right, count = rows[:, 0:1], rows[:, 1:2], rows[:, 2:3]
    width = right - left
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(width > 0, np.clip((grid - left) / np.where(width > 0, width, 1), 0, 1),
                        (grid >= left).astype(np.float64))
    return (count * frac).sum(axis=0)


def rebin(rows: np.ndarray, lo: float, hi: float, nbins: int) -> np.ndarray:
    """Counts of (left, right, count) rows in `nbins` equal bins over [lo, hi]."""
    rows = np.asarray(rows, dtype=np.float64)
    rows = rows[np.isfinite(rows).all(axis=1)] if len(rows) else rows.reshape(0, 3)
    if not len(rows):
        return np.zeros(nbins)
    edges = np.linspace(lo, hi, nbins + 1)
    c = _cdf(rows, edges)
    c[-1] = rows[:, 2].sum()  # the top edge holds everything (values exactly at hi)
    return np.diff(c)


def draw_histograms(layers: list[tuple[int, np.ndarray]], width: int, height: int, title: str,
                    colour: str = "#ff8700", *, unicode: bool = True,
                    color: bool = True) -> list[list[Segment]]:
    """`layers`: (step, bucket rows) oldest first, the last one in front; each earlier one
    is drawn higher up and dimmer (TensorBoard's offset mode)."""
    cw, ch = max(1, width - LABEL_W), max(1, height - 2)
    canvas = Canvas(cw, ch, unicode=unicode, color=color)
    rows_all = [r for _, r in layers if len(r)]
    if not rows_all:
        return _framed(canvas, title + "  (empty)", 0.0, 1.0, "", "", width)
    both = np.concatenate(rows_all)
    lo, hi = _finite_range(both[:, :2])
    nbins = max(4, min(2 * cw, 60))
    counts = [rebin(r, lo, hi, nbins) for _, r in layers]
    top = max(float(c.max()) for c in counts) or 1.0
    n = len(layers)
    dot_rows = 4 * ch
    offset = 0.0 if n == 1 else min(dot_rows * 0.5 / (n - 1), dot_rows / 8)
    scale = top * dot_rows / max(1.0, dot_rows - offset * (n - 1))  # room for the stack
    canvas.set_range(lo, hi, 0.0, scale)
    centres = lo + (np.arange(nbins) + 0.5) * (hi - lo) / nbins
    drawn = []
    for k, c in enumerate(counts):
        back = n - 1 - k  # 0 for the front histogram
        lift = back * offset * scale / dot_rows
        style = colour if back == 0 else blend(colour, "#262626", 0.25 + 0.6 * back / max(1, n - 1))
        drawn.append((minmax_columns(centres, c + lift, lo, hi, 2 * cw), style))
    canvas.draw_layers(drawn)
    return _framed(canvas, title, 0.0, top, format_value(lo), format_value(hi), width)


class _Drawn(Widget):
    """Shared by both charts: draws on resize and when handed new data, lines from a cache."""

    DEFAULT_CSS = "_Drawn { height: 1fr; } _Drawn:focus { background: #1c1c1c; }"
    can_focus = True

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._lines: list[list[Segment]] = []
        self._drawn_size = (0, 0)
        self.unicode = unicode_ok()

    def _draw(self, w: int, h: int) -> list[list[Segment]]:
        raise NotImplementedError

    def redraw(self) -> None:
        w, h = self.size.width, self.size.height
        self._drawn_size = (w, h)
        self._lines = self._draw(w, h) if w > LABEL_W + 2 and h >= 4 else []
        self.refresh()

    def on_resize(self) -> None:
        self.redraw()

    def render_line(self, y: int) -> Strip:
        if (self.size.width, self.size.height) != self._drawn_size:
            self._drawn_size = (self.size.width, self.size.height)
            self._lines = self._draw(*self._drawn_size) if self._drawn_size[0] > LABEL_W + 2 else []
        if y < len(self._lines):
            return Strip(self._lines[y]).crop_extend(0, self.size.width, None)
        return Strip.blank(self.size.width)


class DistributionChart(_Drawn):
    """Percentile bands of one (run, tag) over steps."""

    def __init__(self, run: str, tag: str, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="distribution")
        self.run, self.tag = run, tag
        self.steps = np.zeros(0)
        self.pct = np.zeros((0, 9))

    def set_data(self, steps: np.ndarray, pct: np.ndarray) -> None:
        self.steps, self.pct = steps, pct
        self.redraw()

    def _draw(self, w: int, h: int) -> list[list[Segment]]:
        title = f"{self.tag}  · {self.run}" if self.run != "." else self.tag
        return draw_distribution(self.steps, self.pct, w, h, title, unicode=self.unicode)


class HistogramChart(_Drawn):
    """The histogram at one step, earlier steps stacked behind it."""

    DEFAULT_CSS = "HistogramChart { height: 1fr; }"

    def __init__(self, run: str, tag: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.run, self.tag = run, tag
        self.hist_layers: list[tuple[int, np.ndarray]] = []
        self.caption = ""

    def set_layers(self, layers: list[tuple[int, np.ndarray]], caption: str) -> None:
        self.hist_layers, self.caption = layers, caption
        self.redraw()

    def _draw(self, w: int, h: int) -> list[list[Segment]]:
        title = f"{self.tag}  · {self.run}  {self.caption}"
        return draw_histograms(self.hist_layers, w, h, title, unicode=self.unicode)
