"""The runs list draws its usual line from plain pieces (no Rich Text): the line must be the
one the Rich Text path draws, segment for segment, in every state a row can be in."""

from __future__ import annotations

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
