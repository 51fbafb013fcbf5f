"""One chart per tag: runs overlaid on a braille canvas, y ticks, x ticks and a legend.

Cheap on the terminal by design: axes are stable (x range with headroom, y range that only
grows until the options change), each new frame is diffed against the previous one cell by
cell, and only the changed row spans of the changed plot strips are refreshed. The plot is
split into strips about 12 columns wide because Textual resends a dirty span from the
widget's left edge (the monitor installs `app.spans`, which starts at the span itself; the
strips keep other hosts of the widget cheap). Title, axes and legend lines are separate small widgets that are only
updated when their text changes.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, replace

from rich.cells import cell_len
from rich.segment import Segment
from rich.text import Text
from textual.app import ComposeResult
from textual.css.query import NoMatches
from textual.containers import Horizontal, Vertical
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from mlmon_tui.panels import chart_frame as cf
from mlmon_tui.panels.bands import collect_bands
from mlmon_tui.panels.braille import row_segments
from mlmon_tui.panels.kept_style import KeptStyle
from mlmon_tui.panels.linediff import GAP, add_runs, diff, split_at

STRIP_WIDTH = 12


@dataclass(frozen=True)
class ChartOptions:
    smoothing: float = 0.6  # 0 .. 0.999, TensorBoard's debiased EMA weight
    log_y: bool = False
    x_mode: str = "step"  # "step" | "relative" | "wall"
    ascii: bool = False  # no Unicode: . ' : instead of braille
    color: bool = True

    def clamp(self) -> "ChartOptions":
        s = min(0.999, max(0.0, float(self.smoothing)))
        mode = self.x_mode if self.x_mode in ("step", "relative", "wall") else "step"
        return replace(self, smoothing=s, x_mode=mode)


class PlotStrip(KeptStyle, Widget):
    """A vertical slice [x0, x0 + width) of the chart's canvas, drawn line by line."""

    DEFAULT_CSS = "PlotStrip { height: 1fr; }"

    def __init__(self, owner: "Chart", x0: int, width: int) -> None:
        super().__init__()
        self.owner = owner
        self.x0 = x0
        self.strip_width = width
        self.styles.width = width
        self._lines: dict[int, Strip] = {}

    def invalidate(self, rows: list[tuple[int, int]] | None = None) -> None:
        if rows is None:
            self._lines.clear()
            self.refresh()
            return
        for a, b in rows:
            for r in range(a, b):
                self._lines.pop(r, None)
            self.refresh(Region(0, a, self.strip_width, b - a))

    def style_changed(self) -> None:
        self._lines.clear()  # drawn again in the new style

    def render_line(self, y: int) -> Strip:
        line = self._lines.get(y)
        if line is None:
            frame = self.owner.frame
            w = self.strip_width
            if frame is None or y >= frame.codes.shape[0]:
                line = Strip.blank(w, self.base_style)
            else:
                segs = row_segments(frame.codes[y], frame.sid[y], frame.styles, self.x0, self.x0 + w)
                line = Strip(segs).adjust_cell_length(w).apply_style(self.base_style)
            self._lines[y] = line
        return line


class TextCell(KeptStyle, Widget):
    """One line of text of a fixed width. Changing the text repaints only this widget
    (`Static.update` would lay out the parent again and repaint the siblings too), and of it
    only the cells that differ from what is on screen (a new last value: a digit or two)."""

    DEFAULT_CSS = "TextCell { height: 1; }"

    def __init__(self, text: Text) -> None:
        super().__init__()
        self.text = text
        self.styles.width = text.cell_len
        self._strip: Strip | None = None
        self._style = None  # the widget style `_strip` was drawn with
        self._cuts: list[int] = []  # cells the next strip is cut at (the changed spans)
        self.cells_refreshed = 0  # cells marked for repaint by set_text (tests, benchmarks)

    def set_text(self, text: Text) -> None:
        if text.cell_len != self.text.cell_len:
            self.styles.width = text.cell_len
            self.text, self._strip = text, None
            self.refresh()
            return
        old_text, self.text = self.text, text
        old = self._strip
        if (old is None or not self.is_mounted or old.cell_length != self.size.width
                or self._style != self.base_style):
            self._strip = None
            self.refresh()
            return
        spans = _same_layout_spans(old_text, text)
        if spans is None:  # styles moved: the lines are compared cell by cell
            self._strip, spans = diff(old, self._render_strip(self.size.width))
        elif spans:  # the same styles in the same places: drawn when the screen asks
            self._strip = None
            self._cuts = sorted({x for span in spans for x in span})
        for x1, x2 in spans:
            self.cells_refreshed += x2 - x1
            self.refresh(Region(x1, 0, x2 - x1, 1))

    def _render_strip(self, width: int) -> Strip:
        console = self.app.console
        base = self.text.style
        base = console.get_style(base, default="") if isinstance(base, str) else base
        segs = _segments(self.text, base or None, console)
        if segs is None:
            # Text.render leaves out the text's own base style (its __rich_console__ adds it)
            segs = [s for s in Segment.apply_style(self.text.render(console, end=""), base or None)
                    if not s.control]
        self._style = style = self.base_style
        return Strip(segs).adjust_cell_length(width).apply_style(style)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y:
            return Strip.blank(width, self.base_style)
        if self._strip is None or self._strip.cell_length != width or self._style != self.base_style:
            self._strip = self._render_strip(width)
            cuts, self._cuts = self._cuts, []
            if cuts:  # the changed cells a segment of their own: only they are resent
                self._strip = split_at(self._strip, [x for x in cuts if 0 < x < width])
        return self._strip


def _same_layout_spans(old: Text, new: Text) -> list[tuple[int, int]] | None:
    """Where `new` differs from `old` when both are one-cell characters with the same styles
    over the same cells (a new value in the same place: the usual legend update), without
    drawing either; None otherwise."""
    a, b = old.plain, new.plain
    if (len(a) != len(b) or old.style != new.style or old.spans != new.spans
            or cell_len(a) != len(a) or cell_len(b) != len(b)):
        return None
    spans: list[tuple[int, int]] = []
    add_runs(a, b, 0, spans, GAP)
    return spans


def _segments(text: Text, base, console) -> list[Segment] | None:
    """The segments `Text.render` gives (with `base` in front), made directly for the usual
    text: pieces appended one after another, no span overlapping another, no newline; None
    for anything else."""
    plain = text.plain
    if "\n" in plain:
        return None
    get = console.get_style
    out: list[Segment] = []
    pos = 0
    for start, end, st in text.spans:
        if start < pos or end > len(plain):
            return None
        if start > pos:
            out.append(Segment(plain[pos:start], base))
        if end > start:
            st = get(st, default="") if isinstance(st, str) else st
            out.append(Segment(plain[start:end], (base + st) if base is not None else st))
        pos = end
    if pos < len(plain):
        out.append(Segment(plain[pos:], base))
    return out


class Chart(Widget):
    """A chart of one tag across runs, fed from a `Store`.

    The app calls `poll()` a few times a second (all charts inside one
    `app.batch_update()`, so their changes reach the terminal in one write); a poll that
    finds nothing new costs a few microseconds and sends nothing."""

    LEGEND_SECONDS = 2.0  # the one-line legend's values change at most this often
    LEGEND_SLACK = 1.5  # how long a due legend waits for the next frame before its own
    # a legend due this share of LEGEND_SECONDS after a frame goes out with that frame: the
    # grid's charts are drawn every CHART_SECONDS (= LEGEND_SECONDS), and frames come a few
    # milliseconds early or late; held back, each chart's legend went out in a frame of its own
    LEGEND_EARLY = 0.1

    DEFAULT_CSS = """
    Chart { layout: vertical; height: 1fr; min-height: 3; }
    Chart > .chart--title { height: 1; text-style: bold; }
    Chart > #chart-body { height: 1fr; }
    Chart #chart-yaxis { height: 1fr; color: $text-muted; }
    Chart > #chart-xaxis { height: 1; color: $text-muted; }
    Chart > #chart-legend { height: auto; }
    Chart > #chart-legend > .legend-row { height: 1; }
    """

    def __init__(self, store, tag: str, *, id: str | None = None, options: ChartOptions | None = None) -> None:
        super().__init__(id=id)
        self.store = store
        self.tag = tag
        self.options = (options or ChartOptions()).clamp()
        self.runs: list[tuple[str, str]] = []
        self.markers: list[tuple[str, int, str]] = []
        self.labels: dict[str, str] = {}  # run -> the name its legend shows
        self.highlight: str | None = None  # the focused run: on top, the others dimmed
        self.frame: cf.Frame | None = None
        self.state = cf.ChartState()
        self._sig = None
        self._layout: cf.Layout | None = None
        self._strips: list[PlotStrip] = []
        self._legend_texts: list[list[tuple]] = []
        self._legend_rows: list[Horizontal] = []
        self._legend_drawn = 0.0  # time.monotonic() of the last legend change shown
        self._legend_pending: tuple | None = None  # (lines, keys) waiting for LEGEND_SECONDS
        self._legend_timer = None
        self._axis_text = ("", "")
        self._axis_key: tuple = ()
        self._title = ""

    # -- public API ------------------------------------------------------------------
    def set_runs(self, runs: list[tuple[str, str]]) -> None:
        runs = list(runs)
        if runs != self.runs:
            self.runs = runs
            self.state.reset_ranges()

    def set_options(self, options: ChartOptions) -> None:
        options = options.clamp()
        if options != self.options:
            if (options.log_y, options.x_mode) != (self.options.log_y, self.options.x_mode):
                self.state.reset_ranges()
            if (options.ascii, options.color) != (self.options.ascii, self.options.color):
                self.state.canvas = None
            self.options = options

    def set_labels(self, labels: dict[str, str]) -> None:
        """The names to show for runs (told apart from each other); the legend follows."""
        if labels != self.labels:
            self.labels = dict(labels)
            self._sig = None

    def set_highlight(self, run: str | None) -> None:
        if run != self.highlight:
            self.highlight = run
            self._sig = None

    def set_markers(self, markers: list[tuple[str, int, str]]) -> None:
        self.markers = list(markers)

    def poll(self) -> bool:
        """Redraw if a series, the runs, the options, the markers or the size changed."""
        if not self.is_mounted:
            return False
        w, h = self.size.width, self.size.height
        if w <= 0 or h <= 0:
            return False
        with self.store.lock:
            versions = []
            for run, _ in self.runs:
                s = self.store.series(run, self.tag)
                versions.append(None if s is None else (id(s), s.version, len(s)))
        sig = (tuple(self.runs), self.options, (w, h), tuple(self.markers), tuple(versions))
        if sig == self._sig:
            if self._legend_pending is not None and self._legend_wait() <= 0:
                self._flush_legend()  # in this frame, not in one of its own
            return False
        self._sig = sig
        self._redraw(w, h)  # its legend replaces one held back (newer values, one update)
        return True

    # -- widgets ---------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static("", classes="chart--title", id="chart-title", markup=False)
        with Horizontal(id="chart-body"):
            yield Static("", id="chart-yaxis", markup=False)
        yield Static("", id="chart-xaxis", markup=False)
        yield Vertical(id="chart-legend")

    def on_resize(self) -> None:
        self.poll()

    # -- drawing ---------------------------------------------------------------------
    def _apply_layout(self, lay: cf.Layout) -> None:
        if lay == self._layout:
            return
        old = self._layout
        self._layout = lay
        self.query_one("#chart-title").display = lay.title
        self.query_one("#chart-xaxis").display = lay.xaxis
        yaxis = self.query_one("#chart-yaxis", Static)
        yaxis.display = lay.yaxis_width > 0
        yaxis.styles.width = max(1, lay.yaxis_width)
        self.query_one("#chart-body").styles.height = lay.plot_h
        if old is None or old.plot_w != lay.plot_w:
            body = self.query_one("#chart-body")
            for s in self._strips:
                s.remove()
            self._strips = [
                PlotStrip(self, x0, min(STRIP_WIDTH, lay.plot_w - x0)) for x0 in range(0, lay.plot_w, STRIP_WIDTH)
            ]
            if self._strips:
                body.mount(*self._strips)
                # Lay the body out again once the strips are in: a layout computed while
                # they were still mounting gives the y axis the whole width.
                self.call_after_refresh(body.refresh, layout=True)
        self._legend_texts = []
        self._axis_text = ("", "")
        self._axis_key = ()

    def _redraw(self, w: int, h: int) -> None:
        lay = cf.plan_layout(w, h, len(self.runs))
        self._apply_layout(lay)
        if lay.plot_w <= 0 or lay.plot_h <= 0:
            return
        with self.store.lock:
            data, xr = cf.collect(
                self.store, self.tag, self.runs, self.options, self.markers, self.state, 2 * lay.plot_w
            )
            bands = collect_bands(self.store, self.tag, self.runs, self.options, xr, 2 * lay.plot_w)
        same = cf.unchanged(self.state, data, xr, self.options, lay.plot_w, lay.plot_h,
                            bands, self.highlight)
        if same is not None and same[0] is self.frame:  # the plot's cells would not change
            self._update_text(lay, same[1], data)
            return
        frame, info = cf.draw(self.state, data, xr, self.options, lay.plot_w, lay.plot_h,
                              bands, self.highlight)
        old, self.frame = self.frame, frame
        if old is None or old.codes.shape != frame.codes.shape:
            for s in self._strips:
                s.invalidate()
        else:
            changed = (old.codes != frame.codes) | (old.sid != frame.sid)
            for s in self._strips:
                spans = cf.row_spans(changed[:, s.x0 : s.x0 + s.strip_width].any(axis=1))
                if spans:
                    s.invalidate(spans)
        self._update_text(lay, info, data)

    def _update_text(self, lay: cf.Layout, info: cf.FrameInfo, data: list[cf.RunData]) -> None:
        title = self.tag + ("  [log]" if self.options.log_y else "")
        if info.n_bad:
            title += f"  ({info.n_bad} NaN/Inf)"
        if title != self._title:
            self._title = title
            self.query_one("#chart-title", Static).update(Text(title, no_wrap=True, overflow="ellipsis"))
        key = (info.x0, info.x1, info.y0, info.y1, info.log_y, lay, self.options)
        if key == self._axis_key:  # the same ranges: the same labels
            self._update_legend(lay, data)
            return
        self._axis_key = key
        ytext = "\n".join(cf.y_labels(info, lay, self.options))
        xtext = cf.x_labels(info, lay, self.options)
        if (ytext, xtext) != self._axis_text:
            self._axis_text = (ytext, xtext)
            # rich Text keeps leading spaces (right-aligned labels, the offset under the y axis)
            self.query_one("#chart-yaxis", Static).update(Text(ytext, no_wrap=True, overflow="crop"))
            xaxis = Text(" " * lay.yaxis_width + xtext, no_wrap=True, overflow="crop")
            self.query_one("#chart-xaxis", Static).update(xaxis)
        self._update_legend(lay, data)

    def _update_legend(self, lay: cf.Layout, data: list[cf.RunData]) -> None:
        lines = cf.legend_lines(data, self.options, lay, self.labels)
        # spans compared as they are (a Span's str goes through Rich's repr machinery)
        keys = [[(p.plain, tuple(p.spans), p.style) for p in parts] for parts in lines]
        if keys == self._legend_texts:
            self._legend_pending = None
            return
        # The one-line legend of a small chart holds every run's last value, and with live
        # runs it changes each second: its new values are shown at most every
        # LEGEND_SECONDS (the first change at once, the last one always).
        old = self._legend_texts
        if lay.compact_legend and old and [len(k) for k in keys] == [len(k) for k in old]:
            wait = self._legend_wait()
            if wait > 0:
                self._legend_pending = (lines, keys)
                if self._legend_timer is None:
                    # a later poll shows it with the rest of its frame; the timer (the
                    # loop's own: a Textual timer is a task each time) only catches the
                    # last change when no more frames come
                    self._legend_timer = asyncio.get_running_loop().call_later(
                        wait + self.LEGEND_SLACK, self._flush_legend)
                return
        self._show_legend(lines, keys)

    def _legend_wait(self) -> float:
        """Seconds until a new one-line legend may be shown (<= 0: now)."""
        due = self._legend_drawn + self.LEGEND_SECONDS * (1 - self.LEGEND_EARLY)
        return due - time.monotonic()

    def _cancel_legend_timer(self) -> None:
        if self._legend_timer is not None:
            self._legend_timer.cancel()
            self._legend_timer = None

    def _flush_legend(self) -> None:
        self._cancel_legend_timer()
        pending, self._legend_pending = self._legend_pending, None
        if pending is not None and self.is_mounted:
            try:
                self._show_legend(*pending)
            except NoMatches:  # the chart is being taken down
                pass

    def on_unmount(self) -> None:
        self._cancel_legend_timer()

    def _show_legend(self, lines: list[list[Text]], keys: list[list[tuple]]) -> None:
        self._legend_pending = None
        self._cancel_legend_timer()
        self._legend_drawn = time.monotonic()
        box = self.query_one("#chart-legend", Vertical)
        box.display = bool(lines)
        shape = [len(parts) for parts in lines]
        old = self._legend_texts
        self._legend_texts = keys
        if shape != [len(k) for k in old] or len(self._legend_rows) != len(lines):
            box.remove_children()
            self._legend_rows = [Horizontal(*map(TextCell, parts), classes="legend-row") for parts in lines]
            box.mount(*self._legend_rows)
            return
        for row, parts, new_k, old_k in zip(self._legend_rows, lines, keys, old):
            for kid, part, new, was in zip(row.children, parts, new_k, old_k):
                if new != was:
                    kid.set_text(part)
