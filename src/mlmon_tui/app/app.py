"""The monitor: runs list, charts grouped by tag prefix, gauges and health, live."""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
import time

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from rich.text import Text
from textual.widgets import Footer, Static

from mlmon_tui.analysis.runstate import LIVE_SECONDS, run_state  # noqa: F401
from mlmon_tui.app.alerts import AlertOptions
from mlmon_tui.app.color_mode import effective, textual_colors
from mlmon_tui.app.screens import ChartScreen, DiagnosticsScreen, HelpScreen, Prompt
from mlmon_tui.analysis.names import distinct_labels
from mlmon_tui.panels.braille import unicode_ok
from mlmon_tui.panels.chart import Chart, ChartOptions
from mlmon_tui.panels.palette import colour_for
from mlmon_tui.panels.runs import RunRow, RunsPanel
from mlmon_tui.app import spans
from mlmon_tui.panels.runs_table import RunsTable
from mlmon_tui.app.sweep_view import SWEEP_BINDINGS, SWEEP_HELP, SweepView
from mlmon_tui.app.chart_grid import ChartGrid
from mlmon_tui.app.services import Services
from mlmon_tui.app.texts import details_text, diagnostics_text
from mlmon_tui.panels.gauges import GaugesPanel
from mlmon_tui.panels.health import HealthPanel, badge as health_badge
from mlmon_tui.store import Store

SMOOTHING_STEPS = (0.0, 0.6, 0.8, 0.9, 0.95, 0.99)
X_MODES = ("step", "relative", "wall")
SETTLE_SECONDS = 0.15
# New data redraws the grid's charts at most this often; the runs list (steps), the gauges
# and a full-screen chart follow every frame. A live chart gains a fraction of a dot column
# a second: drawing it every second cost the monitor as much as everything else together.
CHART_SECONDS = 2.0


class DataChanged(Message):
    """Posted from the watcher thread; coalesced in the queue."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DataChanged)


def _quiet_when_closing(method):
    """Timers may fire while the app closes, after its widgets are gone: do nothing then."""

    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except NoMatches:
            return None

    return wrapper


class MonitorApp(SweepView, ChartGrid, App[None]):
    TITLE = "mlmon-tui"
    CSS = """
    Screen { layout: vertical; }
    #main { height: 1fr; }
    #side { width: 34; min-width: 24; max-width: 45%; border-right: tall $panel; }
    #status { height: 1; color: $text-muted; padding: 0 1; }
    #right { width: 1fr; }
    #charts { height: 1fr; }
    #health { height: 3; border-top: tall $panel; padding: 0 1; }
    #details { height: auto; max-height: 8; padding: 0 1; color: $text-muted;
               border-top: tall $panel; }
    .group-title { height: 1; background: $boost; color: $accent; padding: 0 1; text-style: bold; }
    .group { height: auto; grid-gutter: 0 1; }
    #empty { padding: 1 2; color: $text-muted; }
    """
    BINDINGS = [
        Binding("q", "quit", "Quit"),
        Binding("slash", "filter_tags", "Tags"),
        Binding("r", "filter_runs", "Runs"),
        Binding("space", "toggle_run", "Show/hide"),
        Binding("s", "smoothing", "Smooth"),
        Binding("l", "log_scale", "Log"),
        Binding("x", "x_axis", "X axis"),
        Binding("enter", "full_screen", "Full"),
        Binding("g", "toggle_gauges", "Gauges"),
        Binding("h", "toggle_health", "Health"),
        Binding("i", "distributions", "Distrib", show=False),
        Binding("d", "diagnostics", "Diag", show=False),
        Binding("c", "classification", "Classes", show=False),
        Binding("question_mark", "help", "Help"),
    ] + SWEEP_BINDINGS
    HELP = [
        ("q", "quit"),
        ("/", "filter tags by regex (empty shows all)"),
        ("r", "filter runs by regex"),
        ("space", "show or hide the run under the cursor"),
        ("s", "cycle the smoothing weight (0, .6, .8, .9, .95, .99)"),
        ("l", "log scale on or off"),
        ("x", "x axis: step / relative time / wall time"),
        ("enter", "open the focused chart full screen"),
        ("escape", "back"),
        ("g", "show or hide the CPU / memory / GPU gauges"),
        ("h", "show or hide the health findings (f in the list: severity filter)"),
        ("i", "distributions of histograms (enter: the histogram, left/right: steps)"),
        ("d", "diagnostics: file watching, the metrics socket's counters, input problems"),
        ("c", "classification: ROC / PR curves and confusion matrix of the run"),
        ("tab", "move between the runs list and the charts"),
        *SWEEP_HELP,
        ("?", "this help"),
    ]

    def __init__(
        self,
        paths: list[str],
        *,
        poll: bool = False,
        runs_re: str | None = None,
        tags_re: str | None = None,
        smoothing: float = 0.6,
        x_mode: str = "step",
        refresh: float = 1.0,
        clock=time.time,
        watch: bool = True,
        gpu: bool = True,
        interval: float = 1.0,
        listen: str | None = "default",
        allow_remote: bool = False,
        config=None,
        bell: bool = True,
        ascii: bool = False,
        alerts: AlertOptions | None = None,
        group_by: str | None = None,
        color: str = "auto",
    ) -> None:
        with textual_colors(color):
            super().__init__()
        self._color_choice = color
        self.color_mode = effective(color, self)
        self.paths = paths
        self.store = Store()
        self.services = Services(paths, self.store, poll=poll, gpu=gpu, interval=interval,
                                 listen=listen if watch else None, allow_remote=allow_remote,
                                 config=config, on_data=self._on_data, clock=clock,
                                 alerts=replace(alerts or AlertOptions(), bell=bell))
        self.watcher = self.services.watcher
        self.watch_live = watch
        self.use_bell = bell
        self._gauges_version = -1
        self._findings_version = -1
        self.runs_re = runs_re
        self.tags_re = tags_re
        self.options = ChartOptions(
            smoothing=smoothing, x_mode=x_mode, ascii=ascii or not unicode_ok(),
            color=self.color_mode != "none")
        self.refresh_seconds = refresh
        self.clock = clock
        self.hidden: set[str] = set()
        self._colours: dict[str, str] = {}
        self.labels: dict[str, str] = {}  # run -> its name told apart from the shown runs'
        self._layout_key: tuple = ()
        self._charts: dict[str, Chart] = {}
        self._seen_version = -1
        self._last_draw = 0.0
        self._pending = False
        self._charts_drawn = 0.0  # time.monotonic() of the last redraw of the grid's charts
        self._chart_catch_up = None  # the loop's timer handle for charts left behind
        self._rebuilding = False
        self._want_tags: list[str] = []
        self._status_text = ""
        self._health_hidden = False  # the user hid the health panel
        self._health_forced = False  # the user showed it
        self._rates: dict[str, float | None] = {}
        self._details_key: tuple = ()
        self._init_sweep(group_by)
        self._tick_key: tuple = ()
        self._next_clock_change = 0.0  # when a run's state next changes with the clock alone

    def get_driver_class(self):
        """Textual's driver, with an input thread that sleeps while no key comes."""
        from mlmon_tui.app.quiet_driver import quiet

        return quiet(super().get_driver_class())

    # -- layout ----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal(id="main"):
            with Vertical(id="side"):
                yield RunsPanel(id="runs")
                table = RunsTable(id="table")
                table.display = False  # shown by the sweep view (t, or a wide screen)
                yield table
                yield Static("", id="details")
                yield GaugesPanel(id="gauges")
            with Vertical(id="right"):
                yield VerticalScroll(id="charts")
                yield HealthPanel(id="health")
        yield Static("", id="status")
        yield Footer(show_command_palette=False)  # docked over the last keys in a narrow pane

    @property
    def _main(self):
        """The monitor's own screen (queries must not go to a help or full-screen chart)."""
        return self.screen_stack[0] if self.screen_stack else self.screen

    def on_mount(self) -> None:
        spans.install()  # partial updates send the dirty span, not the line from its widget's edge
        if self.is_headless and self._color_choice == "auto" and self.color_mode != "none":
            self.color_mode = "truecolor"  # screenshots and tests: no terminal to ask
        self.services.start(live=self.watch_live)
        if not self.watch_live:
            self._main.query_one(GaugesPanel).display = False
        self._tick_timer = self.set_interval(1.0, self._tick)
        self.call_after_refresh(self._update)

    def on_unmount(self) -> None:
        if self._chart_catch_up is not None:
            self._chart_catch_up.cancel()
        self.services.stop()

    # -- data flow -------------------------------------------------------------------
    def _on_data(self) -> None:  # watcher thread
        try:
            self.post_message(DataChanged())
        except Exception:
            pass

    def on_data_changed(self, _: DataChanged) -> None:
        """Draw a moment after new data, not at once: writers flush their runs one after
        another, and what arrives within SETTLE_SECONDS is drawn in one frame, not two."""
        if not self._pending:
            self._pending = True
            wait = self._last_draw + self.refresh_seconds - time.monotonic()
            # the loop's own timer: a Textual timer is a task of its own, started for
            # every frame (a millisecond of CPU each time)
            asyncio.get_running_loop().call_later(max(SETTLE_SECONDS, wait), self._deferred_update)

    def _deferred_update(self) -> None:
        self._pending = False
        if self._update_from_loop(live=True):
            # the frame just drawn took the gauges' new sample: the tick waits a whole
            # second from here, so live data and gauges share one frame (one compositor
            # pass, one write)
            self._tick_timer.reset()

    def _update_from_loop(self, live: bool = False) -> bool:
        """`_update` from the loop's own timer (no Textual timer around it): nothing once
        the app is closing, and an error shown and the app closed as a Textual timer would.
        True when a frame was drawn."""
        if not self.is_running or not self.screen_stack:
            return False
        try:
            self._update(live=live)
        except Exception as e:
            self._handle_exception(e)
            return False
        return True

    @_quiet_when_closing
    def _tick(self) -> None:
        """Once a second: new gauges; run states move with the clock even without data, but
        only at known times (a run's last point getting old, the health monitor's verdict),
        so an idle monitor looks at nothing else."""
        if self.store.version != self._seen_version:
            self._update(live=True)  # gauges, runs and status included
            return
        self._update_gauges()
        health = self.services.health
        key = (self.services.findings_version, tuple(health.run_states.copy().items()),
               len(self.store.problems), self.watcher.mode)
        if key != self._tick_key or self.clock() >= self._next_clock_change:
            self._tick_key = key
            self._update_runs()
            self._update_status()

    @_quiet_when_closing
    def _update(self, live: bool = False) -> None:
        """Bring everything up to date in one frame. `live`: drawn because new data came;
        then the grid's charts are redrawn at most every CHART_SECONDS (the runs list, the
        gauges and a full-screen chart every time)."""
        with self.batch_update():  # one frame for the whole update
            self._update_all(live)

    def _catch_up_charts(self) -> None:
        self._chart_catch_up = None
        self._update_from_loop()

    def _update_all(self, live: bool = False) -> None:
        self._last_draw = time.monotonic()
        self._seen_version = self.store.version
        self._update_gauges()
        self._update_runs()
        self._update_layout()
        self._update_findings()
        self._update_details()
        now = time.monotonic()
        if not live or now - self._charts_drawn >= CHART_SECONDS - SETTLE_SECONDS:
            self._charts_drawn = now
            if self._chart_catch_up is not None:
                self._chart_catch_up.cancel()
                self._chart_catch_up = None
            for chart in self._charts.values():
                chart.poll()
        elif self._chart_catch_up is None:
            # the next live frame normally comes first; this draws the last data when the
            # runs stop writing
            self._chart_catch_up = asyncio.get_running_loop().call_later(
                self._charts_drawn + CHART_SECONDS + 1.0 - now, self._catch_up_charts)
        if isinstance(self.screen, ChartScreen):
            self.screen._chart.poll()
        self._update_status()

    def _update_gauges(self) -> None:
        sampler = self.services.sampler
        if sampler is None or sampler.version == self._gauges_version:
            return
        self._gauges_version = sampler.version
        panel = self._main.query_one(GaugesPanel)
        if panel.display:
            panel.update_snapshot(sampler.latest)

    def _update_findings(self) -> None:
        sv = self.services
        if sv.findings_version == self._findings_version:
            return
        self._findings_version = sv.findings_version
        findings = sv.findings
        for tag, chart in self._charts.items():
            chart.set_markers(self._markers_for(tag))
        self._main.query_one(HealthPanel).set_findings(findings)
        out = sv.alerter.terminal_output()  # bell and desktop notification on a new error
        if out and not self.is_headless and self._driver is not None:
            self._driver.write(out)

    def _markers_for(self, tag: str) -> list[tuple[str, int, str]]:
        """(run, onset step, severity) of the findings on `tag`, for its chart."""
        return [(f.run, f.step, f.severity) for f in self.services.findings
                if tag in f.tags and f.step is not None]

    def findings_for(self, run: str) -> list:
        return [f for f in self.services.findings if f.run == run or run in f.run.split(", ")]

    def badge(self, run: str) -> tuple[str, str]:
        found = self.findings_for(run)
        return health_badge(found) if found else ("", "")

    def _update_details(self) -> None:
        """The selected run: what feeds it, its hyper-parameters and overfitting figures."""
        run = self.cursor_run()
        box = self._main.query_one("#details", Static)
        if run is None or self.size.height < 30:
            box.display = False
            return
        text = details_text(run, self.store.run_info(run), self.findings_for(run))
        key = (text.plain, self.services.findings_version)
        if key != self._details_key:
            self._details_key = key
            box.update(text)
        box.display = True

    def on_runs_panel_highlighted(self, event: RunsPanel.Highlighted) -> None:
        if not self.screen_stack:  # posted by a refresh just before the app closed
            return
        self._set_highlight(event.run, event.by_user)
        self._update_details()

    # -- runs ------------------------------------------------------------------------
    def _run_matches(self, run: str) -> bool:
        if not self.runs_re:
            return True
        try:
            pat = re.compile(self.runs_re)
        except re.error:
            return True
        return pat.search(run) is not None or self.hparams_match(run, pat)

    def colour(self, run: str) -> str:
        c = self._colours.get(run)
        if c is None:
            c = self._colours[run] = colour_for(len(self._colours), self.color_mode)
        return c

    def run_state(self, run: str) -> str:
        return run_state(self.services.health.run_state(run), self.store.run_info(run).last_wall,
                         self.clock())

    def _shown_runs(self) -> list[str]:
        return self._sweep_filter([r for r in self.store.runs() if self._run_matches(r)])

    def _update_runs(self) -> None:
        rows = []
        now, nxt = self.clock(), float("inf")
        with self.store.lock:
            shown = self._shown_runs()
            self.labels = distinct_labels(shown)
            self._update_groups(shown)
            for run in shown:
                info = self.store.run_info(run)
                if info.last_wall is not None and info.last_wall + LIVE_SECONDS > now:
                    nxt = min(nxt, info.last_wall + LIVE_SECONDS)
                rows.append(RunRow(
                    name=run, colour=self.run_colour(run), visible=run not in self.hidden,
                    kind=",".join(sorted(info.kinds)), last_step=info.last_step,
                    rate=self._steady_rate(run), state=self.run_state(run),
                    badge=self.badge(run), label=self.labels[run],
                ))
        self._next_clock_change = nxt
        self._main.query_one(RunsPanel).set_rows(rows)
        self._main.query_one(HealthPanel).set_labels(self.labels)
        self._update_sweep(shown)

    def _steady_rate(self, run: str) -> float | None:
        """Steps/s as shown: a new estimate replaces the shown one only when it moved by more
        than 5 % (the estimate jitters with write timing; a jittering digit repaints)."""
        rate = self.store.steps_per_second(run)
        shown = self._rates.get(run)
        if rate is None or shown is None or abs(rate - shown) > 0.05 * abs(shown):
            self._rates[run] = rate
            return rate
        return shown

    def visible_runs(self) -> list[tuple[str, str]]:
        return [(r, self.colour(r)) for r in self._shown_runs() if r not in self.hidden]

    def on_resize(self, _) -> None:
        side, width = self._main.query_one("#side"), self._side_width()
        side.display = width > 0
        if width:
            side.styles.width = width
        self._size_health()
        self._layout_key = ()
        self.call_after_refresh(self._update)

    def _apply_options(self) -> None:
        for chart in self._charts.values():
            chart.set_options(self.options)
            chart.poll()
        if isinstance(self.screen, ChartScreen):
            self.screen._chart.set_options(self.options)
            self.screen._chart.poll()
        self._update_status()

    # -- status line -------------------------------------------------------------------
    def _update_status(self) -> None:
        o = self.options
        problems = len(self.store.problems)
        parts = [
            f"{len(self.store.runs())} runs",
            f"smoothing {o.smoothing:g}",
            f"x: {o.x_mode}",
            "log" if o.log_y else "linear",
            self.watcher.mode,
        ]
        found = self.services.findings
        n_err = sum(1 for f in found if f.severity == "error")
        n_warn = sum(1 for f in found if f.severity == "warning")
        parts.append(f"health: {n_err} errors, {n_warn} warnings" if found else "health: ok")
        if self.tags_re:
            parts.append(f"tags /{self.tags_re}/")
        if self.runs_re:
            parts.append(f"runs /{self.runs_re}/")
        parts += self.sweep_status()
        if problems:
            parts.append(f"{problems} input problem{'s' if problems > 1 else ''} (d shows them)")
        text = " · ".join(parts)
        if text != self._status_text:  # an unchanged line costs no terminal bytes
            self._status_text = text
            self._main.query_one("#status", Static).update(text)

    # -- actions ---------------------------------------------------------------------
    def action_filter_tags(self) -> None:
        self._prompt_filter("tags_re", "Filter tags (regex, empty for all)")

    def action_filter_runs(self) -> None:
        self._prompt_filter("runs_re", "Filter runs (regex, empty for all)")

    def _prompt_filter(self, attr: str, title: str) -> None:
        """Ask for a regex and set it as `attr`; a bad one is refused and the old one kept."""
        def done(value: str | None) -> None:
            if value is None or (value and not self._valid(value)):
                return
            setattr(self, attr, value or None)
            self._update()

        self.push_screen(Prompt(title, getattr(self, attr) or ""), done)

    def _valid(self, pattern: str) -> bool:
        try:
            re.compile(pattern)
            return True
        except re.error as e:
            self.notify(f"Bad regex: {e}", severity="error")
            return False

    def action_toggle_run(self) -> None:
        run = self.cursor_run()
        if run is not None:
            self._toggle(run)

    def on_runs_panel_toggled(self, event: RunsPanel.Toggled) -> None:
        self._toggle(event.run)

    def _toggle(self, run: str) -> None:
        """Show or hide one run."""
        self.hidden.symmetric_difference_update({run})
        self._update()

    def action_smoothing(self) -> None:
        cur = self.options.smoothing
        nxt = next((s for s in SMOOTHING_STEPS if s > cur + 1e-9), SMOOTHING_STEPS[0])
        self.options = replace(self.options, smoothing=nxt)
        self._apply_options()

    def action_log_scale(self) -> None:
        self.options = replace(self.options, log_y=not self.options.log_y)
        self._apply_options()

    def action_x_axis(self) -> None:
        i = X_MODES.index(self.options.x_mode) if self.options.x_mode in X_MODES else 0
        self.options = replace(self.options, x_mode=X_MODES[(i + 1) % len(X_MODES)])
        self._apply_options()

    def action_full_screen(self) -> None:
        if isinstance(self.screen, ChartScreen):
            return
        focused = self.focused
        tag = focused.tag if isinstance(focused, Chart) else next(iter(self._charts), None)
        if tag is None:
            return
        chart = Chart(self.chart_store, tag)
        chart.set_options(self.options)
        chart.set_runs(self._runs_with(tag))
        chart.set_labels(self.labels)
        chart.set_markers(self._markers_for(tag))
        self.push_screen(ChartScreen(chart))
        self.call_after_refresh(chart.poll)

    def show_gauges(self, snapshot) -> None:
        """Show the gauges panel with this snapshot (a headless screenshot's one sample)."""
        if snapshot is not None:
            self._main.query_one(GaugesPanel).display = True
            self._gauges_version = -1
            self._update_gauges()

    def action_distributions(self) -> None:
        from mlmon_tui.app.inside import DistributionsScreen

        if not isinstance(self.screen, DistributionsScreen):
            self.push_screen(DistributionsScreen(
                self.store, self.tags_re, [r for r, _ in self.visible_runs()]))

    def action_toggle_gauges(self) -> None:
        panel = self._main.query_one(GaugesPanel)
        panel.display = not panel.display
        if panel.display:
            self._gauges_version = -1
            self._update_gauges()

    def _size_health(self) -> None:
        """Two lines when all is well; up to a quarter of the screen when there are findings."""
        panel = self._main.query_one(HealthPanel)
        if not self.services.findings and self.size.height < 30 and not self._health_forced:
            panel.display = False  # a small pane: "no findings" is in the status line
            return
        if not self._health_hidden:
            panel.display = True
        want = 3 if not self.services.findings else min(
            max(5, self.size.height // 4), len(self.services.findings) + 3)
        if panel.styles.height is None or panel.styles.height.value != want:
            panel.styles.height = want
            self._layout_key = ()

    def action_toggle_health(self) -> None:
        panel = self._main.query_one(HealthPanel)
        panel.display = not panel.display
        self._health_hidden = not panel.display
        self._health_forced = panel.display
        self._layout_key = ()
        self._update()

    def diagnostics_text(self) -> Text:
        return diagnostics_text(self.paths, self.watcher, self.store, self.services)

    def action_diagnostics(self) -> None:
        self.push_screen(DiagnosticsScreen(self.diagnostics_text()))

    def action_classification(self) -> None:
        from mlmon_tui.app.classify_screen import open_for

        open_for(self, self._main.query_one(RunsPanel).current_run)

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.HELP))
