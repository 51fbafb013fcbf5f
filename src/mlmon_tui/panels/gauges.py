"""Gauges panel: CPU, memory, disk and network, GPUs and each run's processes.

The widget only draws: `update_snapshot(snapshot)` turns the snapshot into lines of text
(`gauge_lines.build_lines`) and hands each line, cut into narrow cells, to small child
widgets; a cell whose text did not change is not refreshed, and of one that did only the
cells that differ from the screen are repainted (`linediff`: the line is cut into segments
at the changed span, as Textual resends whole segments; see benchmarks/gauges_bytes.py). The same snapshot twice draws nothing. In
`compact` mode, or when the screen is shorter than `compact_below` rows, everything fits on
one line.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.geometry import Region
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from ..records.system import Snapshot
from .gauge_lines import build_lines
from .kept_style import KeptStyle
from .linediff import diff

CELL_WIDTH = 0  # 0: one cell per row; 16: fewer bytes, more CPU (see gauges_bytes.py)
SHRINK_AFTER = 10  # rebuilds with fewer lines before the panel gives rows back


def _cells(text: Text) -> list[tuple[str, tuple]] | None:
    """(character, styles) per cell, or None where characters are not one cell wide."""
    plain = text.plain
    if text.cell_len != len(plain):
        return None
    styles: list[tuple] = [()] * len(plain)
    for span in text.spans:
        for i in range(span.start, min(span.end, len(plain))):
            styles[i] = styles[i] + (span.style,)
    return list(zip(plain, styles))


def last_change(old: Text, new: Text, width: int) -> int | None:
    """One past the last cell where two lines differ (None: cannot tell, redraw all)."""
    a, b = _cells(old), _cells(new)
    if a is None or b is None or width <= 0:
        return None
    blank = (" ", ())
    a += [blank] * (width - len(a))
    b += [blank] * (width - len(b))
    for x in range(width - 1, -1, -1):
        if a[x] != b[x]:
            return x + 1
    return 0


class _Cell(KeptStyle, Widget):
    """A few columns of one row; draws its text and nothing else."""

    DEFAULT_CSS = "_Cell { height: 1; }"

    def __init__(self, width: int) -> None:
        super().__init__()
        self.styles.width = width
        self.text = Text()
        self._strip: Strip | None = None
        self._style = None  # the widget style `_strip` was drawn with

    def set(self, text: Text, style=None) -> bool:
        """`style`: this cell's `base_style` when the caller knows it."""
        if text == self.text:
            return False
        self.text = text
        old, width = self._strip, self.size.width
        if style is None:
            style = self.base_style
        if old is None or old.cell_length != width or self._style != style:
            self._strip = None
            self.refresh()
            return True
        # only the cells that differ from the screen are repainted and resent
        self._strip, spans = diff(old, self._render(width, style))
        for x1, x2 in spans:
            self.refresh(Region(x1, 0, x2 - x1, 1))
        return True

    def _render(self, width: int, style=None) -> Strip:
        segs = list(self.text.render(self.app.console, end=""))
        self._style = style = self.base_style if style is None else style
        return Strip(segs).adjust_cell_length(width).apply_style(style)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self._strip is None or self._strip.cell_length != width or self._style != self.base_style:
            self._strip = self._render(width)
        return self._strip if y == 0 else Strip.blank(width, self.base_style)


class _Row(Widget):
    DEFAULT_CSS = "_Row { layout: horizontal; height: 1; width: 1fr; }"

    def __init__(self, width: int, cell_width: int) -> None:
        super().__init__()
        cw = cell_width if cell_width > 0 else width
        n = max(1, -(-width // cw))
        self.cuts = [k * cw for k in range(1, n)]
        self.cells = [_Cell(min(cw, width - k * cw)) for k in range(n)]

    def compose(self):
        yield from self.cells

    def set(self, text: Text, style=None) -> int:
        """Show this line; return how many cells changed. `style`: the cells' `base_style`
        (all cells are styled alike), when the caller knows it."""
        pieces = text.divide(self.cuts) if text.cell_len == len(text.plain) else [text]
        changed = 0
        for k, cell in enumerate(self.cells):
            changed += cell.set(pieces[k] if k < len(pieces) else Text(), style)
        return changed


class GaugesPanel(Widget):
    """Draws the latest `Snapshot`; give it new ones with `update_snapshot`.

    `cell_width` trades terminal bytes for CPU: each frame Textual re-renders every cell in
    the changed area, so narrower cells send fewer bytes but cost more CPU per frame.
    """

    DEFAULT_CSS = """
    GaugesPanel { layout: vertical; height: auto; width: 1fr; }
    """

    compact: reactive[bool] = reactive(False)

    def __init__(self, *, compact: bool = False, compact_below: int = 20, ascii: bool = False,
                 max_proc_lines: int = 12, stale_after: float = 5.0, cell_width: int = CELL_WIDTH,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.set_reactive(GaugesPanel.compact, compact)
        self.compact_below = compact_below
        self.ascii = ascii
        self.max_proc_lines = max_proc_lines
        self.stale_after = stale_after
        self.cell_width = cell_width  # 0: one cell per row (less CPU, more terminal bytes)
        self.snapshot: Snapshot | None = None
        self._lines: list[Text] = []
        self._rows: list[_Row] = []
        self._key: tuple = ()
        self._width = 0
        self._shorter = 0  # rebuilds in a row with fewer lines than rows
        self._shape: tuple = ()
        self.draws = 0  # how many times lines were rebuilt (for tests and benchmarks)
        self.cells_refreshed = 0

    @property
    def is_compact(self) -> bool:
        return self.compact or (self.app.size.height < self.compact_below)

    def _stale(self) -> float:
        s = self.snapshot
        if s is None:
            return 0.0
        age = time.monotonic() - s.mono
        return round(age) if age > self.stale_after else 0.0

    def update_snapshot(self, snapshot: Snapshot | None) -> None:
        """Show this snapshot; does nothing when it is the one already drawn."""
        self.snapshot = snapshot
        if self.is_mounted and self.display:
            self._rebuild(self.size.width)

    def _rebuild(self, width: int) -> bool:
        if width <= 0:
            return False
        compact = self.is_compact
        stale = self._stale()
        key = (None if self.snapshot is None else self.snapshot.seq, width, compact, stale, self.ascii)
        if key == self._key:
            return False
        self._key = key
        lines = build_lines(self.snapshot, width, compact, self.ascii, self.max_proc_lines, stale)
        self._lines = lines
        self.draws += 1
        with self.app.batch_update():
            if width != self._width:
                self._width = width
                if self._rows:
                    self.remove_children()
                self._rows = []
            shown = lines
            if len(self._rows) > len(lines):  # (a new width or compact mode: at once)
                # a line that comes and goes (a process seen one second, not the next) would
                # mount and remove a row each time, and each time lay out and repaint the
                # whole screen: the rows stay, blank, until the panel stayed shorter a while
                self._shorter += 1
                if self._shorter >= SHRINK_AFTER or (width, compact) != self._shape:
                    extra, self._rows = self._rows[len(lines):], self._rows[: len(lines)]
                    for row in extra:
                        row.remove()
                else:
                    shown = lines + [Text()] * (len(self._rows) - len(lines))
            else:
                self._shorter = 0
            new = [_Row(width, self.cell_width) for _ in range(len(lines) - len(self._rows))]
            self._rows += new
            # every cell has the same style: ask once
            style = (self._rows[0].cells[0].base_style
                     if self._rows and self._rows[0].cells and self._rows[0].cells[0].is_mounted
                     else None)
            for row, line in zip(self._rows, shown):
                self.cells_refreshed += row.set(line, style if row.is_mounted else None)
            self._shape = (width, compact)
            if new:
                self.mount(*new)
        return True

    def on_mount(self) -> None:
        # the screen's height decides compact mode: follow its resizes too
        self.screen.screen_layout_refresh_signal.subscribe(self, self._on_layout)
        self._rebuild(self.size.width)

    def _on_layout(self, _screen) -> None:
        self._rebuild(self.size.width)

    def watch_compact(self) -> None:
        if self.is_mounted:
            self._rebuild(self.size.width)

    def on_resize(self) -> None:
        self._rebuild(self.size.width)

    def on_show(self) -> None:
        self._rebuild(self.size.width)

    def plain_lines(self) -> list[str]:
        """The lines as drawn, one string per row (for tests and the probe script)."""
        return [t.plain for t in self._lines]
