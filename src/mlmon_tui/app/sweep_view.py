"""The monitor's sweep view, a mixin of `MonitorApp`: the runs table (`t`), its sort (`o`,
`O`, a header click), metric (`m`) and direction (`b`), top-N (`n`), grouping (`G`, `e`
expands a group back into lines) and the highlight of the focused run in every chart."""

from __future__ import annotations

from textual.binding import Binding

from mlmon_tui.analysis.groups import GroupBy, group_runs
from mlmon_tui.analysis.sweep import (FIXED_COLUMNS, Row, build_rows, default_metric, direction,
                                      filter_rows, flatten, fmt_value, hparam_columns,
                                      metric_figures, sort_rows)
from mlmon_tui.app.group_store import GROUP_PREFIX, GroupedStore
from mlmon_tui.app.screens import Prompt
from mlmon_tui.panels.palette import colour_for
from mlmon_tui.panels.runs import RunsPanel
from mlmon_tui.panels.runs_table import RunsTable, TableSpec

TABLE_AUTO_WIDTH = 190  # from this width on the left panel is the table unless `t` says no
TABLE_SIDE_WIDTH = 150  # narrower than this, the table takes the whole width

SWEEP_BINDINGS = [
    Binding("t", "toggle_table", "Table"),
    Binding("o", "sort_next", "Sort", show=False),
    Binding("O", "sort_flip", "Order", show=False),
    Binding("m", "choose_metric", "Metric", show=False),
    Binding("b", "flip_better", "Better", show=False),
    Binding("n", "top_n", "Top N", show=False),
    Binding("G", "group", "Group"),
    Binding("e", "expand_group", "Expand", show=False),
    Binding("escape", "clear_highlight", show=False),
]
SWEEP_HELP = [
    ("t", "runs table: hyper-parameters and the metric's last / best / smoothed"),
    ("o / O", "sort by the next column / reverse the order (or click a header)"),
    ("m", "the table's metric (default: the first validation loss)"),
    ("b", "lower or higher is better for the metric (guessed from its name)"),
    ("n", "show only the N best runs by the metric (empty: all)"),
    ("G", "group runs: by a hyper-parameter, /regex/ capture, or seed (all but the seed)"),
    ("e", "expand the focused run's group into its runs, or fold it back"),
]


class SweepView:
    def _init_sweep(self, group_by: str | None = None) -> None:
        """`group_by`: as `G` takes it (checked by the caller; a bad one is ignored here)."""
        self.table_mode: bool | None = None  # None: automatic by width
        self.metric: str | None = None
        self.want: str | None = None  # "min" / "max" set by the user
        self.sort_col = "best"
        self.sort_desc: bool | None = None  # None: best first
        self.top_n: int | None = None
        try:
            self.group_by: GroupBy | None = GroupBy.parse(group_by or "")
        except ValueError:
            self.group_by = None
        self.expanded: set[str] = set()
        self.highlight: str | None = None
        self.chart_store = GroupedStore(self.store)
        self._row_cache: dict[str, tuple] = {}
        self._grouped: dict[str, list[str]] = {}  # group key -> runs (all groups)
        self._group_colours: dict[str, str] = {}  # run or group name -> its group's colour
        self._placed: tuple = ()  # (table on, screen width) the side panel was sized for

    # -- what the table shows ----------------------------------------------------------
    def table_on(self) -> bool:
        return self.table_mode if self.table_mode is not None else self.size.width >= TABLE_AUTO_WIDTH

    def current_metric(self) -> str | None:
        tags = self.store.tags()
        if self.metric in tags:
            return self.metric
        return default_metric(tags)

    def metric_want(self) -> str:
        metric = self.current_metric()
        return self.want or (direction(metric) if metric else "min")

    def sort_descending(self) -> bool:
        if self.sort_desc is not None:
            return self.sort_desc
        return self.metric_want() == "max" and self.sort_col in ("best", "last", "smoothed_last")

    def sweep_rows(self, runs: list[str]) -> list[Row]:
        """Rows of `runs`; a run's metric figures are recomputed only when its series moved."""
        metric, want, w = self.current_metric(), self.metric_want(), self.options.smoothing
        rows = build_rows(self.store, runs, None, states={r: self.run_state(r) for r in runs},
                          badges={r: self.badge(r) for r in runs})
        with self.store.lock:
            for row in rows:
                s = self.store.series(row.run, metric) if metric else None
                if s is None or not len(s):
                    continue
                key = (metric, want, w, id(s), s.version, len(s))
                hit = self._row_cache.get(row.run)
                if hit is None or hit[0] != key:
                    hit = self._row_cache[row.run] = (key, metric_figures(s.step, s.value, want, w))
                row.last, row.best, row.best_step, row.smoothed_last = hit[1]
        return rows

    def _sweep_filter(self, runs: list[str]) -> list[str]:
        """The runs filter's second half: the N best by the metric (`n`)."""
        if not self.top_n:
            return runs
        keep = {r.run for r in filter_rows(self.sweep_rows(runs), None, self.top_n,
                                           self.metric_want())}
        return [r for r in runs if r in keep]

    def hparams_match(self, run: str, pattern) -> bool:
        """Whether `pattern` (compiled) finds one of the run's `key=value` hyper-parameters."""
        hp = self.store.run_info(run).meta.get("hparams")
        if not isinstance(hp, dict) or not hp:
            return False
        return any(pattern.search(f"{k}={fmt_value(v)}") for k, v in flatten(hp).items())

    def _update_sweep(self, shown: list[str]) -> None:
        """After the runs list: the table."""
        table = self._main.query_one(RunsTable)
        panel = self._main.query_one(RunsPanel)
        on = self.table_on()
        if table.display != on:
            table.display, panel.display = on, not on
        placed = (on, self.size.width)
        if placed != self._placed:  # shown, hidden or resized: the side panel follows
            self._placed = placed
            self.call_after_refresh(self._place_table)
        if not on:
            return
        rows = self.sweep_rows(shown)
        cols = hparam_columns(rows)
        metric = self.current_metric()
        group_of = {r: k for k, members in self._grouped.items() for r in members
                    if len(members) > 1} if self.group_by else {}
        spec = TableSpec(columns=cols, metric=metric, want=self.metric_want(),
                         sort=self.sort_col, descending=self.sort_descending(),
                         colours={r: self.run_colour(r) for r in shown},
                         hidden=frozenset(self.hidden), labels=self.labels, groups=group_of)
        table.set_table(sort_rows(rows, self.sort_col, spec.descending), spec)

    def _place_table(self) -> None:
        """The side panel's width follows the table; on a narrow screen it takes it all."""
        side = self._main.query_one("#side")
        right = self._main.query_one("#right")
        full = self.table_on() and self.size.width < TABLE_SIDE_WIDTH
        side.styles.max_width = "100%" if self.table_on() else "45%"
        side.styles.width = self._side_width()
        right.display = not full
        self._layout_key = ()

    def _side_width(self) -> int:
        if self.table_on():
            w = self.size.width
            return w if w < TABLE_SIDE_WIDTH else max(70, w // 2)
        return super()._side_width()

    def sweep_status(self) -> list[str]:
        """Parts of the status line: the grouping and the top-N filter, when on."""
        parts = []
        if self.group_by is not None:
            parts.append(f"grouped by {self.group_by.describe()} (e expands)")
        if self.top_n:
            parts.append(f"best {self.top_n} by {self.current_metric()}")
        return parts

    def cursor_run(self) -> str | None:
        if self.table_on():
            return self._main.query_one(RunsTable).current_run
        return self._main.query_one(RunsPanel).current_run

    # -- groups in the charts ------------------------------------------------------------
    def run_colour(self, run: str) -> str:
        """A run's colour; a run in a folded group takes the group's."""
        return self._group_colours.get(run) or self.colour(run)

    def _update_groups(self, shown: list[str]) -> None:
        self._group_colours = {}
        if self.group_by is None:
            self._grouped = {}
            self.chart_store.set_groups({})
            return
        hp = {r: self.store.run_info(r).meta.get("hparams") or {} for r in shown
              if r not in self.hidden}
        self._grouped = group_runs([r for r in shown if r not in self.hidden], hp, self.group_by)
        groups = {GROUP_PREFIX + k: v for k, v in self._grouped.items()
                  if len(v) > 1 and k not in self.expanded}
        self.chart_store.set_groups(groups)
        for i, (name, members) in enumerate(groups.items()):
            self.labels[name] = f"{name[len(GROUP_PREFIX):]} ({len(members)} runs)"
            colour = colour_for(i)
            self._group_colours.update(dict.fromkeys([name, *members], colour))

    def chart_runs(self, tag: str) -> list[tuple[str, str]]:
        """What a chart of `tag` draws: visible runs, each group as one line unless expanded."""
        runs = [(r, c) for r, c in self.visible_runs() if self.store.series(r, tag) is not None]
        if self.group_by is None:
            return runs
        out, done = [], set()
        group_of = {r: k for k, members in self._grouped.items() for r in members}
        for run, colour in runs:
            k = group_of.get(run)
            name = GROUP_PREFIX + (k or "")
            if k is None or name not in self.chart_store.groups:
                out.append((run, colour))
            elif name not in done:
                done.add(name)
                out.append((name, self.run_colour(name)))
        return out

    def highlighted(self) -> str | None:
        """The focused run as the charts know it (its group when the group is folded)."""
        run = self.highlight
        if run is None or self.group_by is None:
            return run
        for k, members in self._grouped.items():
            if run in members and GROUP_PREFIX + k in self.chart_store.groups:
                return GROUP_PREFIX + k
        return run

    # -- events and actions --------------------------------------------------------------
    def on_runs_table_toggled(self, event: RunsTable.Toggled) -> None:
        self._toggle(event.run)

    def on_runs_table_highlighted(self, event: RunsTable.Highlighted) -> None:
        if not self.screen_stack:  # posted by a refresh just before the app closed
            return
        self._set_highlight(event.run, event.by_user)
        self._update_details()

    def on_runs_table_sort_by(self, event: RunsTable.SortBy) -> None:
        if event.column == self.sort_col:
            self.sort_desc = not self.sort_descending()
        else:
            self.sort_col, self.sort_desc = event.column, None
        self._update()

    def _set_highlight(self, run: str | None, by_user: bool) -> None:
        if by_user and run != self.highlight:
            self.highlight = run
            self._update()  # every chart takes it in the update

    def action_clear_highlight(self) -> None:
        if self.highlight is not None:
            self.highlight = None
            self._update()

    def action_toggle_table(self) -> None:
        self.table_mode = not self.table_on()
        self._update()
        self.call_after_refresh(self._place_table)
        self.call_after_refresh(self._update)

    def _sort_columns(self) -> list[str]:
        rows = self.sweep_rows(self._shown_runs())
        return ["best", "last", "smoothed_last", "run", "state", "last_step", "best_step"] + \
            hparam_columns(rows)

    def action_sort_next(self) -> None:
        cols = self._sort_columns()
        i = cols.index(self.sort_col) if self.sort_col in cols else -1
        self.sort_col, self.sort_desc = cols[(i + 1) % len(cols)], None
        self._update()

    def action_sort_flip(self) -> None:
        self.sort_desc = not self.sort_descending()
        self._update()

    def action_flip_better(self) -> None:
        self.want = "max" if self.metric_want() == "min" else "min"
        self.sort_desc = None
        self.notify(f"{self.current_metric()}: {'higher' if self.want == 'max' else 'lower'} "
                    "is better")
        self._update()

    def action_choose_metric(self) -> None:
        def done(value: str | None) -> None:
            if value is None:
                return
            if value and value not in self.store.tags():
                self.notify(f"No run has the tag {value!r}", severity="error")
                return
            self.metric, self.want, self.sort_desc = value or None, None, None
            self._update()

        self.push_screen(Prompt("Metric for the table (a tag; empty: first validation loss)",
                                self.current_metric() or ""), done)

    def action_top_n(self) -> None:
        def done(value: str | None) -> None:
            if value is None:
                return
            value = value.strip()
            if value and not (value.isdigit() and int(value) > 0):
                self.notify("Top N: a positive whole number, or empty for all", severity="error")
                return
            self.top_n = int(value) if value else None
            self._update()

        self.push_screen(Prompt("Show the N best runs by the metric (empty: all)",
                                str(self.top_n or "")), done)

    def action_group(self) -> None:
        def done(value: str | None) -> None:
            if value is None:
                return
            try:
                self.group_by = GroupBy.parse(value)
            except ValueError as e:
                self.notify(str(e), severity="error")
                return
            self.expanded.clear()
            self._layout_key = ()
            self._update()

        cols = [c for c in self._sort_columns() if c not in FIXED_COLUMNS]
        guess = self.group_by.key if self.group_by and self.group_by.kind == "hparam" else \
            ("seed" if any("seed" in c for c in cols) else cols[0] if cols else "seed")
        self.push_screen(Prompt("Group by: a hyper-parameter, /regex/ with a capture group, "
                                "or seed (all but the seed); empty: none", guess), done)

    def action_expand_group(self) -> None:
        run = self.cursor_run()
        for k, members in self._grouped.items():
            if run in members and len(members) > 1:
                self.expanded.symmetric_difference_update({k})
                self._update()
                return
