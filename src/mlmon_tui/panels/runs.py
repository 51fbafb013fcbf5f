"""The runs list: one line per run. Only draws what the app hands it.

A line-API scroll view: a new step in one run repaints that run's line alone (a table widget
repaints itself whole on any cell change, which on a box with 10 live runs was most of the
monitor's terminal output).
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from mlmon_tui.analysis.names import fit_labels
from mlmon_tui.panels.kept_style import KeptStyle
from mlmon_tui.panels.linediff import GAP, add_runs, diff, split_at

STATE_STYLE = {"live": "green", "idle": "yellow", "stalled": "yellow", "finished": "dim",
               "crashed": "red"}
STATE_SHORT = {"stalled": "stall", "finished": "done", "crashed": "crash"}
WIDE = 38  # from this width on, the steps/s and state columns are shown


@dataclass(frozen=True)
class RunRow:
    name: str
    colour: str
    visible: bool
    kind: str
    last_step: int | None
    rate: float | None  # steps per second
    state: str
    badge: tuple[str, str] = ("", "")  # health badge text and style
    label: str = ""  # the name told apart from the other runs' (empty: the name)


def fmt_rate(rate: float | None) -> str:
    if rate is None:
        return "-"
    if rate >= 100:
        return f"{rate:.0f}"
    if rate >= 10:
        return f"{rate:.1f}"
    return f"{rate:.2f}"


def fmt_step(step: int | None) -> str:
    if step is None:
        return "-"
    if step >= 10_000_000:
        return f"{step / 1e6:.0f}M"
    if step >= 100_000:
        return f"{step / 1e3:.0f}k"
    return str(step)


def name_width(width: int) -> int:
    tail = 7 + (6 + 6 if width >= WIDE else 0) + 4  # step, rate, state, badge
    return max(4, width - 2 - tail)


def _pieces(row: RunRow, width: int, name: str) -> list[tuple[str, str]]:
    """One run's line as (text, style) pieces: dot, name, step, [steps/s, state,] badge."""
    wide = width >= WIDE
    name_w = name_width(width)
    parts = [("● " if row.visible else "○ ", row.colour if row.visible else "dim"),
             (f"{name:<{name_w}}", "" if row.visible else "dim"),
             (f"{fmt_step(row.last_step):>7}", "")]
    if wide:
        parts.append((f"{fmt_rate(row.rate):>6}", ""))
        parts.append((f" {STATE_SHORT.get(row.state, row.state):<5}", STATE_STYLE.get(row.state, "")))
    parts.append((f" {row.badge[0]:<3}"[:4], row.badge[1]))
    return parts


def row_text(row: RunRow, width: int, name: str | None = None) -> Text:
    """One run as a line of `width` cells; `name` is its label fitted to the name column."""
    if name is None:
        name = fit_labels([row.label or row.name], name_width(width))[0]
    t = Text(no_wrap=True, overflow="crop")
    for text, style in _pieces(row, width, name):
        t.append(text, style=style)
    return t


def row_parts(row: RunRow, width: int, name: str) -> list[tuple[str, str]] | None:
    """`row_text`'s pieces when they make exactly `width` one-cell characters; None where
    they do not (a tiny width, a name with wide characters: Rich Text crops those)."""
    parts = _pieces(row, width, name)
    if sum(len(t) for t, _ in parts) != width or cell_len("".join(t for t, _ in parts)) != width:
        return None
    return parts


def header_text(width: int) -> Text:
    wide = width >= WIDE
    tail = 7 + (6 + 6 if wide else 0) + 4
    name_w = max(4, width - 2 - tail)
    s = "  " + f"{'run':<{name_w}}" + f"{'step':>7}" + (f"{'st/s':>6} {'state':<5}" if wide else "")
    return Text(s, style="bold", no_wrap=True, overflow="crop")


class RunsPanel(KeptStyle, ScrollView, can_focus=True):
    """Runs with their colour, last step, steps/s, state and health badge. Up/down move the
    cursor; `space`/`enter` or a click on the dot show or hide a run."""

    DEFAULT_CSS = """
    RunsPanel { height: 1fr; overflow-x: hidden; }
    RunsPanel > .runs--cursor { background: $accent 40%; }
    RunsPanel:focus > .runs--cursor { background: $accent; }
    """
    COMPONENT_CLASSES = {"runs--cursor"}
    BINDINGS = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "cursor(-10)", show=False),
        Binding("pagedown", "cursor(10)", show=False),
        Binding("home", "cursor(-1000000)", show=False),
        Binding("end", "cursor(1000000)", show=False),
        Binding("enter", "toggle", "Show/hide", show=False),
    ]
    cursor_row: reactive[int] = reactive(0, always_update=True, repaint=False)

    class Toggled(Message):
        """The user asked to show or hide `run`."""

        def __init__(self, run: str) -> None:
            super().__init__()
            self.run = run

    class Highlighted(Message):
        def __init__(self, run: str | None, by_user: bool = False) -> None:
            super().__init__()
            self.run = run
            self.by_user = by_user  # moved by a key or a click (the focused run changed)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._rows: list[RunRow] = []
        self._lines: list[Strip | None] = []  # cached line per row (None: to render)
        self._drawn: dict[int, tuple] = {}  # row -> (pieces, style) its line was drawn from
        self._cuts: dict[int, list[int]] = {}  # row -> cells its next line is cut at
        self._width = 0
        self._fitted: dict[str, str] = {}  # run -> label fitted to the name column
        self._fitted_key: tuple = ()
        self.lines_painted = 0  # rows rendered since start (for tests and benchmarks)
        self.cells_refreshed = 0  # cells marked for repaint by row updates (tests, benchmarks)
        self._piece_styles: dict[tuple, Style] = {}  # (piece style, cursor) -> its Style
        self._piece_base: Style | None = None  # ... on this widget style

    # -- data ------------------------------------------------------------------------
    @property
    def current_run(self) -> str | None:
        if 0 <= self.cursor_row < len(self._rows):
            return self._rows[self.cursor_row].name
        return None

    @property
    def names(self) -> list[str]:
        return [r.name for r in self._rows]

    def shown_names(self) -> dict[str, str]:
        """Run -> the name as its line shows it (fitted to the current width)."""
        self._fit(self._line_width)
        return dict(self._fitted)

    def _fit(self, width: int) -> None:
        labels = [r.label or r.name for r in self._rows]
        key = (width, tuple(labels))
        if key != self._fitted_key:
            self._fitted_key = key
            fitted = fit_labels(labels, name_width(width))
            self._fitted = {r.name: f for r, f in zip(self._rows, fitted)}

    def set_rows(self, rows: list[RunRow]) -> None:
        """Show exactly these rows, in this order; repaints only lines that changed."""
        current = self.current_run
        old = self._rows
        self._rows = list(rows)
        if [(r.name, r.label) for r in old] != [(r.name, r.label) for r in rows]:
            self._lines = [None] * len(rows)
            self._drawn.clear()
            self._cuts.clear()
            names = [r.name for r in rows]
            self.virtual_size = Size(self._width, len(rows) + 1)
            self.cursor_row = names.index(current) if current in names else min(
                self.cursor_row, max(0, len(rows) - 1))
            self.refresh()
            return
        changed = [i for i, (a, b) in enumerate(zip(old, rows)) if a != b]
        if not changed:
            return
        # what every changed row needs, asked once (each walks the DOM or the scrollbars)
        at = (self.base_style, self._line_width, int(self.scroll_offset.y), self.size)
        regions: list[Region] = []
        for i in changed:
            self._update_row(i, at, regions)
        if regions:
            self.refresh(*regions)

    def _update_row(self, i: int, at: tuple, regions: list[Region]) -> None:
        """Add to `regions` only the cells of row `i` that differ from the screen (a new
        step is a digit or two: the rest of the line is not resent). The usual line is
        compared piece by piece with the pieces it was drawn from, and drawn again only
        when the screen asks for it; anything else is drawn now and compared cell by cell.
        `at`: the widget's (base style, line width, scroll offset, size)."""
        style, line_width, offset, size = at
        old = self._lines[i] if i < len(self._lines) else None
        y = i + 1 - offset
        width = self._width
        if not 0 < y < size.height:
            self._forget(i)
            return
        if old is None or width <= 0 or width != line_width:
            self._forget(i)
            self.cells_refreshed += size.width
            regions.append(Region(0, y, size.width, 1))
            return
        spans = self._piece_spans(i, width, style)
        if spans is None:
            line, spans = diff(old, self._render_row(i, width, style))
            self._lines[i] = line
        elif spans:
            self._lines[i] = None  # drawn from its pieces when the screen asks, cut at `spans`
            self._cuts[i] = sorted({x for span in spans for x in span if 0 < x < width})
        for x1, x2 in spans:
            self.cells_refreshed += x2 - x1
            regions.append(Region(x1, y, x2 - x1, 1))

    def _piece_spans(self, i: int, width: int, style) -> list[tuple[int, int]] | None:
        """Where row `i`'s new pieces differ from those its line on screen was drawn from:
        [(x1, x2)] (empty: the same line); None where they cannot be compared so (another
        cut or style, a line not drawn from pieces)."""
        drawn = self._drawn.get(i)
        if drawn is None or drawn[1] != style or drawn[2] != (i == self.cursor_row):
            return None
        self._fit(width)
        name = self._fitted.get(self._rows[i].name)
        parts = None if name is None else row_parts(self._rows[i], width, name)
        old = drawn[0]
        if parts is None or len(parts) != len(old):
            return None
        spans: list[tuple[int, int]] = []
        x = 0
        for (ta, sa), (tb, sb) in zip(old, parts):
            if sa != sb or len(ta) != len(tb):
                return None
            if ta != tb:
                add_runs(ta, tb, x, spans, GAP)
            x += len(tb)
        self._drawn[i] = (parts, style, drawn[2])
        return spans

    def _forget(self, i: int) -> None:
        """Row `i` is drawn afresh from its row when next asked for (no pending pieces)."""
        if i < len(self._lines):
            self._lines[i] = None
        self._cuts.pop(i, None)

    def move_cursor(self, row: int) -> None:
        self.cursor_row = max(0, min(row, len(self._rows) - 1))

    # -- drawing ---------------------------------------------------------------------
    def style_changed(self) -> None:
        # CSS applied again (a theme, a pseudo-class): lines are drawn again in the new style
        self._piece_styles.clear()
        self._lines = [None] * len(self._rows)
        self._drawn.clear()
        self._cuts.clear()

    @property
    def _line_width(self) -> int:
        """Cells a line has: the widget's width less a vertical scrollbar when there is one."""
        return self.scrollable_content_region.width

    def on_resize(self) -> None:
        if self._line_width != self._width:
            self._width = self._line_width
            self._lines = [None] * len(self._rows)
            self._cuts.clear()
            self.virtual_size = Size(self._width, len(self._rows) + 1)
            self.refresh()

    def _refresh_row(self, i: int) -> None:
        y = i + 1 - int(self.scroll_offset.y)
        if 0 <= y < self.size.height:
            self.cells_refreshed += self.size.width
            self.refresh(Region(0, y, self.size.width, 1))

    def render_line(self, y: int) -> Strip:
        width = self._line_width
        if width != self._width:  # a scrollbar came or went
            self._width = width
            self._lines = [None] * len(self._rows)
            self._cuts.clear()
        i = y + int(self.scroll_offset.y) - 1
        if y == 0:
            return self._strip(header_text(width), width)
        if not 0 <= i < len(self._rows):
            return Strip.blank(width, self.base_style)
        line = self._lines[i] if i < len(self._lines) else None
        if line is None:
            cuts = self._cuts.pop(i, None)
            drawn = self._drawn.get(i) if cuts else None
            if drawn is not None:  # the pieces `_piece_spans` compared
                self.lines_painted += 1
                line = self._parts_strip(drawn[0], width, drawn[1], drawn[2])
            else:
                line = self._render_row(i, width)
            if cuts:  # the changed cells a segment of their own: only they are resent
                line = split_at(line, cuts)
            self._lines[i] = line
        return line

    def _render_row(self, i: int, width: int, style=None) -> Strip:
        self._fit(width)
        row = self._rows[i]
        name = self._fitted.get(row.name)
        parts = None if name is None else row_parts(row, width, name)
        if parts is not None:  # the usual line, made as segments (no Rich Text round trip)
            self.lines_painted += 1
            if style is None:
                style = self.base_style
            self._drawn[i] = (parts, style, i == self.cursor_row)
            return self._parts_strip(parts, width, style, i == self.cursor_row)
        self._drawn.pop(i, None)
        text = row_text(row, width, name)
        if i == self.cursor_row:
            text.stylize(self.get_component_rich_style("runs--cursor"))
        self.lines_painted += 1
        return self._strip(text, width, style)

    def _parts_strip(self, parts, width: int, style, cursor: bool) -> Strip:
        """The same line `_strip` makes of `row_text`, from its (text, style) pieces."""
        if style is None:
            style = self.base_style
        if style is not self._piece_base:
            self._piece_base = style
            self._piece_styles.clear()
        styles = self._piece_styles
        segs = []
        for text, st in parts:
            s = styles.get((st, cursor))
            if s is None:  # the first line drawn in this style (a handful of them)
                s = style + self.app.console.get_style(st) if st else style
                if cursor:
                    s = s + self.get_component_rich_style("runs--cursor")
                styles[(st, cursor)] = s
            segs.append(Segment(text, s))
        # neighbours of one style as one segment, as Rich Text renders them (SVG exports
        # drop a segment's trailing spaces)
        return Strip(list(Segment.simplify(segs)), width)

    def _strip(self, text: Text, width: int, style=None) -> Strip:
        segments = list(text.render(self.app.console))
        if style is None:
            style = self.base_style
        segs = [Segment(s.text, style + s.style if s.style else style) for s in segments
                if not s.control]
        return Strip(segs).adjust_cell_length(width, style)

    # -- interaction -----------------------------------------------------------------
    def watch_cursor_row(self, old: int, new: int) -> None:
        for i in {old, new}:
            if 0 <= i < len(self._lines):
                self._forget(i)
                self._refresh_row(i)
        self.scroll_to_region(Region(0, new + 1, 1, 1), animate=False)
        self.post_message(self.Highlighted(self.current_run))

    def action_cursor(self, delta: int) -> None:
        self.move_cursor(self.cursor_row + delta)
        self.post_message(self.Highlighted(self.current_run, by_user=True))

    def action_toggle(self) -> None:
        run = self.current_run
        if run is not None:
            self.post_message(self.Toggled(run))

    def on_click(self, event: Click) -> None:
        i = event.y + int(self.scroll_offset.y) - 1
        if 0 <= i < len(self._rows):
            self.move_cursor(i)
            self.post_message(self.Highlighted(self.current_run, by_user=True))
            if event.x < 2 or event.chain >= 2:  # the dot, or a double click
                self.action_toggle()

    def on_mouse_move(self, event) -> None:
        """The full name of the run under the pointer, as a tooltip (lines show it shortened)."""
        i = event.y + int(self.scroll_offset.y) - 1
        rows = self._rows
        self.tooltip = (rows[i].name
                        if event.y > 0 and 0 <= i < len(rows) else None)
