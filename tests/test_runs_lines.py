"""The runs list draws its usual line from plain pieces (no Rich Text): the line must be the
one the Rich Text path draws, segment for segment, in every state a row can be in."""

from __future__ import annotations

import contextlib

import itertools

from textual.app import App

from mlmon_tui.panels.runs import RunRow, RunsPanel, row_text


class One(App):
    def compose(self):
        yield RunsPanel()


async def test_pieces_draw_the_same_line_as_rich_text():
    rows = [RunRow(f"run-{k:02d}", colour, visible, "tfevents", step, rate, state, badge)
            for k, (colour, visible, step, rate, state, badge) in enumerate(itertools.product(
                ("#5fafff", "red"), (True, False), (None, 7, 123456, 12_345_678),
                (None, 0.5, 12.3), ("live", "stalled", "crashed", "finished"),
                (("", ""), ("✖ 2", "bold red")),
            ))]
    app = One()
    async with app.run_test(size=(60, 30)) as pilot:
        panel = app.query_one(RunsPanel)
        for width in (20, 37, 38, 44, 60):
            panel.set_rows(rows)
            await pilot.pause()
            panel._fit(width)
            style = panel.rich_style
            compared = 0
            for i in (0, 1, 5, 17, len(rows) - 1):
                panel.cursor_row = i if i != 5 else 0
                row = rows[i]
                fast = panel._render_row(i, width, style)
                text = row_text(row, width, panel._fitted.get(row.name))
                if i == panel.cursor_row:
                    text.stylize(panel.get_component_rich_style("runs--cursor"))
                slow = panel._strip(text, width, style)
                assert [(s.text, s.style) for s in fast] == [(s.text, s.style) for s in slow] \
                    or (fast.text == slow.text and [fast.cell_length] == [slow.cell_length]
                        and _styles_per_cell(fast) == _styles_per_cell(slow)), (width, i)
                compared += 1
            assert compared == 5


def _styles_per_cell(strip):
    return [s.style for s in strip for _ in s.text]


@contextlib.asynccontextmanager
async def _listing(rows, size):
    """A runs list showing `rows` at `size`, drawn once: (app, pilot, panel)."""
    app = One()
    async with app.run_test(size=size) as pilot:
        panel = app.query_one(RunsPanel)
        panel.set_rows(rows)
        await pilot.pause()
        yield app, pilot, panel


def _live_rows(n: int) -> list[RunRow]:
    return [RunRow(f"run-{k:02d}", "red", True, "tfevents", 2000, 1.0, "live") for k in range(n)]


async def test_a_new_step_is_found_by_comparing_pieces_and_the_line_drawn_once():
    """Ten runs get a new step, one of them also a new state: the nine lines whose pieces
    only changed their digits are not drawn to be compared, only when the screen asks for
    them (once); the one whose style changed is drawn and compared cell by cell. Every line
    is then the one a full redraw gives, with the changed cells a segment of their own."""
    rows = _live_rows(10)
    async with _listing(rows, (60, 14)) as (app, pilot, panel):
        painted, cells = panel.lines_painted, panel.cells_refreshed
        new = [RunRow(**{**r.__dict__, "last_step": 2001}) for r in rows]
        new[3] = RunRow(**{**new[3].__dict__, "state": "stalled"})
        panel.set_rows(new)
        assert panel.lines_painted - painted == 1  # the stalled run's, to compare it
        await pilot.pause()
        assert panel.lines_painted - painted == 10
        assert panel.cells_refreshed - cells > 9  # nine digits, and the new state's cells
        width = panel._line_width
        x = panel.render_line(1).text.index("2001") + 3
        for k in range(10):
            shown = panel.render_line(k + 1)
            again = panel._render_row(k, width)
            assert shown.text == again.text and _styles_per_cell(shown) == _styles_per_cell(again)
            assert [s.text for s in shown.divide([x, x + 1])[1]] == ["1"]
            if k != 3:
                assert x in {sum(len(s.text) for s in list(shown)[:j]) for j in range(len(shown))}
        panel.set_rows(new)  # nothing changed: nothing drawn, nothing refreshed
        await pilot.pause()
        assert panel.lines_painted - painted == 10 + 10  # the 10 `_render_row` calls above


async def test_lines_follow_a_theme_change():
    """The list keeps its widget style between frames: a new theme still reaches every line."""
    rows = _live_rows(3)
    async with _listing(rows, (60, 8)) as (app, pilot, panel):
        before = panel.render_line(2)
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await pilot.pause()
        await pilot.pause()
        assert panel.base_style == panel.rich_style
        after = panel.render_line(2)
        assert after.text == before.text
        assert _styles_per_cell(after)[5].bgcolor == panel.rich_style.bgcolor
        assert _styles_per_cell(after)[5] != _styles_per_cell(before)[5]


async def test_legend_plot_and_gauge_cells_follow_a_theme_change():
    """Widgets that keep their style between frames: after a new theme, what they draw has
    the new theme's colours (a kept style or line would keep the old ones)."""
    import numpy as np
    from rich.text import Text

    from mlmon_tui.panels.chart import Chart, PlotStrip, TextCell
    from mlmon_tui.panels.gauges import _Cell
    from mlmon_tui.sources.base import ScalarBatch, Update
    from mlmon_tui.store import Store

    st = Store()
    step = np.arange(50)
    st.apply(Update(scalars=[ScalarBatch(r, "loss", step, 1.7e9 + step, np.linspace(1, k + 2, 50))
                             for k, r in enumerate("ab")]))

    class Both(App):
        def compose(self):
            yield Chart(st, "loss")
            yield _Cell(10)

    app = Both()
    async with app.run_test(size=(60, 20)) as pilot:
        chart = app.query_one(Chart)
        chart.set_runs([("a", "red"), ("b", "blue")])
        chart.poll()
        cell = app.query_one(_Cell)
        cell.set(Text("42 %"))
        await pilot.pause()
        widgets = [app.query(TextCell).first(), app.query(PlotStrip).first(), cell]
        before = [w.render_line(0) for w in widgets]
        app.theme = "textual-light" if app.theme != "textual-light" else "textual-dark"
        await pilot.pause()
        await pilot.pause()
        for w, old in zip(widgets, before):
            new = w.render_line(0)
            assert w.base_style == w.rich_style, type(w).__name__
            assert new.text == old.text
            assert {s.style.bgcolor for s in new} == {w.rich_style.bgcolor}, type(w).__name__
            assert {s.style.bgcolor for s in new} != {s.style.bgcolor for s in old}


async def test_two_updates_and_a_cursor_move_before_the_screen_draws_show_the_last():
    """New steps twice, and the cursor moved onto a changed row, all before the next
    frame: every line shows the last values, the cursor where it ended up."""
    rows = _live_rows(5)
    async with _listing(rows, (60, 10)) as (app, pilot, panel):
        panel.set_rows([RunRow(**{**r.__dict__, "last_step": 2001}) for r in rows])
        panel.set_rows([RunRow(**{**r.__dict__, "last_step": 2002}) for r in rows])
        panel.move_cursor(3)
        panel.set_rows([RunRow(**{**r.__dict__, "last_step": 2003}) for r in rows])
        await pilot.pause()
        width = panel._line_width
        for k in range(5):
            shown = panel.render_line(k + 1)
            assert "2003" in shown.text
            again = panel._render_row(k, width)
            assert _styles_per_cell(shown) == _styles_per_cell(again), k
