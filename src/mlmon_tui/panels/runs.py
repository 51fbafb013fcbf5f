"""The runs list: one row per run. Only draws what the app hands it."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.widgets import DataTable

STATE_STYLE = {"live": "green", "idle": "yellow", "stalled": "yellow", "finished": "dim",
               "crashed": "red"}


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


class RunsPanel(DataTable):
    """Runs with their colour, last step, steps/s and state. `space` toggles a run."""

    DEFAULT_CSS = """
    RunsPanel { height: 1fr; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, **kwargs)
        self._rows: dict[str, RunRow] = {}
        self._order: list[str] = []

    def on_mount(self) -> None:
        self.add_column(" ", key="c", width=1)
        self.add_column("run", key="run")
        self.add_column("step", key="step")
        self.add_column("st/s", key="rate")
        self.add_column("state", key="state")
        self.add_column("!", key="h")

    def _cells(self, row: RunRow) -> list:
        dot = Text("●" if row.visible else "○", style=row.colour if row.visible else "dim")
        name = Text(row.name, style="" if row.visible else "dim")
        state = Text(row.state, style=STATE_STYLE.get(row.state, ""))
        return [dot, name, fmt_step(row.last_step), fmt_rate(row.rate), state,
                Text(row.badge[0], style=row.badge[1])]

    def set_rows(self, rows: list[RunRow]) -> None:
        """Show exactly these rows, in this order; touches only cells that changed."""
        names = [r.name for r in rows]
        if names != self._order:
            cursor = self.cursor_row
            self.clear()
            self._rows.clear()
            for r in rows:
                self.add_row(*self._cells(r), key=r.name)
                self._rows[r.name] = r
            self._order = names
            if rows:
                self.move_cursor(row=min(cursor, len(rows) - 1))
            return
        keys = ["c", "run", "step", "rate", "state", "h"]
        for r in rows:
            old = self._rows.get(r.name)
            if old == r:
                continue
            new_cells = self._cells(r)
            old_cells = self._cells(old) if old else [None] * len(keys)
            for key, a, b in zip(keys, old_cells, new_cells):
                if a != b:
                    self.update_cell(r.name, key, b)
            self._rows[r.name] = r

    @property
    def current_run(self) -> str | None:
        if not self._order or self.cursor_row < 0 or self.cursor_row >= len(self._order):
            return None
        return self._order[self.cursor_row]
