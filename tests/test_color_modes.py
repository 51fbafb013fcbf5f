"""`--color`: the colour system chosen, and runs that stay apart where colours are few."""

from __future__ import annotations

import numpy as np
import pytest

from mlmon_tui.panels import chart_frame as cf
from mlmon_tui.panels.braille import Canvas
from mlmon_tui.panels.chart import ChartOptions
from mlmon_tui.panels.palette import PATTERNS, RunColour, colour_for, pattern_of, swatch
from mlmon_tui.store.decimate import minmax_columns


def test_sixteen_colours_and_patterns_give_every_run_its_own_look():
    looks = [(str(c), pattern_of(c)) for c in (colour_for(k, "16") for k in range(72))]
    assert len(set(looks)) == 72
    assert len({pattern_of(colour_for(k, "none")) for k in range(len(PATTERNS))}) == len(PATTERNS)
    assert not isinstance(colour_for(3, "truecolor"), RunColour)  # full colour: solid lines
    assert colour_for(3, "256") == colour_for(3)


@pytest.mark.parametrize("pattern", range(len(PATTERNS)))
def test_a_dash_pattern_leaves_its_gaps_in_the_line(pattern):
    w, h = 24, 4
    x = np.arange(1000)
    cols = minmax_columns(x, np.full(1000, 0.5), 0, 999, 2 * w)
    c = Canvas(w, h, color=False)
    c.set_range(0, 999, 0, 1)
    c.draw_layers([(cols, None)], [pattern])
    lit = np.zeros(2 * w, dtype=bool)  # which dot columns have a dot
    for side, bits in ((0, 0x01 | 0x02 | 0x04 | 0x40), (1, 0x08 | 0x10 | 0x20 | 0x80)):
        lit[side::2] = ((c.dots & bits) > 0).any(axis=0)
    want = np.array([PATTERNS[pattern][e % len(PATTERNS[pattern])] == "1" for e in range(2 * w)])
    assert np.array_equal(lit, want)


def test_legend_shows_each_runs_pattern():
    data = [cf.RunData(f"run-{k}", colour_for(k, "none"), n=1, last=1.0) for k in range(len(PATTERNS))]
    lay = cf.plan_layout(80, 40, len(data))
    assert not lay.compact_legend
    lines = cf.legend_lines(data, ChartOptions(color=False, smoothing=0), lay)
    samples = [parts[0].plain.split()[0] for parts in lines]
    assert samples == [swatch(k) for k in range(len(PATTERNS))] and len(set(samples)) == len(PATTERNS)
    ascii_lines = cf.legend_lines(data, ChartOptions(color=False, smoothing=0, ascii=True), lay)
    assert len({parts[0].plain[:3] for parts in ascii_lines}) == len(PATTERNS)
    compact = cf.plan_layout(120, 12, len(data))
    assert compact.compact_legend
    line = cf.legend_lines(data[:3], ChartOptions(color=False, smoothing=0), compact)[0][0].plain
    assert all(f"{swatch(k)} run-{k}" in line for k in range(3))


def test_frames_with_patterns_still_equal_a_fresh_draw():
    """Patterns ride on the same incremental path as solid lines."""
    from mlmon_tui.sources.base import ScalarBatch, Update
    from mlmon_tui.store import Store

    st = Store()
    x = np.arange(300)
    runs = [(f"r{k}", colour_for(k, "16")) for k in range(3)]
    for k, (r, _) in enumerate(runs):
        st.apply(Update(scalars=[ScalarBatch(r, "t", x, 1.7e9 + x, np.sin(x / 30 + k))]))
    opts = ChartOptions(smoothing=0.6)
    state = cf.ChartState()
    for i in range(5):
        with st.lock:
            data, xr = cf.collect(st, "t", runs, opts, [], state, 60)
        a, _ = cf.draw(state, data, xr, opts, 30, 8)
        for k, (r, _) in enumerate(runs):
            s = np.array([300 + i])
            st.apply(Update(scalars=[ScalarBatch(r, "t", s, 1.7e9 + s, np.array([0.1 * k]))]))
    fresh = cf.ChartState()
    fresh.xr, fresh.yr = state.xr, state.yr
    with st.lock:
        data, xr = cf.collect(st, "t", runs, opts, [], state, 60)
        data2, xr2 = cf.collect(st, "t", runs, opts, [], fresh, 60)
    a, _ = cf.draw(state, data, xr, opts, 30, 8)
    b, _ = cf.draw(fresh, data2, xr2, opts, 30, 8)
    assert np.array_equal(a.codes, b.codes)


@pytest.mark.parametrize("mode,no_color,want_mode,want_system", [
    ("16", None, "16", "standard"),
    ("256", None, "256", "256"),
    ("truecolor", "1", "truecolor", "truecolor"),  # an explicit choice wins over NO_COLOR
    ("none", None, "none", None),
    ("auto", "1", "none", None),
])
async def test_the_app_takes_the_colour_mode(tmp_path, monkeypatch, mode, no_color, want_mode, want_system):
    from mlmon_tui.app.app import MonitorApp

    monkeypatch.setenv("COLORTERM", "truecolor")
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    app = MonitorApp([str(tmp_path)], watch=False, color=mode)
    assert app.color_mode == want_mode
    assert app.options.color == (want_mode != "none")
    assert app.no_color == (want_mode == "none")
    if want_system:
        assert app.console.color_system == want_system
    import os
    assert os.environ.get("NO_COLOR") == no_color  # the environment is left as it was
    assert isinstance(app.colour("a"), RunColour) == (want_mode in ("16", "none"))
