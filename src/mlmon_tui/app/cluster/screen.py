"""Cluster screen (one line per node, its runs beneath) and a run's charts from range queries.

Queries run in worker threads; the screen only draws what they bring back. A failed query is
one line at the top, and the next refresh tries again."""

from __future__ import annotations

import time

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from mlmon_tui.panels.chart import Chart
from mlmon_tui.panels.cluster import node_text, run_text
from mlmon_tui.panels.palette import colour_for
from mlmon_tui.sources.remote.cluster import read_cluster, run_history
from mlmon_tui.sources.remote.prometheus import PromClient, PromError
from mlmon_tui.store import Store

REFRESH_SECONDS = 2.0
MAX_CHARTS = 12


class ClusterScreen(Screen[None]):
    DEFAULT_CSS = """
    ClusterScreen #cluster-status { height: 1; padding: 0 1; color: $text-muted; }
    ClusterScreen #cluster-status.error { color: $error; }
    ClusterScreen OptionList { height: 1fr; border: none; }
    """
    BINDINGS = [Binding("q", "app.quit", "Quit"), Binding("R", "refresh_now", "Refresh")]

    def __init__(self, client: PromClient, refresh: float = REFRESH_SECONDS) -> None:
        super().__init__()
        self.client = client
        self.refresh_seconds = refresh
        self.nodes: list = []
        self.error: str | None = None
        self.updated: float | None = None

    def compose(self) -> ComposeResult:
        yield Static(f"Prometheus {self.client.url}: reading…", id="cluster-status")
        yield OptionList(id="cluster-list")
        yield Footer()

    def on_mount(self) -> None:
        self.action_refresh_now()
        self.set_interval(self.refresh_seconds, self.action_refresh_now)

    def action_refresh_now(self) -> None:
        self.run_worker(self._read, thread=True, exclusive=True, group="cluster")

    def _read(self) -> None:
        try:
            nodes, error = read_cluster(self.client), None
        except PromError as e:
            nodes, error = None, str(e)
        self.app.call_from_thread(self._show, nodes, error)

    def _show(self, nodes, error: str | None) -> None:
        status = self.query_one("#cluster-status", Static)
        self.error = error
        if error is not None:
            status.update(Text(f"{error} (retrying every {self.refresh_seconds:g}s)"))
            status.add_class("error")
            return
        status.remove_class("error")
        self.nodes, self.updated = nodes, time.time()
        runs = sum(len(n.runs) for n in nodes)
        status.update(f"Prometheus {self.client.url}: {len(nodes)} nodes, {runs} runs, "
                      f"updated {time.strftime('%H:%M:%S')}  (enter: a run's charts)")
        ol = self.query_one(OptionList)
        keep = ol.highlighted_option.id if ol.highlighted_option is not None else None
        options: list[Option] = []
        width = max([len(r) for n in nodes for r in n.runs] + [8])
        for n in nodes:
            options.append(Option(node_text(n), id=f"node\0{n.instance}", disabled=True))
            for r in sorted(n.runs.values(), key=lambda r: r.run):
                options.append(Option(run_text(r, min(width, 32)), id=f"run\0{n.instance}\0{r.run}"))
        if not nodes:
            options.append(Option(Text("no mlmon, DCGM or node_exporter series yet", "dim"),
                                  disabled=True))
        ol.clear_options()
        ol.add_options(options)
        ids = [o.id for o in options]
        if keep in ids:
            ol.highlighted = ids.index(keep)
        elif any(o.id and o.id.startswith("run") for o in options):
            ol.highlighted = next(i for i, o in enumerate(options)
                                  if o.id and o.id.startswith("run"))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        oid = event.option.id or ""
        if oid.startswith("run\0"):
            _, instance, run = oid.split("\0", 2)
            self.app.push_screen(RunChartsScreen(self.client, instance, run))


class RunChartsScreen(Screen[None]):
    """A run's scalars over the last hour, charted from Prometheus range queries."""

    DEFAULT_CSS = """
    RunChartsScreen #run-status { height: 1; padding: 0 1; color: $text-muted; }
    RunChartsScreen #run-charts Chart { height: 12; }
    """
    BINDINGS = [Binding("escape", "app.pop_screen", "Back"), Binding("q", "app.quit", "Quit")]

    def __init__(self, client: PromClient, instance: str, run: str,
                 seconds: float = 3600.0) -> None:
        super().__init__()
        self.client, self.instance, self.run, self.seconds = client, instance, run, seconds
        self.store = Store()

    def compose(self) -> ComposeResult:
        yield Static(f"{self.run} on {self.instance}: reading…", id="run-status")
        yield VerticalScroll(id="run-charts")
        yield Footer()

    def on_mount(self) -> None:
        self.run_worker(self._read, thread=True, exclusive=True, group="run-charts")

    def _read(self) -> None:
        try:
            update, error = run_history(self.client, self.instance, self.run, self.seconds), None
        except PromError as e:
            update, error = None, str(e)
        self.app.call_from_thread(self._show, update, error)

    async def _show(self, update, error: str | None) -> None:
        status = self.query_one("#run-status", Static)
        if error is not None:
            status.update(Text(error, "red"))
            return
        self.store.apply(update, "prometheus")
        tags = self.store.tags(self.run)
        status.update(f"{self.run} on {self.instance}: {len(tags)} scalars over the last "
                      f"{self.seconds / 60:g} min, from Prometheus  (escape: back)")
        box = self.query_one("#run-charts", VerticalScroll)
        charts = []
        for tag in tags[:MAX_CHARTS]:
            c = Chart(self.store, tag)
            c.set_runs([(self.run, colour_for(0))])
            charts.append(c)
        if not charts:
            await box.mount(Static(Text("no scalars for this run in that window", "dim")))
            return
        await box.mount_all(charts)
        for c in charts:
            self.call_after_refresh(c.poll)
