"""A numpy braille canvas: 2 x 4 dots per terminal cell, drawn from per-column min/max.

Each dot column gets a vertical segment from the column's min to its max, extended half
way towards its neighbours' values so the line stays connected (and steep jumps between
sparse points are filled in). Layers are drawn in order; a cell takes the colour of the
last layer that put a dot in it. Output is rows of Rich `Segment`s in which runs of cells
with the same style are merged (colour escapes are most of a terminal's bytes).

Degrades to ASCII (`. ' :`) without Unicode and to plain dots without colour.
"""

from __future__ import annotations

import locale
import sys

import numpy as np
from rich.segment import Segment
from rich.style import Style

from mlmon_tui.panels.palette import PATTERNS
from mlmon_tui.store.decimate import Columns, column_of, minmax_columns

_PATTERN_MASKS = np.array([[ch == "1" for ch in p] for p in PATTERNS], dtype=bool)

# bit of each dot: [dot row 0..3][dot column 0..1]  (Unicode braille numbering)
_DOT_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.uint16)
# bits of dot rows a..z (0-3) of one side (0 left, 1 right) of a cell; 0 when a > z
_RANGE_BITS = np.zeros((2, 4, 4), dtype=np.uint16)
for _side in (0, 1):
    for _a in range(4):
        for _z in range(_a, 4):
            _RANGE_BITS[_side, _a, _z] = np.bitwise_or.reduce(_DOT_BITS[_a:_z + 1, _side])
_UPPER = 0x01 | 0x08 | 0x02 | 0x10
_LOWER = 0x04 | 0x20 | 0x40 | 0x80

MARK_NAN = ("×", "x")
MARK_POSINF = ("▲", "^")
MARK_NEGINF = ("▼", "v")
MARK_FINDING = ("◆", "!")


def unicode_ok(encoding: str | None = None) -> bool:
    """Whether the terminal's encoding can show braille (else draw in ASCII). Without an
    explicit encoding, stdout's (or the locale's) is used, as curses programs do."""
    if encoding is None:
        encoding = getattr(sys.stdout, "encoding", None) or locale.getpreferredencoding(False)
    return "utf" in (encoding or "").lower().replace("-", "")


def _ascii_table() -> np.ndarray:
    t = np.full(256, ord(" "), dtype=np.uint32)
    for b in range(1, 256):
        up, low = b & _UPPER, b & _LOWER
        t[b] = ord(":") if up and low else ord("'") if up else ord(".")
    return t


_ASCII = _ascii_table()


class Canvas:
    """`width` x `height` cells; x range [x0, x1], y range [y0, y1] (log10 when `log_y`)."""

    def __init__(self, width: int, height: int, *, unicode: bool = True, color: bool = True):
        self.width = max(0, int(width))
        self.height = max(0, int(height))
        self.unicode = unicode
        self.color = color
        self.dots = np.zeros((self.height, self.width), dtype=np.uint16)
        self.style_id = np.full((self.height, self.width), -1, dtype=np.int16)
        self.mark = np.zeros((self.height, self.width), dtype=np.uint32)
        self.styles: list[Style | None] = []
        self._style_index: dict[Style | None, int] = {}
        self.x0, self.x1 = 0.0, 1.0
        self.y0, self.y1 = 0.0, 1.0
        self.log_y = False

    # -- set-up ----------------------------------------------------------------------
    def set_range(self, x0: float, x1: float, y0: float, y1: float, *, log_y: bool = False) -> None:
        self.x0, self.x1, self.y0, self.y1, self.log_y = float(x0), float(x1), float(y0), float(y1), log_y

    def clear(self) -> None:
        self.dots[:] = 0
        self.style_id[:] = -1
        self.mark[:] = 0

    def style(self, style: Style | str | None) -> int:
        """Index of a style in this canvas (registered on first use)."""
        if isinstance(style, str):
            style = Style.parse(style)
        if not self.color:
            style = None
        sid = self._style_index.get(style)
        if sid is None:
            sid = self._style_index[style] = len(self.styles)
            self.styles.append(style)
        return sid

    # -- mapping ---------------------------------------------------------------------
    def y_to_dot_row(self, y: np.ndarray) -> np.ndarray:
        """Float dot row of each value (0 = top); NaN where a value cannot be shown."""
        y = np.asarray(y, dtype=np.float64)
        y0, y1 = self.y0, self.y1
        if self.log_y:
            with np.errstate(divide="ignore", invalid="ignore"):
                y = np.where(y > 0, np.log10(np.where(y > 0, y, 1.0)), np.nan)
            y0 = np.log10(y0) if y0 > 0 else -300.0
            y1 = np.log10(y1) if y1 > 0 else y0 + 1
        rows = 4 * self.height
        with np.errstate(over="ignore", invalid="ignore"):  # ranges near the float limits
            span = y1 - y0
            if not span > 0:
                return np.where(np.isfinite(y), (rows - 1) / 2.0, np.nan)
            return (y1 - y) * ((rows - 1) / span)

    # -- drawing ---------------------------------------------------------------------
    def draw_series(self, x: np.ndarray, y: np.ndarray, style: Style | str | None) -> Columns:
        """Decimate a sorted series to dot columns and draw it; returns the columns."""
        cols = minmax_columns(x, y, self.x0, self.x1, 2 * self.width)
        self.draw_columns(cols, style)
        return cols

    def draw_columns(self, c: Columns, style: Style | str | None) -> None:
        """Draw per-dot-column min/max data (columns in 0 .. 2 * width - 1)."""
        self.draw_layers([(c, style)])

    def draw_layers(self, layers: list[tuple[Columns, Style | str | None]],
                    patterns: list[int] | None = None) -> None:
        """Draw several series, later ones on top (a cell takes the style of the last layer
        with a dot in it), in one vectorised pass: the per-call numpy overhead of drawing
        them one by one was most of a chart's redraw time with many runs."""
        if not self.width or not self.height:
            return
        keep = [k for k, (c, _) in enumerate(layers) if len(c)]
        if not keep:
            return
        sids = np.asarray([self.style(layers[k][1]) for k in keep], dtype=np.int64)
        flat = self._spans_all([layers[k][0] for k in keep])
        if flat is None:
            return
        e, t, b, layer = flat
        if patterns is not None and any(patterns[k] for k in keep):
            # dashes: a layer keeps the dot columns its pattern has on
            pat = np.asarray([patterns[k] % len(_PATTERN_MASKS) for k in keep])
            on = _PATTERN_MASKS[pat[layer], e % _PATTERN_MASKS.shape[1]]
            e, t, b, layer = e[on], t[on], b[on], layer[on]
            if not len(e):
                return
        self._paint_flat(e, t, b, layer, sids, len(keep))

    def _spans_all(self, cs: list[Columns]):
        """`_span` of every layer at once, as flat arrays (dot column, top, bottom, layer):
        a fixed number of numpy calls whatever the number of layers (one call per layer and
        step was most of a redraw with 10 runs)."""
        lens = np.fromiter((len(c) for c in cs), dtype=np.int64, count=len(cs))
        lid = np.repeat(np.arange(len(cs)), lens)
        col = np.concatenate([c.col for c in cs]).astype(np.int64)
        top_v = self.y_to_dot_row(np.concatenate([c.ymax for c in cs]))
        bot_v = self.y_to_dot_row(np.concatenate([c.ymin for c in cs]))
        rf = self.y_to_dot_row(np.concatenate([c.first for c in cs]))
        rl = self.y_to_dot_row(np.concatenate([c.last for c in cs]))
        ok = np.isfinite(top_v) & np.isfinite(bot_v)
        if not ok.all():  # log scale: values <= 0 are not drawable
            col, lid, top_v, bot_v, rf, rl = col[ok], lid[ok], top_v[ok], bot_v[ok], rf[ok], rl[ok]
            rf = np.where(np.isfinite(rf), rf, top_v)
            rl = np.where(np.isfinite(rl), rl, top_v)
            lens = np.bincount(lid, minlength=len(cs))
        if not len(col):
            return None
        first = np.cumsum(lens) - lens  # index of each layer's first column
        has = lens > 0
        c0 = np.zeros(len(cs), dtype=np.int64)
        cn = np.zeros(len(cs), dtype=np.int64)
        c0[has] = col[first[has]]
        cn[has] = col[first[has] + lens[has] - 1]
        m = np.where(has, cn - c0 + 1, 0)  # dot columns each layer covers
        eid = np.repeat(np.arange(len(cs)), m)
        e = c0[eid] + (np.arange(int(m.sum())) - np.repeat(np.cumsum(m) - m, m))
        top = np.full(len(e), np.inf)
        bot = np.full(len(e), -np.inf)
        pos = (np.cumsum(m) - m)[lid] + col - c0[lid]
        top[pos] = top_v
        bot[pos] = bot_v
        multi = lens[eid] > 1
        if multi.any():  # the connecting path, sampled (just under) half a column either side
            off = int(col.max()) + 3
            key = col + lid * off
            lo_k, hi_k = first[eid], np.maximum(first[eid] + lens[eid] - 2, first[eid])
            for q in (e - 0.499, e + 0.499):
                qc = np.clip(q, c0[eid], cn[eid])
                k = np.searchsorted(key, qc + eid * off, side="right") - 1
                k = np.clip(k, lo_k, hi_k)
                k1 = np.minimum(k + 1, len(col) - 1)
                span = col[k1] - col[k]
                with np.errstate(divide="ignore", invalid="ignore"):
                    p = rl[k] + (qc - col[k]) / np.where(span > 0, span, 1) * (rf[k1] - rl[k])
                p = np.where(multi, p, np.nan)
                np.fmin(top, p, out=top)
                np.fmax(bot, p, out=bot)
        nrows = 4 * self.height
        t = np.floor(top + 0.5)  # dot row r covers [r - 0.5, r + 0.5)
        b = np.floor(bot + 0.5)
        vis = (b >= 0) & (t <= nrows - 1)
        if not vis.any():
            return None
        return (e[vis], np.clip(t[vis], 0, nrows - 1).astype(np.int64),
                np.clip(b[vis], 0, nrows - 1).astype(np.int64), eid[vis])

    def _span(self, c: Columns):
        """(dot columns, top dot row, bottom dot row) of one series, or None if none shows."""
        top_v = self.y_to_dot_row(c.ymax)
        bot_v = self.y_to_dot_row(c.ymin)
        rf = self.y_to_dot_row(c.first)
        rl = self.y_to_dot_row(c.last)
        ok = np.isfinite(top_v) & np.isfinite(bot_v)
        if not ok.all():  # log scale: values <= 0 are not drawable
            col, top_v, bot_v, rf, rl = c.col[ok], top_v[ok], bot_v[ok], rf[ok], rl[ok]
            rf = np.where(np.isfinite(rf), rf, top_v)
            rl = np.where(np.isfinite(rl), rl, top_v)
        else:
            col = c.col
        if not len(col):
            return None
        e = np.arange(col[0], col[-1] + 1)
        top = np.full(len(e), np.inf)
        bot = np.full(len(e), -np.inf)
        top[col - col[0]] = top_v
        bot[col - col[0]] = bot_v
        if len(col) > 1:  # the connecting path, sampled (just under) half a column either side
            for q in (e - 0.499, e + 0.499):
                p = self._path(col, rf, rl, np.clip(q, col[0], col[-1]))
                np.minimum(top, p, out=top)
                np.maximum(bot, p, out=bot)
        nrows = 4 * self.height
        t = np.floor(top + 0.5)  # dot row r covers [r - 0.5, r + 0.5)
        b = np.floor(bot + 0.5)
        vis = (b >= 0) & (t <= nrows - 1)
        if not vis.any():
            return None
        return (e[vis].astype(np.int64), np.clip(t[vis], 0, nrows - 1).astype(np.int64),
                np.clip(b[vis], 0, nrows - 1).astype(np.int64))

    def _paint_flat(self, e, t, b, layer, sids, n_layers: int) -> None:
        k0, k1 = t // 4, b // 4  # cell rows each span touches
        counts = k1 - k0 + 1
        rep = np.repeat(np.arange(len(e)), counts)
        k = k0[rep] + (np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts))
        a = np.maximum(t[rep] - 4 * k, 0)
        z = np.minimum(b[rep] - 4 * k, 3)
        side = e[rep] % 2
        acc = np.zeros((n_layers, self.height, self.width), dtype=np.uint16)
        np.bitwise_or.at(acc, (layer[rep], k, e[rep] // 2), _RANGE_BITS[side, a, z])
        hit = acc > 0
        self.dots |= np.bitwise_or.reduce(acc, axis=0)
        drawn = hit.any(axis=0)
        last = n_layers - 1 - np.argmax(hit[::-1], axis=0)
        self.style_id[drawn] = sids[last[drawn]]

    @staticmethod
    def _path(col: np.ndarray, rf: np.ndarray, rl: np.ndarray, q: np.ndarray) -> np.ndarray:
        """The line from each column's last value to the next column's first value."""
        k = np.clip(np.searchsorted(col, q, side="right") - 1, 0, len(col) - 2)
        c0, c1 = col[k], col[k + 1]
        t = (q - c0) / (c1 - c0)
        return rl[k] + t * (rf[k + 1] - rl[k])

    def mark_x(self, xs: np.ndarray, glyph: tuple[str, str], style: Style | str | None, *, bottom: bool = False) -> None:
        """Put a marker glyph (unicode, ascii) at the top (or bottom) row for each x."""
        xs = np.asarray(xs, dtype=np.float64)
        if not len(xs) or not self.width or not self.height:
            return
        xs = xs[(xs >= self.x0) & (xs <= self.x1)]
        if not len(xs):
            return
        cells = np.unique(column_of(xs, self.x0, self.x1, self.width))
        row = self.height - 1 if bottom else 0
        self.mark[row, cells] = ord(glyph[0] if self.unicode else glyph[1])
        self.style_id[row, cells] = self.style(style)

    # -- output ----------------------------------------------------------------------
    def codes(self) -> np.ndarray:
        """The character of every cell as uint32 code points (height x width)."""
        if self.unicode:
            ch = np.where(self.dots > 0, 0x2800 + self.dots.astype(np.uint32), ord(" "))
        else:
            ch = _ASCII[self.dots & 0xFF]
        return np.where(self.mark > 0, self.mark, ch).astype(np.uint32)

    def cells(self) -> tuple[np.ndarray, np.ndarray]:
        """(codes, style ids), for diffing two frames; a cell with no dot has style -1."""
        codes = self.codes()
        sid = np.where((self.dots > 0) | (self.mark > 0), self.style_id, -1).astype(np.int16)
        return codes, sid

    def rows(self, x0: int = 0, x1: int | None = None) -> list[list[Segment]]:
        """Rows of segments for cell columns [x0, x1), same-style runs merged."""
        codes, sid = self.cells()
        return [row_segments(codes[r], sid[r], self.styles, x0, x1) for r in range(self.height)]


def row_segments(codes: np.ndarray, sid: np.ndarray, styles: list, x0: int = 0, x1: int | None = None) -> list[Segment]:
    """Segments of one row slice; one segment per run of equal style."""
    codes = np.ascontiguousarray(codes[x0:x1], dtype=np.uint32)
    sid = sid[x0:x1]
    n = len(codes)
    if not n:
        return []
    text = codes.view(f"<U{n}")[0] if n else ""
    if len(text) < n:  # trailing NULs are dropped by numpy; never expected, but be safe
        text = text.ljust(n)
    cuts = np.flatnonzero(sid[1:] != sid[:-1]) + 1
    bounds = [0, *cuts.tolist(), n]
    out = []
    for a, b in zip(bounds[:-1], bounds[1:]):
        s = int(sid[a])
        out.append(Segment(text[a:b], styles[s] if s >= 0 else None))
    return out
