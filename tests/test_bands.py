"""A group's band as braille shading under the lines, and the highlighted run on top."""

from __future__ import annotations

import numpy as np
from rich.style import Style

from mlmon_tui.panels import chart_frame as cf
from mlmon_tui.panels.bands import SHADE_MASK, band_columns, layers, paint_band
from mlmon_tui.panels.braille import Canvas
from mlmon_tui.store.decimate import minmax_columns


def test_band_is_shaded_between_low_and_high_and_lines_win_their_cells():
    c = Canvas(20, 6)
    c.set_range(0, 99, 0.0, 1.0)
    x = np.arange(100, dtype=float)
    band = band_columns(x, np.full(100, 0.2), np.full(100, 0.8), 0, 99, 40)
    paint_band(c, band, Style(color="red", dim=True))
    band_sid = c.style("red dim")
    rows = np.flatnonzero((c.dots > 0).any(axis=1))
    # shading only in the rows between 0.2 and 0.8 (of 0..1 on 6 rows: rows 1..4)
    assert rows.min() >= 1 and rows.max() <= 4 and len(rows) >= 3
    assert not (c.dots & ~np.uint16(SHADE_MASK)).any()  # only the shading dots
    assert (c.style_id[c.dots > 0] == band_sid).all()
    line = minmax_columns(x, np.full(100, 0.5), 0, 99, 40)
    c.draw_layers([(line, Style(color="blue"))])
    blue = c.style(Style(color="blue"))
    hit = c.style_id == blue
    assert hit.any() and (c.style_id[(c.dots > 0) & ~hit] == band_sid).all()
    assert (c.dots[hit] & ~np.uint16(SHADE_MASK)).any()  # the line's own dots are there


def test_highlighted_run_is_drawn_last_and_bold_the_others_dim():
    data = [cf.RunData(r, col) for r, col in (("a", "red"), ("b", "blue"), ("c", "green"))]
    for rd in data:
        rd.smooth = rd.raw
    plain = layers(data, True, None)
    assert [bool(s.dim) for _, s, _ in plain] == [True] * 3 + [False] * 3
    lit = layers(data, True, "b")
    assert [s.color.name for _, s, _ in lit][-2:] == ["blue", "blue"]
    assert lit[-1][1].bold and not lit[-1][1].dim
    assert all(s.dim for _, s, _ in lit[:-2])
    assert layers(data, True, "nobody") == plain
