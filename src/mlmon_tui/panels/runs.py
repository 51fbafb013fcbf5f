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
        super().__init__(cursor_type="row", zebra_stripes=False, cell_padding=0, **kwargs)
        self._rows: dict[str, RunRow] = {}
        self._order: list[str] = []
        self._width = 0
        self._keys: list[str] = []

    COLUMNS = {  # key: (label, width)
        "c": ("", 2), "run": ("run", 0), "step": ("  step ", 7), "rate": (" st/s ", 6),
        "state": (" state", 9), "h": ("", 2),
    }

    def on_resize(self) -> None:
        width = self.size.width
        if width and width != self._width:
            self._width = width
            self._set_columns()

    def _set_columns(self) -> None:
        wide = self._width >= 38
        keys = ["c", "run", "step", "rate", "state", "h"] if wide else ["c", "run", "step", "h"]
        fixed = sum(self.COLUMNS[k][1] for k in keys if k != "run")
        self._name_width = max(6, self._width - fixed - 1)
        self._keys = keys
        self.clear(columns=True)
        for k in keys:
            label, width = self.COLUMNS[k]
            self.add_column(label, key=k, width=width or self._name_width)
        rows = [self._rows[n] for n in self._order]
        self._order = []
        self.set_rows(rows)

    def _cells(self, row: RunRow) -> list:
        dot = Text("● " if row.visible else "○ ", style=row.colour if row.visible else "dim")
        name = row.name
        width = getattr(self, "_name_width", 20)
        if len(name) > width:
            name = "…" + name[-(width - 1):]
        cells = {
            "c": dot,
            "run": Text(name, style="" if row.visible else "dim"),
            "step": Text(f"{fmt_step(row.last_step):>6} "),
            "rate": Text(f"{fmt_rate(row.rate):>5} "),
            "state": Text(" " + row.state, style=STATE_STYLE.get(row.state, "")),
            "h": Text(" " + row.badge[0], style=row.badge[1]),
        }
        return [cells[k] for k in self._keys]

    def set_rows(self, rows: list[RunRow]) -> None:
        """Show exactly these rows, in this order; touches only cells that changed."""
        if not self._keys:
            self._rows = {r.name: r for r in rows}
            self._order = [r.name for r in rows]
            return
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
        keys = self._keys
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
