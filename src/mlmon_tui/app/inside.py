"""The Distributions screen (`i`): one percentile-band chart per (run, tag) of every
histogram, grouped by tag prefix like the scalar charts and filtered by the same `/` regex;
`enter` opens the histogram view of the focused one, where left / right move through steps."""

from __future__ import annotations

import re

import numpy as np
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from mlmon_tui.app.chart_grid import group_of
from mlmon_tui.app.screens import Prompt
from mlmon_tui.panels.distribution import DistributionChart, HistogramChart
from mlmon_tui.store.percentiles import PercentileCache, buckets_of

BACK_LAYERS = 8  # earlier steps drawn behind the current one


class DistributionsScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,i", "app.pop_screen", "Back"),
        Binding("slash", "filter", "Tags"),
        Binding("enter", "histogram", "Histogram"),
    ]
    DEFAULT_CSS = """
    DistributionsScreen #dists { height: 1fr; }
    DistributionsScreen .group-title { color: $text-muted; text-style: bold; }
    DistributionsScreen Grid { grid-gutter: 0 1; }
    """

    def __init__(self, store, tags_re: str | None = None, runs: list[str] | None = None) -> None:
        super().__init__()
        self.store = store
        self.tags_re = tags_re
        self.runs = runs  # None: every run
        self.cache = PercentileCache()
        self.charts: dict[tuple[str, str], DistributionChart] = {}
        self._keys: list = []
        self._version = -1

    def compose(self) -> ComposeResult:
        yield Static("", id="dist-title")
        yield VerticalScroll(id="dists")
        yield Footer()

    def on_mount(self) -> None:
        self.call_after_refresh(self.refresh_data)
        self.set_interval(1.0, self.refresh_data)

    def keys(self) -> list[tuple[str, str]]:
        keys = sorted(k for k, v in self.store.histograms.items() if v)
        if self.runs is not None:
            keys = [k for k in keys if k[0] in self.runs]
        if self.tags_re:
            try:
                pat = re.compile(self.tags_re)
                keys = [k for k in keys if pat.search(k[1])]
            except re.error:
                pass
        return keys

    def _columns(self) -> int:
        return 3 if self.size.width >= 180 else 2 if self.size.width >= 100 else 1

    async def refresh_data(self) -> None:
        keys = self.keys()
        layout = (keys, self._columns())
        if layout != self._keys:
            self._keys = layout
            await self._rebuild(keys)
            self._version = -1
        if self.store.version == self._version:
            return
        self._version = self.store.version
        for key, chart in self.charts.items():
            chart.set_data(*self.cache.get(self.store, key))
        filt = f"  tags /{self.tags_re}/" if self.tags_re else ""
        self.query_one("#dist-title", Static).update(
            f" Distributions: {len(keys)} histogram series{filt}   (enter: histogram, "
            "/ filter, escape back)")

    async def _rebuild(self, keys) -> None:
        box = self.query_one("#dists", VerticalScroll)
        await box.remove_children()
        self.charts = {}
        if not keys:
            await box.mount(Static("No histograms yet" + (" match the filter (press / to change"
                                   " it)." if self.tags_re else ".") + "\nTensorBoard "
                                   "add_histogram, the socket's histograms and "
                                   "integrations.torch.watch(activations=True) write them."))
            return
        groups: dict[str, list] = {}
        for key in keys:
            groups.setdefault(group_of(key[1]), []).append(key)
        cols, widgets = self._columns(), []
        height = 12 if self.size.height >= 40 else 9
        for group in sorted(groups, key=lambda g: (g == "", g)):
            title = f"{group}/" if group else "other"
            widgets.append(Static(f"▾ {title}  ({len(groups[group])})", classes="group-title"))
            charts = [DistributionChart(r, t) for r, t in groups[group]]
            self.charts.update(zip(groups[group], charts))
            grid = Grid(*charts)
            rows = (len(charts) + cols - 1) // cols
            grid.styles.grid_size_columns = cols
            grid.styles.grid_size_rows = rows
            grid.styles.grid_rows = str(height)
            grid.styles.height = rows * height
            widgets.append(grid)
        await box.mount_all(widgets)

    def action_filter(self) -> None:
        def done(value: str | None) -> None:
            if value is None:
                return
            try:
                re.compile(value)
            except re.error as e:
                self.notify(f"Bad regex: {e}", severity="error")
                return
            self.tags_re = value or None
            if hasattr(self.app, "tags_re"):
                self.app.tags_re = self.tags_re
            self.run_worker(self.refresh_data())

        self.app.push_screen(Prompt("Filter tags (regex, empty for all)", self.tags_re or ""),
                             done)

    def action_histogram(self) -> None:
        focused = self.focused
        chart = focused if isinstance(focused, DistributionChart) else next(
            iter(self.charts.values()), None)
        if chart is not None:
            self.app.push_screen(HistogramScreen(self.store, chart.run, chart.tag))


class HistogramScreen(Screen[None]):
    BINDINGS = [
        Binding("escape,enter", "app.pop_screen", "Back"),
        Binding("left", "move(-1)", "Earlier"),
        Binding("right", "move(1)", "Later"),
        Binding("home", "move(-1000000000)", "First", show=False),
        Binding("end", "move(1000000000)", "Latest", show=False),
    ]

    def __init__(self, store, run: str, tag: str) -> None:
        super().__init__()
        self.store, self.run, self.tag = store, run, tag
        self.index: int | None = None  # None: follow the latest step
        self.chart = HistogramChart(run, tag)

    def compose(self) -> ComposeResult:
        yield self.chart
        yield Footer()

    def on_mount(self) -> None:
        self.show()
        self.set_interval(1.0, self.show)

    def points(self) -> list:
        pts = list(self.store.histograms.get((self.run, self.tag), ()))
        return sorted(pts, key=lambda h: (h.step, h.wall))

    def action_move(self, delta: int) -> None:
        n = len(self.points())
        if not n:
            return
        i = (n - 1 if self.index is None else self.index) + delta
        i = max(0, min(n - 1, i))
        self.index = None if i == n - 1 else i
        self.show()

    def show(self) -> None:
        pts = self.points()
        if not pts:
            self.chart.set_layers([], "(no data)")
            return
        i = len(pts) - 1 if self.index is None else min(self.index, len(pts) - 1)
        back = np.unique(np.linspace(0, i, min(i, BACK_LAYERS) + 1).round().astype(int))
        layers = [(pts[k].step, buckets_of(pts[k])) for k in back]
        follow = "  (latest)" if self.index is None else ""
        self.chart.set_layers(layers, f"step {pts[i].step}  [{i + 1}/{len(pts)}]{follow}"
                                      "   ←/→ steps")
