"""What a chart draws for sweeps, apart from its lines: a group's min-max band as braille
shading under its mean line, and the layers of a chart with one run highlighted (drawn on
top, bold; the others dimmed)."""

from __future__ import annotations

import numpy as np
from rich.style import Style

from mlmon_tui.panels.palette import RunColour, style_of

from mlmon_tui.store.decimate import Columns, minmax_columns_many

# braille dots lit for shading: a checkerboard (dots 1, 3 on the left; 5, 8 on the right)
SHADE_MASK = 0x01 | 0x04 | 0x10 | 0x80


def band_columns(x: np.ndarray, lo: np.ndarray, hi: np.ndarray, x0: float, x1: float,
                 ncols: int) -> Columns | None:
    """Per dot column, the band's lowest low and highest high (a `Columns` whose min..max
    span is the band)."""
    if not len(x):
        return None
    c_lo, c_hi = minmax_columns_many(x, [lo, hi], x0, x1, ncols)
    if not len(c_lo) or len(c_lo) != len(c_hi):
        return None
    mid = (c_lo.ymin + c_hi.ymax) / 2
    return Columns(c_lo.col, c_lo.ymin, c_hi.ymax, mid, mid)


def paint_band(canvas, cols: Columns, style) -> None:
    """Shade the band's cells: only the dots of `SHADE_MASK`, in `style`; lines drawn after
    it keep their own dots and take the cells they pass through."""
    if cols is None or not len(cols) or not canvas.width or not canvas.height:
        return
    before = canvas.dots.copy()
    canvas.draw_layers([(cols, style)])
    added = canvas.dots & ~before
    canvas.dots = before | (added & SHADE_MASK)
    empty = canvas.dots == 0
    canvas.style_id[empty & (before == 0)] = -1


def layers(data, smoothing: bool, highlight: str | None) -> list[tuple]:
    """(columns, style, run data) per run, later on top: raw (faint when smoothed), then
    smoothed; with `highlight`, every other run is dimmed and the highlighted one comes last,
    bold. A dimmed colour is a blend only truecolor / 256 colours can show: with 16 (a
    `RunColour`) it comes out as some other colour (often red, which means an error), so
    there nothing is dimmed."""
    def style(rd, dim: bool, bold: bool = False) -> Style:
        return style_of(rd.colour, dim and not isinstance(rd.colour, RunColour), bold)

    if highlight is None or not any(rd.run == highlight for rd in data):
        out = [(rd.raw, style(rd, smoothing), rd) for rd in data]
        if smoothing:
            out += [(rd.smooth, style(rd, False), rd) for rd in data if rd.smooth is not None]
        return out
    others = [rd for rd in data if rd.run != highlight]
    hl = [rd for rd in data if rd.run == highlight]
    out = [(rd.raw, style(rd, True), rd) for rd in others]
    if smoothing:
        out += [(rd.smooth, style(rd, True), rd) for rd in others if rd.smooth is not None]
    out += [(rd.raw, style(rd, smoothing, bold=not smoothing), rd) for rd in hl]
    if smoothing:
        out += [(rd.smooth, style(rd, False, bold=True), rd) for rd in hl if rd.smooth is not None]
    return out


def collect_bands(store, tag: str, runs, options, xr, ncols: int) -> list[tuple]:
    """[(Columns, style)] of the runs that are groups (`store.band` knows them; a plain
    store has no bands). Call with the store's lock held."""
    band = getattr(store, "band", None)
    if band is None:
        return []
    out = []
    for run, colour in runs:
        b = band(run, tag, options.smoothing)
        if b is None:
            continue
        x, lo, hi = b
        if options.x_mode != "step":
            s = store.series(run, tag)
            wall = s.wall
            x = wall - wall[0] if options.x_mode == "relative" else wall
        cols = band_columns(np.asarray(x, dtype=np.float64), lo, hi, xr[0], xr[1], ncols)
        if cols is not None:
            out.append((cols, Style(color=colour, dim=True)))
    return out
