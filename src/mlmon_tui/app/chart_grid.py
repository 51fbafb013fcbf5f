"""The charts area of the monitor: one chart per tag, grouped by tag prefix, laid out in a
grid that uses the terminal's room. A mixin of `MonitorApp`, kept apart to be read alone."""

from __future__ import annotations

import re

from textual.containers import Grid, VerticalScroll
from textual.widgets import Static

from mlmon_tui.panels.chart import Chart
from mlmon_tui.panels.health import HealthPanel


NARROW = 70  # below this many columns the runs list gives its room to the charts


def group_of(tag: str) -> str:
    return tag.split("/", 1)[0] if "/" in tag else ""


class ChartGrid:
    def _tags(self) -> list[str]:
        runs = {r for r, _ in self.visible_runs()}
        tags = sorted({t for r, t in self.store.keys() if r in runs})
        if self.tags_re:
            try:
                pat = re.compile(self.tags_re)
                tags = [t for t in tags if pat.search(t)]
            except re.error:
                pass
        return tags

    def _side_width(self) -> int:
        """The runs list's width; 0 in a narrow pane, where the charts (whose legends name
        the runs) get the whole width."""
        w = self.size.width
        return 0 if w < NARROW else 30 if w < 100 else 44 if w < 170 else 50

    def _columns(self) -> int:
        width = self.size.width - self._side_width()
        return 3 if width >= 150 else 2 if width >= 90 else 1

    def _update_layout(self) -> None:
        tags = self._tags()
        key = (tuple(tags), self._columns())
        if key != self._layout_key:
            self._layout_key = key
            self._rebuild(tags)
        for tag, chart in self._charts.items():
            chart.set_runs(self._runs_with(tag))
            chart.set_labels(self.labels)
            chart.set_highlight(self.highlighted())

    def _rebuild(self, tags: list[str]) -> None:
        self._want_tags = tags
        if not self._rebuilding:
            self._rebuilding = True
            self.run_worker(self._rebuild_serial(), group="rebuild")

    async def _rebuild_serial(self) -> None:
        """Replace the charts; one rebuild at a time, each on a settled tree, so removals
        and mounts never interleave. Repeats while the wanted tags kept changing."""
        try:
            while True:
                tags = self._want_tags
                box = self._main.query_one("#charts", VerticalScroll)
                await box.remove_children()
                self._charts = {}
                widgets = self._chart_widgets(tags)
                await box.mount_all(widgets)
                if tags == self._want_tags:
                    break
        finally:
            self._rebuilding = False
        self.call_after_refresh(self._after_rebuild)

    def _chart_widgets(self, tags: list[str]) -> list:
        if not tags:
            msg = ("Waiting for data..." if not self.store.runs()
                   else "No tag matches the filter (press / to change it).")
            return [Static(f"{msg}\nWatching: {', '.join(self.paths)}", id="empty")]
        groups: dict[str, list[str]] = {}
        for tag in tags:
            groups.setdefault(group_of(tag), []).append(tag)
        cols = self._columns()
        n_rows = sum((len(g) + cols - 1) // cols for g in groups.values())
        height = self._chart_height(n_rows, len(groups))
        widgets = []
        for group in sorted(groups, key=lambda g: (g == "", g)):
            title = f"{group}/" if group else "other"
            widgets.append(Static(f"▾ {title}  ({len(groups[group])})", classes="group-title"))
            charts = []
            for tag in groups[group]:
                chart = Chart(self.chart_store, tag)
                chart.can_focus = True
                chart.set_options(self.options)
                chart.set_runs(self._runs_with(tag))
                chart.set_labels(self.labels)
                chart.set_markers(self._markers_for(tag))
                self._charts[tag] = chart
                charts.append(chart)
            grid = Grid(*charts, classes="group")
            grid.styles.grid_size_columns = cols
            rows = (len(charts) + cols - 1) // cols
            grid.styles.grid_size_rows = rows
            grid.styles.grid_rows = str(height)
            grid.styles.height = rows * height
            widgets.append(grid)
        return widgets

    def _after_rebuild(self) -> None:
        for chart in self._charts.values():
            chart.poll()

    def _runs_with(self, tag: str) -> list[tuple[str, str]]:
        """Visible runs (or groups) that have this tag, with their colours (a legend lists no
        strangers)."""
        return self.chart_runs(tag)

    def _chart_height(self, n_rows: int = 0, n_groups: int = 0) -> int:
        """Charts fill the area when they fit; otherwise a readable height and scrolling."""
        h = self.size.height
        least = 9 if h < 30 else 12 if h < 50 else 14
        health = self._main.query_one(HealthPanel)
        room = h - 2 - (health.styles.height.value if health.display and health.styles.height
                        else 0) - n_groups
        if n_rows:
            return max(least, min(3 * least, room // n_rows))
        return least
