"""The health panel: every finding, newest first, with a severity filter; and the badge the
runs list shows per run. Draws only: findings come from the analysis, never from files."""

from __future__ import annotations

from typing import Iterable

from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from mlmon_tui.analysis.findings import Finding, severity_rank

FILTERS = ("all", "warning", "error")  # lowest severity shown
FILTER_LABEL = {"all": "all", "warning": "warnings and errors", "error": "errors only"}
STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
MARK = {"error": "✖", "warning": "▲", "info": "ℹ"}


def badge(findings_for_run: Iterable[Finding]) -> tuple[str, str]:
    """(text, style) for a run in the runs list: its worst severity and how many of those."""
    counts = {"error": 0, "warning": 0, "info": 0}
    for f in findings_for_run:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    for sev in ("error", "warning", "info"):
        if counts[sev]:
            return f"{MARK[sev]} {counts[sev]}", STYLE[sev]
    return "✓", "green"


def _newest_first(f: Finding):
    return (-(f.wall_time if f.wall_time is not None else float("-inf")), -severity_rank(f.severity))


def render_findings(findings: list[Finding], minimum: str = "all",
                    labels: dict[str, str] | None = None) -> Text:
    floor = 0 if minimum == "all" else severity_rank(minimum)
    shown = sorted((f for f in findings if severity_rank(f.severity) >= floor), key=_newest_first)
    text = Text(no_wrap=False, overflow="fold")
    if not shown:
        text.append("no findings" if not findings else f"no findings at this filter "
                    f"({len(findings)} hidden)", style="dim")
        return text
    for k, f in enumerate(shown):
        if k:
            text.append("\n")
        text.append(f"{MARK.get(f.severity, '?')} {f.severity:<7}", style=STYLE.get(f.severity, ""))
        where = f" step {f.step}" if f.step is not None else ""
        text.append(" · ", style="dim")
        run = ", ".join((labels or {}).get(r, r) for r in f.run.split(", "))
        text.append(run, style="bold")
        more = f" (+{len(f.tags) - 1} tags)" if len(f.tags) > 1 else ""
        text.append(f" {f.tag}{more}{where}", style="dim")
        text.append(f"  {f.message}")
    return text


class HealthPanel(VerticalScroll, can_focus=True):
    """Findings list. `set_findings()` replaces the list; `f` cycles the severity filter."""

    DEFAULT_CSS = """
    HealthPanel { height: 1fr; }
    HealthPanel > #health-title { color: $text-muted; }
    """
    BINDINGS = [Binding("f", "cycle_filter", "Filter severity")]

    minimum: reactive[str] = reactive("all")

    def __init__(self, *, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._findings: list[Finding] = []
        self._shown_key: tuple | None = None
        self._labels: dict[str, str] = {}

    def set_labels(self, labels: dict[str, str]) -> None:
        """Names to show for runs, told apart from each other (full names: details, check)."""
        if labels != self._labels:
            self._labels = dict(labels)
            self._redraw()

    def compose(self):
        yield Static(self._title(), id="health-title", markup=False)
        yield Static(render_findings([]), id="health-body", markup=False)

    def set_findings(self, findings: list[Finding]) -> None:
        self._findings = list(findings)
        self._redraw()

    def action_cycle_filter(self) -> None:
        self.minimum = FILTERS[(FILTERS.index(self.minimum) + 1) % len(FILTERS)]

    def watch_minimum(self) -> None:
        self._redraw()

    def _title(self) -> str:
        n = len(self._findings)
        return f"Health: {n} finding{'s' * (n != 1)} · showing {FILTER_LABEL[self.minimum]} (f)"

    def _redraw(self) -> None:
        if not self.is_mounted:
            return
        key = (self.minimum, tuple(sorted(self._labels.items())), tuple(f.key + (f.severity, f.message) for f in self._findings))
        if key == self._shown_key:
            return  # nothing changed: no repaint
        self._shown_key = key
        self.query_one("#health-title", Static).update(self._title())
        self.query_one("#health-body", Static).update(render_findings(self._findings, self.minimum,
                                                                      self._labels))

    def on_mount(self) -> None:
        self._redraw()
