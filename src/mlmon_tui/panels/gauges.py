"""Gauges panel: CPU, memory, disk and network, GPUs and each run's processes.

The widget only draws: `update_snapshot(snapshot)` turns the snapshot into lines of text
(`gauge_lines.build_lines`), compares them with what is on screen and refreshes only the rows
that changed (Textual repaints a refreshed region whole, so unchanged rows cost nothing). The
same snapshot twice draws nothing. In `compact` mode, or when the screen is shorter than
`compact_below` rows, everything fits on one line.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.text import Text
from textual.geometry import Region, Size
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from ..sources.sampler import Snapshot
from .gauge_lines import build_lines


class GaugesPanel(Widget):
    """Draws the latest `Snapshot`; give it new ones with `update_snapshot`."""

    DEFAULT_CSS = """
    GaugesPanel { height: auto; width: 1fr; }
    """

    compact: reactive[bool] = reactive(False, layout=True)

    def __init__(self, *, compact: bool = False, compact_below: int = 20, ascii: bool = False,
                 max_proc_lines: int = 12, stale_after: float = 5.0,
                 name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.set_reactive(GaugesPanel.compact, compact)
        self.compact_below = compact_below
        self.ascii = ascii
        self.max_proc_lines = max_proc_lines
        self.stale_after = stale_after
        self.snapshot: Snapshot | None = None
        self._lines: list[Text] = []
        self._strips: list[Strip] = []
        self._key: tuple = ()
        self.draws = 0  # how many times lines were rebuilt (for tests and benchmarks)

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
        self._rebuild(self.size.width)

    def _rebuild(self, width: int) -> bool:
        width = max(width, 1)
        compact = self.is_compact
        stale = self._stale()
        key = (None if self.snapshot is None else self.snapshot.seq, width, compact, stale, self.ascii)
        if key == self._key:
            return False
        self._key = key
        new = build_lines(self.snapshot, width, compact, self.ascii, self.max_proc_lines, stale)
        old = self._lines
        self._lines = new
        self._strips = [self._to_strip(t, width) for t in new]
        self.draws += 1
        if len(new) != len(old):
            self.refresh(layout=True)
        else:
            for y, (a, b) in enumerate(zip(old, new)):
                if a != b:
                    self.refresh(Region(0, y, width, 1))
        return True

    def _to_strip(self, text: Text, width: int) -> Strip:
        console: Console = self.app.console
        segs = list(text.render(console, end=""))
        return Strip(segs).adjust_cell_length(width)

    def watch_compact(self) -> None:
        self._rebuild(self.size.width)

    def on_resize(self) -> None:
        self._rebuild(self.size.width)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        if self.is_compact:
            return 1
        return len(build_lines(self.snapshot, max(width, 1), False, self.ascii, self.max_proc_lines))

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if self._key[1:2] != (width,):
            self._rebuild(width)
        if 0 <= y < len(self._strips):
            return self._strips[y].apply_style(self.rich_style)
        return Strip.blank(width, self.rich_style)

    def plain_lines(self) -> list[str]:
        """The text on screen, one string per row (for tests and the probe script)."""
        return [t.plain for t in self._lines]
