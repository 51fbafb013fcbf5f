"""The sweep view in the app (Textual Pilot): the runs table, its sort and filters, grouping
in the charts, the highlight, names told apart at 80x24 and 160x48; SVG snapshots."""

from __future__ import annotations

import pytest

import sweepdata
from mlmon_tui.analysis.sweep import fmt_value
from mlmon_tui.app.app import MonitorApp
from mlmon_tui.app.group_store import GROUP_PREFIX
from mlmon_tui.app.summary import summarize
from mlmon_tui.panels import chart_frame as cf
from mlmon_tui.panels.runs import RunsPanel
from mlmon_tui.panels.runs_table import RunsTable
from reallogs import REAL_LOGS

T_NOW = sweepdata.T0 + 1000  # well after the last point: every run is finished


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    """Twelve runs (4 learning rates x 3 seeds) as JSON lines with fixed wall times."""
    root = tmp_path_factory.mktemp("jsonl")
    return sweepdata.write_jsonl(root, sweepdata.sweep())


async def _settle(pilot, n: int = 3) -> None:
    for _ in range(n):
        await pilot.pause()
        pilot.app._update()
    await pilot.pause()


def _app(path, **kw) -> MonitorApp:
    return MonitorApp([str(path)], watch=False, clock=lambda: T_NOW, **kw)


async def test_table_rows_sort_and_header_click(sweep_dir):
    app = _app(sweep_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        await _settle(pilot)
        table = app.query_one(RunsTable)
        assert not table.display  # 160 columns: the runs list unless asked
        await pilot.press("t")
        await _settle(pilot)
        assert table.display and not app.query_one(RunsPanel).display
        _, _, expect, cols = summarize(app.store)
        assert [r.run for r in table.rows] == [r.run for r in expect]
        assert cols[:2] == ["lr", "seed"] and [c.column for c in table.cells][-2:] == ["lr", "seed"]
        await pilot.press("o")  # next column: last
        await _settle(pilot)
        lasts = [r.last for r in table.rows]
        assert app.sort_col == "last" and lasts == sorted(lasts)
        x = 2 + sum(c.width for c in table.cells[: [c.column for c in table.cells].index("lr")])
        await pilot.click(RunsTable, offset=(x + 1, 0))
        await _settle(pilot)
        lrs = [r.hparams["lr"] for r in table.rows]
        assert app.sort_col == "lr" and lrs == sorted(lrs)
        await pilot.click(RunsTable, offset=(x + 1, 0))  # again: the other way
        await _settle(pilot)
        assert [r.hparams["lr"] for r in table.rows] == sorted(lrs, reverse=True)
        header = table.render_line(0).text
        assert "lr▼" in header


async def test_table_selection_is_the_charts_selection(sweep_dir):
    app = _app(sweep_dir)
    async with app.run_test(size=(200, 50)) as pilot:
        await _settle(pilot)
        table = app.query_one(RunsTable)
        assert table.display  # a wide screen: the left panel is the table
        table.focus()
        await pilot.press("down")
        await _settle(pilot)
        focused = table.current_run
        chart = app._charts["val/loss"]
        assert app.highlight == focused and chart.highlight == focused
        await pilot.press("enter")  # hide it: gone from every chart
        await _settle(pilot)
        assert focused in app.hidden
        assert focused not in [r for r, _ in chart.runs]
        await pilot.press("escape")
        await _settle(pilot)
        assert chart.highlight is None


async def test_top_n_and_regex_filters(sweep_dir):
    app = _app(sweep_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        await _settle(pilot)
        await pilot.press("n", *"3", "enter")
        await _settle(pilot)
        _, _, best, _ = summarize(app.store, top=3)
        assert sorted(app.query_one(RunsPanel).names) == sorted(r.run for r in best)
        await pilot.press("n", "ctrl+a", "ctrl+k", "enter", "r", *"lr=0.001$", "enter")
        await _settle(pilot)  # the runs filter also matches hyper-parameters
        shown = app.query_one(RunsPanel).names
        assert len(shown) == 3 and all(
            app.store.run_info(r).meta["hparams"]["lr"] == 1e-3 for r in shown)


async def test_grouping_draws_one_line_per_group_and_expands(sweep_dir):
    app = _app(sweep_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        await _settle(pilot)
        await pilot.press("G", "ctrl+a", "ctrl+k", *"lr", "enter")
        await _settle(pilot)
        chart = app._charts["val/loss"]
        names = [r for r, _ in chart.runs]
        assert names == [GROUP_PREFIX + f"lr={fmt_value(lr)}" for lr in sorted(sweepdata.LRS)]
        assert all(chart.labels[n].endswith("(3 runs)") for n in names)
        assert "grouped by lr" in str(app.query_one("#status").render())
        legend = cf.legend_lines(chart.frame and [cf.RunData(n, "red", n=1) for n in names],
                                 chart.options, chart._layout, chart.labels)
        assert all("3 runs" in parts[0].plain for parts in legend)
        app.query_one(RunsPanel).focus()
        await pilot.press("e")  # the first run's group back into its runs
        await _settle(pilot)
        first = app.query_one(RunsPanel).current_run
        lr = app.store.run_info(first).meta["hparams"]["lr"]
        members = [r for r, _ in chart.runs if not r.startswith(GROUP_PREFIX)]
        assert first in members and len(members) == 3
        assert all(app.store.run_info(r).meta["hparams"]["lr"] == lr for r in members)
        assert len(chart.runs) == 3 + len(sweepdata.LRS) - 1
        assert chart.frame is not None and (chart.frame.codes != 0x20).any()


def _visible_names(app) -> list[str]:
    """Every run name as shown in little room: the runs list (or table) and the legends."""
    shown = []
    panel = app.query_one(RunsTable) if app.table_on() else app.query_one(RunsPanel)
    names = panel.shown_names()
    shown.append(list(names.values()))
    for chart in app._charts.values():
        lay = chart._layout
        if lay is None or lay.legend_rows <= 0:
            continue
        data = [cf.RunData(r, c, n=1) for r, c in chart.runs]
        lines = cf.legend_lines(data, chart.options, lay, chart.labels)
        if lay.compact_legend:
            continue
        shown.append([parts[0].plain[3:].strip() for parts in lines])
    return shown


async def _names_distinct(path, size):
    app = MonitorApp([str(path)], watch=False, clock=lambda: T_NOW)
    async with app.run_test(size=size) as pilot:
        await _settle(pilot, 4)
        groups = _visible_names(app)
        assert groups and groups[0]
        for names in groups:
            assert len(set(names)) == len(names), names


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_names_shown_are_distinct(sweep_dir, size):
    await _names_distinct(sweep_dir, size)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
async def test_names_shown_are_distinct_on_real_logs(size):
    if not REAL_LOGS.is_dir():
        pytest.skip(f"no real logs at {REAL_LOGS}")
    await _names_distinct(REAL_LOGS, size)


async def _table_view(pilot):
    await _settle(pilot)
    await pilot.press("t")
    await _settle(pilot)


async def _grouped_chart(pilot):
    await _settle(pilot)
    await pilot.press("G", "ctrl+a", "ctrl+k", *"lr", "enter")
    await _settle(pilot)
    pilot.app._charts["val/loss"].focus()
    await pilot.press("enter")
    await _settle(pilot)


def test_table_snapshot(snap_compare, sweep_dir):
    assert snap_compare(_app(sweep_dir), terminal_size=(160, 48), run_before=_table_view)


def test_grouped_chart_snapshot(snap_compare, sweep_dir):
    assert snap_compare(_app(sweep_dir), terminal_size=(100, 30), run_before=_grouped_chart)


async def test_full_name_in_tooltip_and_details(sweep_dir):
    app = _app(sweep_dir)
    async with app.run_test(size=(80, 40)) as pilot:
        await _settle(pilot)
        panel = app.query_one(RunsPanel)
        await pilot.hover(RunsPanel, offset=(6, 1))
        await pilot.pause()
        first = panel.names[0]
        assert first.startswith("sweep/") and panel.tooltip == first
        assert panel.shown_names()[first] != first  # the line shows it shortened
        details = app.query_one("#details").render()
        assert str(details).startswith(first + "  ·  from jsonl")


async def test_table_follows_the_screen_width(sweep_dir):
    app = _app(sweep_dir)
    async with app.run_test(size=(200, 50)) as pilot:
        await _settle(pilot)
        table, right = app.query_one(RunsTable), app.query_one("#right")
        assert table.display and right.display and table.size.width >= 90
        await pilot.resize_terminal(120, 40)
        await _settle(pilot)
        assert not table.display and app.query_one(RunsPanel).display
        await pilot.press("t")  # asked for on a narrow screen: it takes the whole width
        await _settle(pilot)
        assert table.display and not right.display and table.size.width >= 110
        await pilot.press("t")
        await _settle(pilot)
        assert not table.display and right.display


async def test_metric_and_its_direction_can_be_changed(sweep_dir):
    app = _app(sweep_dir)
    async with app.run_test(size=(160, 48)) as pilot:
        await _settle(pilot)
        await pilot.press("t")
        await _settle(pilot)
        table = app.query_one(RunsTable)
        assert table.spec.metric == "val/loss" and table.spec.want == "min"
        await pilot.press("m", "ctrl+a", "ctrl+k", *"val/acc", "enter")
        await _settle(pilot)
        best = [r.best for r in table.rows]
        assert table.spec.metric == "val/acc" and best == sorted(best, reverse=True)
        await pilot.press("b")  # say lower is better: the order turns around
        await _settle(pilot)
        assert table.spec.want == "min"
        lows = [r.best for r in table.rows]  # best is now each run's lowest accuracy
        assert lows == sorted(lows)
        assert lows[0] == pytest.approx(min(float(app.store.series(r.run, "val/acc").value.min())
                                            for r in table.rows))
        await pilot.press("m", "ctrl+a", "ctrl+k", *"no/such/tag", "enter")
        await _settle(pilot)
        assert table.spec.metric == "val/acc"  # refused, kept
