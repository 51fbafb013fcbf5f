"""Braille canvas: known lines give known dots; spikes, markers, log scale, fallbacks."""

from __future__ import annotations

import numpy as np
from rich.style import Style

from mlmon_tui.panels.axis import format_duration, format_value, log_ticks, nice_ceil, ticks
from mlmon_tui.panels.braille import Canvas
from mlmon_tui.panels.palette import RUN_COLOURS, colour_for


def text_rows(c: Canvas) -> list[str]:
    return ["".join(s.text for s in row) for row in c.rows()]


def test_diagonal_draws_one_dot_per_column():
    c = Canvas(2, 1)
    c.set_range(0, 3, 0, 3)
    c.draw_series(np.arange(4), np.arange(4.0), "red")
    # dot column i is at height i: bottom-left, then row 2, row 1, top-right
    assert list(c.dots[0]) == [0x40 | 0x20, 0x02 | 0x08]
    assert text_rows(c) == ["\u2860\u280a"]


def test_horizontal_line_and_merged_segments():
    c = Canvas(10, 2)
    c.set_range(0, 9, 0, 1)
    c.draw_series(np.arange(10), np.full(10, 1.0), "green")
    rows = c.rows()
    # value 1 = top dot row: every cell of row 0 has dots 1 and 4 -> U+2809
    assert text_rows(c)[0] == "\u2809" * 10
    assert text_rows(c)[1] == " " * 10
    assert len(rows[0]) == 1 and rows[0][0].style == Style.parse("green")


def test_single_spike_is_drawn_from_a_million_points():
    n = 1_000_000
    x = np.arange(n)
    y = np.zeros(n)
    y[777_777] = 10.0
    c = Canvas(50, 5)
    c.set_range(0, n - 1, 0, 10)
    c.draw_series(x, y, "red")
    col = int(777_777 * 100 / (n - 1)) // 2
    assert all(c.dots[r, col] for r in range(5))  # a full-height stroke in that cell column
    assert not c.dots[0, col + 2] and not c.dots[0, col - 2]


def test_steep_jump_between_sparse_points_is_connected():
    c = Canvas(10, 4)
    c.set_range(0, 10, 0, 1)
    c.draw_series(np.array([0, 10]), np.array([0.0, 1.0]), None)
    # every cell column is crossed by the line
    assert all(c.dots[:, i].any() for i in range(10))


def test_last_layer_wins_cell_colour():
    c = Canvas(4, 1)
    c.set_range(0, 3, 0, 1)
    c.draw_series(np.arange(4), np.zeros(4), "red")
    c.draw_series(np.arange(4), np.zeros(4), "blue")
    codes, sid = c.cells()
    assert {c.styles[i] for i in sid[0]} == {Style.parse("blue")}


def test_markers_and_ascii_and_no_colour():
    c = Canvas(10, 3, unicode=False, color=False)
    c.set_range(0, 9, 0, 1)
    c.draw_series(np.arange(10), np.linspace(0, 1, 10), "red")
    c.mark_x(np.array([4.0]), ("×", "x"), "red")
    rows = text_rows(c)
    assert all(ord(ch) < 128 for row in rows for ch in row)
    assert rows[0][4] == "x"
    assert set("".join(rows)) <= set(" .:'x")
    assert all(seg.style is None for row in c.rows() for seg in row)
    u = Canvas(10, 3)
    u.set_range(0, 9, 0, 1)
    u.mark_x(np.array([9.0]), ("▼", "v"), "red", bottom=True)
    assert text_rows(u)[2][9] == "▼"


def test_log_scale_spreads_decades_evenly():
    c = Canvas(3, 3, color=False)
    c.set_range(0, 2, 1, 100, log_y=True)
    rows = c.y_to_dot_row(np.array([100.0, 10.0, 1.0, 0.0, -5.0]))
    assert rows[0] == 0 and rows[2] == 11 and abs(rows[1] - 5.5) < 1e-9
    assert np.isnan(rows[3]) and np.isnan(rows[4])
    c.draw_series(np.arange(3), np.array([1.0, -1.0, 100.0]), None)  # the negative is skipped
    assert c.dots.any()


def test_axis_ticks_and_labels():
    t = ticks(0, 3.7e6, 4)
    assert t == [0, 1e6, 2e6, 3e6]
    assert [format_value(v, 1e6) for v in t] == ["0", "1M", "2M", "3M"]
    assert [format_value(v, 2.5e5) for v in (2.5e5, 1.25e6)] == ["250k", "1.25M"]
    assert format_value(1234.5) == "1.23k" and format_value(2.5e-5) == "2.5e-5"
    assert ticks(0, 7200, 5, time_axis=True)[1] == 1800 and format_duration(1800) == "30m"
    assert format_duration(5400) == "1.5h" and format_duration(45) == "45s"
    assert log_ticks(1e-4, 3, 3) == [1e-4, 1e-2, 1.0]
    assert nice_ceil(1100) == 1200 and nice_ceil(0.33) == 0.4
    for lo, hi, k in ((0.0013, 0.0042, 4), (-3, 17, 6), (1, 1e9, 3)):
        got = ticks(lo, hi, k)
        assert 1 <= len(got) <= k and all(lo <= v <= hi for v in got)


def test_palette_distinct_and_wraps():
    assert len(set(RUN_COLOURS)) == len(RUN_COLOURS) >= 12
    assert colour_for(0) == colour_for(len(RUN_COLOURS)) and colour_for(1) != colour_for(0)


def test_unicode_detection_from_encoding():
    from mlmon_tui.panels.braille import unicode_ok

    assert unicode_ok("UTF-8") and unicode_ok("utf8")
    assert not unicode_ok("ANSI_X3.4-1968") and not unicode_ok("latin-1")


def test_palette_colours_survive_256_colour_downgrade():
    from rich.color import Color, ColorSystem

    from mlmon_tui.panels.palette import ERROR_COLOUR, WARNING_COLOUR

    for hex_ in (*RUN_COLOURS, ERROR_COLOUR, WARNING_COLOUR):
        c = Color.parse(hex_)
        down = c.downgrade(ColorSystem.EIGHT_BIT)
        assert down.get_truecolor() == c.get_truecolor(), hex_  # an exact xterm-256 entry


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(st.floats(-1e307, 1e307), st.floats(-1e307, 1e307), st.integers(1, 12), st.booleans())
def test_ticks_always_terminate_within_range(lo, hi, k, time_axis):
    got = ticks(lo, hi, k, time_axis=time_axis)
    assert len(got) <= max(k, 1)
    a, b = min(lo, hi), max(lo, hi)
    tol = 1e-9 * max(abs(a), abs(b), 1.0)
    assert all(a - tol <= v <= b + tol for v in got)
    for v in got:
        assert format_value(v, got[1] - got[0] if len(got) > 1 else None)


def _reference_paint(c: Canvas, spans, sids) -> None:
    """The plain way: a boolean dot mask per layer, folded into cells, drawn in order."""
    from mlmon_tui.panels.braille import _DOT_BITS

    nrows = 4 * c.height
    for (e, t, b), sid in zip(spans, sids):
        mask = np.zeros((nrows, 2 * c.width), dtype=bool)
        r = np.arange(nrows)[:, None]
        mask[:, e] = (r >= t[None, :]) & (r <= b[None, :])
        bits = (mask.reshape(c.height, 4, c.width, 2) * _DOT_BITS[None, :, None, :]).sum(
            axis=(1, 3), dtype=np.uint16)
        c.dots |= bits
        c.style_id[bits > 0] = sid


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 30), st.integers(1, 10), st.integers(1, 6), st.integers(0, 10_000),
       st.booleans())
def test_batched_layers_draw_exactly_what_one_by_one_drawing_does(w, h, n_layers, seed, log_y):
    from mlmon_tui.store.decimate import minmax_columns

    rng = np.random.default_rng(seed)
    layers = []
    for k in range(n_layers):
        n = int(rng.integers(1, 400))
        x = np.sort(rng.uniform(-50, 150, n))
        y = rng.normal(0, 10 ** rng.uniform(-1, 2), n) + rng.uniform(-5, 5)
        y[rng.random(n) < 0.05] = np.nan
        layers.append((minmax_columns(x, y, 0, 100, 2 * w), f"color({k + 1})"))
    batched, ref = Canvas(w, h), Canvas(w, h)
    for c in (batched, ref):
        c.set_range(0, 100, 0.1 if log_y else -20, 30, log_y=log_y)
    batched.draw_layers(layers)
    spans, sids = [], []
    for cols, style in layers:
        if not len(cols):
            continue
        sid = ref.style(style)
        span = ref._span(cols)
        if span is not None:
            spans.append(span)
            sids.append(sid)
    _reference_paint(ref, spans, sids)
    assert np.array_equal(batched.dots, ref.dots)
    assert np.array_equal(batched.style_id, ref.style_id)
    assert batched.styles == ref.styles
