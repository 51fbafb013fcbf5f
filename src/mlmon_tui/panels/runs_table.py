"""The runs table: one line per run with its state, health badge, hyper-parameter columns
and, for the chosen metric, last / best / smoothed-last. Draws only what the app hands it
(rows from `analysis.sweep`, already sorted and filtered).

A line-API scroll view like the runs list: a changed row repaints that line alone. A click
on a header cell asks for that column as the sort order; a click on a run's dot shows or
hides it; up/down move the cursor (the cursor's run is the focused run everywhere).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.segment import Segment
from rich.text import Text
from textual.binding import Binding
from textual.events import Click
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from mlmon_tui.analysis.names import fit_labels
from mlmon_tui.analysis.sweep import Row, fmt_value
from mlmon_tui.panels.runs import STATE_SHORT, STATE_STYLE, fmt_step

METRIC_W = 9
HP_MAX = 14


@dataclass
class TableSpec:
    """Everything the table shows besides the rows."""

    columns: list[str] = field(default_factory=list)  # hyper-parameter keys, in order
    metric: str | None = None
    want: str = "min"
    sort: str = "best"
    descending: bool = False
    colours: dict = field(default_factory=dict)
    hidden: frozenset = frozenset()
    labels: dict = field(default_factory=dict)
    groups: dict = field(default_factory=dict)  # run -> group label (when grouping)
    title: str = ""


@dataclass(frozen=True)
class Cell:
    column: str
    header: str
    width: int
    right: bool = True


def plan_cells(rows: list[Row], spec: TableSpec, width: int) -> list[Cell]:
    """The columns that fit `width`: name, state, badge, step, the metric's three, then as
    many hyper-parameter columns as fit (those that vary come first in `spec.columns`)."""
    cells = [Cell("state", "state", 6, False), Cell("badge", "", 4, False),
             Cell("last_step", "step", 7)]
    if spec.metric:
        cells += [Cell("last", "last", METRIC_W), Cell("best", "best", METRIC_W),
                  Cell("smoothed_last", "smooth", METRIC_W)]
    if spec.groups:
        gw = min(HP_MAX + 4, max(5, max(len(g) for g in spec.groups.values()) + 1))
        cells.insert(0, Cell("group", "group", gw, False))
    used = 2 + sum(c.width for c in cells)
    name_w = min(max((len(spec.labels.get(r.run, r.run)) for r in rows), default=4) + 1, 40)
    room = width - used - max(12, min(name_w, 24))
    for key in spec.columns:
        vals = [fmt_value(r.hparams.get(key), HP_MAX) for r in rows]
        w = min(HP_MAX, max([len(key)] + [len(v) for v in vals])) + 1
        if w > room:
            break
        cells.append(Cell(key, key, w))
        room -= w
    return [Cell("run", "run", max(4, width - 2 - sum(c.width for c in cells)), False)] + cells


def header_text(cells: list[Cell], spec: TableSpec) -> Text:
    t = Text("  ", style="bold", no_wrap=True, overflow="crop")
    for c in cells:
        head = c.header
        if c.column == spec.sort:
            head += "▼" if spec.descending else "▲"
        head = head if len(head) < c.width else head[: c.width - 2] + "…"
        t.append((head.rjust(c.width - 1) + " ") if c.right else head.ljust(c.width)[: c.width],
                 style="bold reverse" if c.column == spec.sort else "bold")
    return t


def row_text(row: Row, cells: list[Cell], spec: TableSpec, name: str) -> Text:
    visible = row.run not in spec.hidden
    colour = spec.colours.get(row.run, "")
    t = Text(no_wrap=True, overflow="crop")
    t.append("● " if visible else "○ ", style=colour if visible else "dim")
    for c in cells:
        if c.column == "run":
            t.append(name.ljust(c.width)[: c.width], style="" if visible else "dim")
        elif c.column == "state":
            t.append(f"{STATE_SHORT.get(row.state, row.state):<6}"[:6],
                     style=STATE_STYLE.get(row.state, ""))
        elif c.column == "badge":
            t.append(f"{row.badge[0]:<4}"[:4], style=row.badge[1])
        elif c.column == "group":
            t.append(fmt_value(spec.groups.get(row.run), c.width - 1).ljust(c.width), style="cyan")
        elif c.column == "last_step":
            t.append(f"{fmt_step(row.last_step):>{c.width - 1}} ")
        else:
            v = row.get(c.column)
            text = fmt_value(v, c.width - 1)
            style = "bold" if c.column == "best" else ""
            t.append(text.rjust(c.width - 1)[-(c.width - 1):] + " ", style=style)
    return t


class RunsTable(ScrollView, can_focus=True):
    """The runs of a sweep as a table. `set_table(rows, spec)`; messages: `Toggled`,
    `Highlighted`, `SortBy`."""

    DEFAULT_CSS = """
    RunsTable { height: 1fr; overflow-x: hidden; }
    RunsTable > .table--cursor { background: $accent 40%; }
    RunsTable:focus > .table--cursor { background: $accent; }
    """
    COMPONENT_CLASSES = {"table--cursor"}
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
        def __init__(self, run: str) -> None:
            super().__init__()
            self.run = run

    class Highlighted(Message):
        def __init__(self, run: str | None, by_user: bool = False) -> None:
            super().__init__()
            self.run = run
            self.by_user = by_user

    class SortBy(Message):
        def __init__(self, column: str) -> None:
            super().__init__()
            self.column = column

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows: list[Row] = []
        self.spec = TableSpec()
        self.cells: list[Cell] = []
        self._names: dict[str, str] = {}
        self._lines: list[Strip | None] = []
        self._keys: list[tuple] = []
        self._plan_key: tuple = ()
        self.lines_painted = 0

    @property
    def current_run(self) -> str | None:
        if 0 <= self.cursor_row < len(self.rows):
            return self.rows[self.cursor_row].run
        return None

    def shown_names(self) -> dict[str, str]:
        return dict(self._names)

    def set_table(self, rows: list[Row], spec: TableSpec) -> None:
        """Show these rows in this order; repaints only the lines that changed."""
        current = self.current_run
        width = self.scrollable_content_region.width
        keys = [self._row_key(r, spec) for r in rows]
        plan_key = (width, [r.run for r in rows], spec.columns, spec.metric, spec.sort,
                    spec.descending, tuple(sorted(spec.labels.items())),
                    tuple(sorted(spec.groups.items())),
                    tuple(tuple(fmt_value(r.hparams.get(k), HP_MAX) for k in spec.columns)
                          for r in rows))
        self.rows, self.spec = list(rows), spec
        if plan_key != self._plan_key:
            self._plan_key = plan_key
            self._plan(width)
            self._keys = keys
            self.virtual_size = Size(width, len(rows) + 1)
            runs = [r.run for r in rows]
            self.cursor_row = runs.index(current) if current in runs else min(
                self.cursor_row, max(0, len(rows) - 1))
            self.refresh()
            return
        for i, (a, b) in enumerate(zip(self._keys, keys)):
            if a != b:
                self._lines[i] = None
                self._refresh_row(i)
        self._keys = keys

    def _row_key(self, r: Row, spec: TableSpec) -> tuple:
        return (r.run, r.state, r.badge, r.last_step, r.last, r.best, r.smoothed_last,
                r.run in spec.hidden, spec.colours.get(r.run))

    def _plan(self, width: int) -> None:
        self.cells = plan_cells(self.rows, self.spec, width)
        name_w = self.cells[0].width - 1
        labels = [self.spec.labels.get(r.run, r.run) for r in self.rows]
        self._names = dict(zip((r.run for r in self.rows), fit_labels(labels, name_w)))
        self._lines = [None] * len(self.rows)

    def on_resize(self) -> None:
        self._plan_key = ()
        self.set_table(self.rows, self.spec)

    def _refresh_row(self, i: int) -> None:
        y = i + 1 - int(self.scroll_offset.y)
        if 0 <= y < self.size.height:
            self.refresh(Region(0, y, self.size.width, 1))

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if y == 0:
            return self._strip(header_text(self.cells, self.spec), width)
        i = y + int(self.scroll_offset.y) - 1
        if not 0 <= i < len(self.rows) or i >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        line = self._lines[i]
        if line is None:
            row = self.rows[i]
            text = row_text(row, self.cells, self.spec, self._names.get(row.run, row.run))
            if i == self.cursor_row:
                text.stylize(self.get_component_rich_style("table--cursor"))
            line = self._lines[i] = self._strip(text, width)
            self.lines_painted += 1
        return line

    def _strip(self, text: Text, width: int) -> Strip:
        style = self.rich_style
        segs = [Segment(s.text, style + s.style if s.style else style)
                for s in text.render(self.app.console) if not s.control]
        return Strip(segs).adjust_cell_length(width, style)

    # -- interaction -----------------------------------------------------------------
    def watch_cursor_row(self, old: int, new: int) -> None:
        for i in {old, new}:
            if 0 <= i < len(self._lines):
                self._lines[i] = None
                self._refresh_row(i)
        self.scroll_to_region(Region(0, new + 1, 1, 1), animate=False)
        self.post_message(self.Highlighted(self.current_run))

    def action_cursor(self, delta: int) -> None:
        self.cursor_row = max(0, min(self.cursor_row + delta, len(self.rows) - 1))
        self.post_message(self.Highlighted(self.current_run, by_user=True))

    def action_toggle(self) -> None:
        if self.current_run is not None:
            self.post_message(self.Toggled(self.current_run))

    def column_at(self, x: int) -> str | None:
        pos = 2
        for c in self.cells:
            if pos <= x < pos + c.width:
                return c.column
            pos += c.width
        return None

    def on_click(self, event: Click) -> None:
        if event.y == 0:
            col = self.column_at(event.x)
            if col not in (None, "badge", "group"):
                self.post_message(self.SortBy(col))
            return
        i = event.y + int(self.scroll_offset.y) - 1
        if 0 <= i < len(self.rows):
            self.cursor_row = i
            self.post_message(self.Highlighted(self.current_run, by_user=True))
            if event.x < 2 or event.chain >= 2:
                self.action_toggle()

    def on_mouse_move(self, event) -> None:
        """The full name of the run under the pointer, as a tooltip (lines show it shortened)."""
        i = event.y + int(self.scroll_offset.y) - 1
        rows = self.rows
        self.tooltip = (rows[i].run
                        if event.y > 0 and 0 <= i < len(rows) else None)
