"""The Chart widget in a small Textual app, fed from a real Store."""

from __future__ import annotations


from reallogs import REAL_LOGS, REASON

import numpy as np
import pytest
from textual.app import App

from mlmon_tui.panels.axis import format_value
from mlmon_tui.panels.chart import Chart, ChartOptions, PlotStrip
from mlmon_tui.panels.palette import ERROR_COLOUR, colour_for
from mlmon_tui.sources.base import ScalarBatch, Update
from mlmon_tui.store import Store
from mlmon_tui.store.smoothing import ema_debiased

TAG = "train/loss"
BRAILLE = {chr(c) for c in range(0x2801, 0x2900)}
REAL_EVENTS = REAL_LOGS / "yuanjun0416__tensorboard_use/loop_noise5_cbamconcat_rms1_batchsize512/validation"


def batch(run, step, value, tag=TAG):
    step = np.asarray(step, dtype=np.int64)
    return ScalarBatch(run, tag, step, 1.7e9 + step.astype(float), np.asarray(value, dtype=float))


def loss_store(runs=("a", "b"), n=400) -> Store:
    st = Store()
    x = np.arange(n)
    st.apply(Update(scalars=[batch(r, x, (1 + i) * np.exp(-x / 100) + 0.25) for i, r in enumerate(runs)]))
    return st


class ChartApp(App):
    def __init__(self, store, runs, options=None, tag=TAG):
        super().__init__()
        self.store, self.run_list, self.options, self.tag = store, runs, options, tag

    def compose(self):
        yield Chart(self.store, self.tag, id="chart", options=self.options)

    def on_mount(self):
        self.query_one(Chart).set_runs([(r, colour_for(i)) for i, r in enumerate(self.run_list)])


def screen_lines(app) -> list[str]:
    return ["".join(seg.text for seg in strip) for strip in app.screen._compositor.render_strips()]


async def settle(pilot, chart):
    await pilot.pause()
    chart.poll()
    await pilot.pause()
    await pilot.pause()


async def test_draws_series_and_legend_numbers():
    st = Store()
    st.apply(Update(scalars=[batch("a", [0, 1, 2, 3], [4.0, 0.125, 1.0, 0.25])]))
    app = ChartApp(st, ["a"], ChartOptions(smoothing=0))
    async with app.run_test(size=(60, 16)) as pilot:
        chart = app.query_one(Chart)
        await settle(pilot, chart)
        lines = screen_lines(app)
        plot = lines[1:-3]
        assert any(ch in BRAILLE for line in plot for ch in line)
        legend = next(line for line in lines if line.startswith("━━ a"))
        for v in ("0.25", "0.125", "4"):
            assert v in legend, (v, legend)
        assert TAG in lines[0]


async def test_smoothed_last_in_legend_matches_tensorboard_ema():
    st = loss_store(("a",))
    value = st.series("a", TAG).value
    want = format_value(float(ema_debiased(value, 0.9)[-1]))
    raw = format_value(float(value[-1]))
    app = ChartApp(st, ["a"], ChartOptions(smoothing=0.9))
    async with app.run_test(size=(70, 16)) as pilot:
        await settle(pilot, app.query_one(Chart))
        text = "\n".join(screen_lines(app))
        assert f"{want} ({raw})" in text


async def test_log_scale_toggle_changes_ticks():
    st = Store()
    x = np.arange(200)
    st.apply(Update(scalars=[batch("a", x, 100.0 * 10.0 ** (-x / 40))]))  # 100 .. 1e-3
    app = ChartApp(st, ["a"], ChartOptions(smoothing=0))
    async with app.run_test(size=(60, 20)) as pilot:
        chart = app.query_one(Chart)
        await settle(pilot, chart)
        linear = "\n".join(screen_lines(app))
        chart.set_options(ChartOptions(smoothing=0, log_y=True))
        assert chart.poll()
        await pilot.pause()
        await pilot.pause()
        log = "\n".join(screen_lines(app))
        assert "[log]" in log and "[log]" not in linear
        assert "0.01" in log and "0.01" not in linear
        # in log scale the decay is a straight diagonal; in linear it hugs the bottom row
        bottom = lambda f: int((f.codes[-1] >= 0x2801).sum())  # noqa: E731
        log_bottom = bottom(chart.frame)
        chart.set_options(ChartOptions(smoothing=0))
        chart.poll()
        assert bottom(chart.frame) > 3 * log_bottom


async def test_nan_inf_and_finding_markers():
    st = Store()
    v = np.linspace(1, 2, 100)
    v[50], v[80], v[20] = np.nan, np.inf, -np.inf
    st.apply(Update(scalars=[batch("a", np.arange(100), v)]))
    app = ChartApp(st, ["a"], ChartOptions(smoothing=0))
    async with app.run_test(size=(60, 14)) as pilot:
        chart = app.query_one(Chart)
        chart.set_markers([("a", 30, "error")])
        await settle(pilot, chart)
        f = chart.frame
        top = "".join(map(chr, f.codes[0]))
        bottom = "".join(map(chr, f.codes[-1]))
        assert "×" in top and "▲" in top and "◆" in top and "▼" in bottom
        assert top.index("◆") < top.index("×") < top.index("▲")
        diamond = f.styles[f.sid[0, top.index("◆")]]
        assert diamond.color.triplet.hex == ERROR_COLOUR
        assert "NaN/Inf" in screen_lines(app)[0]


@pytest.mark.parametrize("size", [(10, 3), (3, 1), (1, 1), (38, 8), (200, 60)])
async def test_any_size_draws_or_stays_quiet(size):
    app = ChartApp(loss_store(), ["a", "b"])
    async with app.run_test(size=size) as pilot:
        chart = app.query_one(Chart)
        await settle(pilot, chart)
        await pilot.resize_terminal(12, 4)
        await settle(pilot, chart)
        lines = screen_lines(app)
        assert any(ch in BRAILLE for line in lines for ch in line)
        await pilot.resize_terminal(*size)
        await settle(pilot, chart)


async def test_small_chart_keeps_one_legend_line():
    app = ChartApp(loss_store(("a", "b", "c")), ["a", "b", "c"])
    async with app.run_test(size=(38, 8)) as pilot:
        chart = app.query_one(Chart)
        await settle(pilot, chart)
        lines = screen_lines(app)
        assert "a " in lines[-1] and "b " in lines[-1] and "c " in lines[-1]
        assert chart.frame.codes.shape[0] >= 4


async def test_poll_only_redraws_on_change_and_refreshes_changed_strips():
    st = loss_store(("a",), n=400)
    app = ChartApp(st, ["a"], ChartOptions(smoothing=0))
    async with app.run_test(size=(100, 20)) as pilot:
        chart = app.query_one(Chart)
        await settle(pilot, chart)
        assert not chart.poll()  # nothing changed
        x1 = chart.state.xr[1]
        strips = list(chart.query(PlotStrip))
        assert len(strips) >= 5 and all(s.size.width <= 12 for s in strips)
        for s in strips:
            for y in range(s.size.height):
                s.render_line(y)
        st.apply(Update(scalars=[batch("a", [400], [0.3])]))
        assert chart.poll()
        assert chart.state.xr[1] == x1  # headroom: the x axis did not move
        untouched = [s for s in strips if len(s._lines) == s.size.height]
        touched = [s for s in strips if len(s._lines) < s.size.height]
        assert strips[0] in untouched and len(touched) >= 1
        assert len(touched) <= 2


async def test_ascii_mode_has_no_braille():
    app = ChartApp(loss_store(), ["a", "b"], ChartOptions(ascii=True))
    async with app.run_test(size=(60, 16)) as pilot:
        chart = app.query_one(Chart)
        await settle(pilot, chart)
        text = "\n".join(screen_lines(app))
        assert not any(ch in BRAILLE for ch in text)
        assert ":" in text or "." in text
        assert all(c < 128 for c in chart.frame.codes.ravel())


@pytest.mark.skipif(not REAL_EVENTS.exists(), reason=REASON)
async def test_real_tensorboard_log():
    from tbparse import SummaryReader

    df = SummaryReader(str(REAL_EVENTS)).scalars
    st = Store()
    for tag, g in df.groupby("tag"):
        st.apply(Update(scalars=[batch("val", g["step"].to_numpy(), g["value"].to_numpy(), tag=tag)]))
    app = ChartApp(st, ["val"], ChartOptions(smoothing=0.6), tag="epoch_loss")
    async with app.run_test(size=(80, 20)) as pilot:
        chart = app.query_one(Chart)
        await settle(pilot, chart)
        text = "\n".join(screen_lines(app))
        s = st.series("val", "epoch_loss")
        assert len(s) == 1000
        assert format_value(s.max) in text and format_value(s.min) in text
        assert any(ch in BRAILLE for ch in text)


def test_snapshot(snap_compare):
    st = Store()
    x = np.arange(300)
    rng = np.random.default_rng(7)
    st.apply(Update(scalars=[
        batch("run-a", x, 2 * np.exp(-x / 80) + 0.05 * rng.standard_normal(300) + 0.2),
        batch("run-b", x, 1.5 * np.exp(-x / 120) + 0.05 * rng.standard_normal(300) + 0.3),
    ]))
    app = ChartApp(st, ["run-a", "run-b"], ChartOptions(smoothing=0.6))

    async def run_before(pilot):
        await settle(pilot, app.query_one(Chart))

    assert snap_compare(app, terminal_size=(80, 20), run_before=run_before)


def test_smoothing_cache_extends_and_recomputes_like_tensorboard():
    from mlmon_tui.panels.chart_frame import ChartState
    from mlmon_tui.store.series import Series

    s = Series()
    rng = np.random.default_rng(5)
    state = ChartState()
    s.append(np.arange(100), np.zeros(100), rng.standard_normal(100))
    state.smoothed("a", s, 0.8)
    s.append(np.arange(100, 150), np.zeros(50), rng.standard_normal(50))  # appended
    np.testing.assert_allclose(state.smoothed("a", s, 0.8), ema_debiased(s.value, 0.8), rtol=1e-12)
    s.append(np.array([10]), np.zeros(1), np.array([50.0]))  # out of order: sorted into the middle
    np.testing.assert_allclose(state.smoothed("a", s, 0.8), ema_debiased(s.value, 0.8), rtol=1e-12)
    np.testing.assert_allclose(state.smoothed("a", s, 0.5), ema_debiased(s.value, 0.5), rtol=1e-12)


async def test_relative_and_wall_time_axes():
    st = Store()
    step = np.arange(0, 3600, 10)
    st.apply(Update(scalars=[ScalarBatch("a", TAG, step, 1.7e9 + step.astype(float), np.sin(step / 300.0))]))
    app = ChartApp(st, ["a"], ChartOptions(smoothing=0, x_mode="relative"))
    async with app.run_test(size=(80, 16)) as pilot:
        chart = app.query_one(Chart)
        await settle(pilot, chart)
        xaxis = str(chart.query_one("#chart-xaxis").render())
        assert "0s" in xaxis and ("30m" in xaxis or "1h" in xaxis or "20m" in xaxis), xaxis
        chart.set_options(ChartOptions(smoothing=0, x_mode="wall"))
        assert chart.poll()
        await pilot.pause()
        xaxis = str(chart.query_one("#chart-xaxis").render())
        import re
        assert re.search(r"\d\d:\d\d", xaxis), xaxis
        assert chart.state.xr[0] == 1.7e9  # wall axis starts at the first point's time


def test_layout_plan_degrades():
    from mlmon_tui.panels.chart_frame import plan_layout

    big = plan_layout(160, 40, 3)
    assert big.legend_rows == 3 and not big.compact_legend and big.xaxis and big.yaxis_width == 7
    small = plan_layout(38, 8, 3)  # a quarter of an 80x24 screen
    assert small.legend_rows == 1 and small.compact_legend and small.plot_h >= 4
    tiny = plan_layout(10, 3, 3)
    assert (tiny.title, tiny.xaxis, tiny.legend_rows, tiny.yaxis_width) == (True, False, 0, 0)
    assert tiny.plot_h == 2 and tiny.plot_w == 10
    for w in range(0, 30):
        for h in range(0, 12):
            lay = plan_layout(w, h, 4)
            assert lay.plot_w >= 0 and lay.plot_h >= 0
            assert lay.title + lay.xaxis + lay.legend_rows + lay.plot_h <= max(h, 0) or h <= 0


def test_incremental_frames_equal_a_fresh_draw():
    from mlmon_tui.panels import chart_frame as cf

    st = loss_store(("a", "b"), n=500)
    runs = [("a", "red"), ("b", "blue")]
    opts = ChartOptions(smoothing=0.7)
    state = cf.ChartState()
    rng = np.random.default_rng(9)
    for k in range(30):
        with st.lock:
            data, xr = cf.collect(st, TAG, runs, opts, [], state, 80)
        frame, _ = cf.draw(state, data, xr, opts, 40, 10)
        vals = rng.standard_normal(3)
        vals[0] = np.nan if k == 7 else vals[0]
        st.apply(Update(scalars=[batch(r, 500 + 3 * k + np.arange(3), vals) for r, _ in runs]))
    fresh = cf.ChartState()
    fresh.xr, fresh.yr = state.xr, state.yr
    with st.lock:
        data, xr = cf.collect(st, TAG, runs, opts, [], state, 80)
        data2, xr2 = cf.collect(st, TAG, runs, opts, [], fresh, 80)
    a, _ = cf.draw(state, data, xr, opts, 40, 10)
    b, _ = cf.draw(fresh, data2, xr2, opts, 40, 10)
    assert xr == xr2
    assert np.array_equal(a.codes, b.codes) and np.array_equal(a.sid, b.sid)
    assert "×" in "".join(map(chr, a.codes[0]))
    assert set(state.column_cache) == {"a", "b"}  # the extended path was taken


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as hst  # noqa: E402


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hst.lists(hst.one_of(hst.floats(allow_nan=True, allow_infinity=True), hst.floats(-10, 10)), min_size=1, max_size=60),
    hst.integers(1, 60),
    hst.integers(1, 12),
    hst.booleans(),
    hst.sampled_from(["step", "relative", "wall"]),
    hst.sampled_from([0.0, 0.6, 0.999]),
)
def test_any_values_any_size_draw_without_error(values, w, h, log_y, x_mode, smoothing):
    from mlmon_tui.panels import chart_frame as cf

    st = Store()
    st.apply(Update(scalars=[batch("a", np.arange(len(values)), values)]))
    opts = ChartOptions(smoothing=smoothing, log_y=log_y, x_mode=x_mode)
    state = cf.ChartState()
    lay = cf.plan_layout(w, h + 3, 1)
    with st.lock:
        data, xr = cf.collect(st, TAG, [("a", "red")], opts, [("a", 3, "warning")], state, 2 * lay.plot_w)
    frame, info = cf.draw(state, data, xr, opts, lay.plot_w, lay.plot_h)
    assert frame.codes.shape == (lay.plot_h, lay.plot_w)
    assert len(cf.y_labels(info, lay, opts)) in (0, lay.plot_h)
    assert len(cf.x_labels(info, lay, opts)) == lay.plot_w
    cf.legend_lines(data, opts, lay)


async def test_a_new_last_value_repaints_only_its_changed_cells_in_the_legend():
    """One new point per run changes a digit or two of each run's last value: the legend
    marks only those cells for repaint (not its lines), and shows the new values."""
    from mlmon_tui.panels.chart import TextCell

    st = Store()
    x = np.arange(100)
    st.apply(Update(scalars=[batch(r, x, np.full(100, 0.5 + k)) for k, r in enumerate("abc")]))
    app = ChartApp(st, ["a", "b", "c"], ChartOptions(smoothing=0))
    async with app.run_test(size=(100, 20)) as pilot:
        chart = app.query_one(Chart)
        await settle(pilot, chart)
        cells = list(chart.query(TextCell))
        before = sum(c.cells_refreshed for c in cells)
        st.apply(Update(scalars=[batch(r, [100], [0.75 + k]) for k, r in enumerate("abc")]))
        await settle(pilot, chart)
        legend = [line for line in screen_lines(app) if line.startswith("━━")]
        assert [line.split()[2] for line in legend] == ["0.75", "1.75", "2.75"]
        # per line, the right-aligned value "  0.5" -> " 0.75" (3 cells) and the max
        # "max 0.5 " -> "max 0.75" (2 cells); nothing else
        assert sum(c.cells_refreshed for c in cells) - before == 3 * (3 + 2)


def two_flat_runs():
    """Runs a and b, 100 points each at 0.5 and 1.5, in a chart without smoothing."""
    st = Store()
    x = np.arange(100)
    st.apply(Update(scalars=[batch(r, x, np.full(100, 0.5 + k)) for k, r in enumerate("ab")]))
    return st, ChartApp(st, ["a", "b"], ChartOptions(smoothing=0))


async def test_one_line_legend_shows_new_values_at_most_every_few_seconds():
    """A small chart's one-line legend: a change right after another waits for
    LEGEND_SECONDS, then shows the latest values (nothing is left out)."""
    import asyncio

    st, app = two_flat_runs()
    async with app.run_test(size=(38, 8)) as pilot:
        chart = app.query_one(Chart)
        chart.LEGEND_SECONDS = 0.6
        chart.LEGEND_SLACK = 1.0
        await settle(pilot, chart)
        assert "0.5" in screen_lines(app)[-1]
        await asyncio.sleep(0.7)  # a while after the last change: the next is shown at once
        st.apply(Update(scalars=[batch(r, [100], [0.25 + k]) for k, r in enumerate("ab")]))
        await settle(pilot, chart)
        st.apply(Update(scalars=[batch(r, [101], [0.125 + k]) for k, r in enumerate("ab")]))
        await settle(pilot, chart)
        legend = screen_lines(app)[-1]
        assert "0.25" in legend and "1.25" in legend and "0.125" not in legend  # held back
        await asyncio.sleep(0.7)
        await pilot.pause()
        assert "0.125" not in screen_lines(app)[-1]  # due, but waits for a frame a while
        await asyncio.sleep(1.2)
        await pilot.pause()
        legend = screen_lines(app)[-1]
        assert "0.125" in legend and "1.125" in legend  # no frame came: shown on its own


async def test_one_line_legend_due_is_shown_with_the_next_frame():
    """A held-back legend that is due goes out with the chart's next frame (one write for
    both), not on a timer of its own."""
    import asyncio

    st, app = two_flat_runs()
    async with app.run_test(size=(38, 8)) as pilot:
        chart = app.query_one(Chart)
        chart.LEGEND_SECONDS = 0.4
        chart.LEGEND_SLACK = 60.0  # the timer would come far too late
        await settle(pilot, chart)
        await asyncio.sleep(0.5)
        st.apply(Update(scalars=[batch(r, [100], [0.25 + k]) for k, r in enumerate("ab")]))
        await settle(pilot, chart)
        st.apply(Update(scalars=[batch(r, [101], [0.125 + k]) for k, r in enumerate("ab")]))
        await settle(pilot, chart)
        assert "0.125" not in screen_lines(app)[-1]  # held back
        await asyncio.sleep(0.5)
        chart.poll()  # the next frame, with nothing new for the plot
        await pilot.pause()
        legend = screen_lines(app)[-1]
        assert "0.125" in legend and "1.125" in legend


async def test_one_line_legend_due_within_a_frames_jitter_goes_out_with_that_frame():
    """The grid's charts are drawn every CHART_SECONDS, as long as a one-line legend is
    held back: a frame a few milliseconds early shows the new values, rather than leaving
    them to a frame of their own a moment later (one per chart)."""
    import time

    st, app = two_flat_runs()
    async with app.run_test(size=(38, 8)) as pilot:
        chart = app.query_one(Chart)
        chart.LEGEND_SLACK = 60.0
        await settle(pilot, chart)
        chart._legend_drawn -= chart.LEGEND_SECONDS  # long since the last change
        st.apply(Update(scalars=[batch(r, [100], [0.25 + k]) for k, r in enumerate("ab")]))
        await settle(pilot, chart)
        assert "0.25" in screen_lines(app)[-1]
        # the next frame comes 20 ms before LEGEND_SECONDS since the legend was drawn
        chart._legend_drawn = time.monotonic() - chart.LEGEND_SECONDS + 0.02
        st.apply(Update(scalars=[batch(r, [101], [0.125 + k]) for k, r in enumerate("ab")]))
        chart.poll()
        await pilot.pause()
        assert "0.125" in screen_lines(app)[-1] and chart._legend_timer is None
        # well before it is due, it is still held back
        chart._legend_drawn = time.monotonic() - chart.LEGEND_SECONDS / 2
        st.apply(Update(scalars=[batch(r, [102], [0.375 + k]) for k, r in enumerate("ab")]))
        chart.poll()
        await pilot.pause()
        assert "0.375" not in screen_lines(app)[-1] and chart._legend_timer is not None


async def test_one_line_legend_held_back_is_replaced_by_the_next_frames_values():
    """A legend held back and a new point by the time it is due: the chart's next frame
    shows the newest values (not the held-back ones, leaving the newest for later)."""
    st, app = two_flat_runs()
    async with app.run_test(size=(38, 8)) as pilot:
        chart = app.query_one(Chart)
        chart.LEGEND_SLACK = 60.0
        await settle(pilot, chart)
        chart._legend_drawn -= chart.LEGEND_SECONDS
        st.apply(Update(scalars=[batch(r, [100], [0.25 + k]) for k, r in enumerate("ab")]))
        await settle(pilot, chart)
        st.apply(Update(scalars=[batch(r, [101], [0.125 + k]) for k, r in enumerate("ab")]))
        await settle(pilot, chart)
        assert "0.25" in screen_lines(app)[-1]  # 0.125 held back
        chart._legend_drawn -= chart.LEGEND_SECONDS  # due now
        st.apply(Update(scalars=[batch(r, [102], [0.375 + k]) for k, r in enumerate("ab")]))
        chart.poll()
        await pilot.pause()
        legend = screen_lines(app)[-1]
        assert "0.375" in legend and "1.375" in legend
        assert chart._legend_pending is None and chart._legend_timer is None


def test_a_frame_is_skipped_only_when_its_cells_would_not_change():
    """Live points, most falling into each run's last dot column: `unchanged` returns the
    last frame only when drawing again gives the same cells (checked against a chart that
    draws every frame), and it does so for most frames."""
    from mlmon_tui.panels import chart_frame as cf
    from mlmon_tui.panels.palette import colour_for

    rng = np.random.default_rng(11)
    st = Store()
    runs = [(f"r{k}", colour_for(k)) for k in range(4)]
    x = np.arange(300)
    st.apply(Update(scalars=[batch(r, x, np.exp(-x / 200) + 0.05 * rng.standard_normal(300))
                             for r, _ in runs]))
    opts = ChartOptions(smoothing=0.6)
    lazy, eager = cf.ChartState(), cf.ChartState()
    skipped = drawn = 0
    last = None
    for i in range(400):
        step = 300 + i
        for k, (r, _) in enumerate(runs):
            v = float(np.exp(-step / 200) + 0.05 * rng.standard_normal())
            if rng.random() < 0.01:
                v = float("nan") if rng.random() < 0.5 else 3.0 * v + 2.0  # a NaN, a spike
            if rng.random() < 0.9:
                st.apply(Update(scalars=[batch(r, [step], [v])]))
        markers = [("r1", 350, "warning")] if i > 200 else []
        with st.lock:
            data_l, xr_l = cf.collect(st, "train/loss", runs, opts, markers, lazy, 2 * 40)
            data_e, xr_e = cf.collect(st, "train/loss", runs, opts, markers, eager, 2 * 40)
        assert xr_l == xr_e
        same = cf.unchanged(lazy, data_l, xr_l, opts, 40, 10)
        if same is not None:
            frame = same[0]
            assert frame is last
            skipped += 1
        else:
            frame, _ = cf.draw(lazy, data_l, xr_l, opts, 40, 10)
            drawn += 1
        last = frame
        ref, _ = cf.draw(eager, data_e, xr_e, opts, 40, 10)
        assert np.array_equal(frame.codes, ref.codes), i
        assert [frame.styles[j] if j >= 0 else None for j in frame.sid.ravel()] == \
            [ref.styles[j] if j >= 0 else None for j in ref.sid.ravel()], i
    assert skipped > 50 and drawn > 50  # both paths taken, many times


def test_cached_columns_and_smoothing_follow_points_inserted_before_the_end():
    """A point that lands before the last one (a restart, an out-of-order write) changes
    earlier columns and smoothed values: the chart's caches must start again, not extend."""
    from mlmon_tui.panels import chart_frame as cf
    from mlmon_tui.panels.palette import colour_for

    st = Store()
    x = np.arange(0, 200, 2)
    st.apply(Update(scalars=[batch("a", x, np.linspace(2.0, 0.5, len(x)))]))
    runs = [("a", colour_for(0))]
    opts = ChartOptions(smoothing=0.6)
    kept = cf.ChartState()
    with st.lock:
        cf.collect(st, "train/loss", runs, opts, [], kept, 60)
    st.apply(Update(scalars=[batch("a", [51, 52], [9.0, 8.0])]))  # before the end
    st.apply(Update(scalars=[batch("a", [200], [0.4])]))  # then an ordinary append
    with st.lock:
        got, _ = cf.collect(st, "train/loss", runs, opts, [], kept, 60)
        fresh, _ = cf.collect(st, "train/loss", runs, opts, [], cf.ChartState(), 60)
    for f in ("col", "ymin", "ymax", "first", "last"):
        assert np.array_equal(getattr(got[0].raw, f), getattr(fresh[0].raw, f)), f
        assert np.allclose(getattr(got[0].smooth, f), getattr(fresh[0].smooth, f)), f
    assert got[0].raw.ymax.max() == 9.0


def test_legend_segments_made_directly_equal_rich_rendering():
    """`_segments` (the legend's text drawn without Rich's span machinery) gives the same
    cells in the same styles as `Text.render`, for the legends the chart makes and for
    texts with string styles and a base style; overlapping spans are left to Rich."""
    from rich.console import Console
    from rich.segment import Segment
    from rich.style import Style
    from rich.text import Text

    from mlmon_tui.panels.chart import _segments

    console = Console(color_system="truecolor")

    def merged(segs):
        out = []
        for s in Segment.simplify(Segment(s.text, s.style or Style.null()) for s in segs
                                  if s.text):  # no style and the null style draw the same
            out.append((s.text, s.style))
        return out

    from mlmon_tui.panels import chart_frame as cf

    data = [cf.RunData(r, colour_for(k), n=50, last=0.1 * (k + 1), vmin=0.1, vmax=1.0)
            for k, r in enumerate(["run-a", "run-b", "a-long-run-name"])]
    texts = []
    for w, h in ((100, 30), (38, 8)):
        lay = cf.plan_layout(w, h, len(data))
        texts += [p for line in cf.legend_lines(data, ChartOptions(smoothing=0), lay) for p in line]
    t = Text("a b c", style="bold")
    t.append(" red", "red")
    t.append(" plain ")
    t.append("blue", Style(color="blue", italic=True))
    texts.append(t)
    assert len(texts) > 5
    for text in texts:
        for base in (None, Style(color="white", bgcolor="black")):
            ours = _segments(text, (base + console.get_style(text.style, default="")) if base
                             else (console.get_style(text.style, default="") or None), console)
            full = base + console.get_style(text.style, default="") if base else \
                (console.get_style(text.style, default="") or None)
            theirs = Segment.apply_style(text.render(console, end=""), full)
            assert ours is not None
            assert merged(ours) == merged(theirs), text.plain
    over = Text("abcdef")
    over.stylize("red", 0, 4)
    over.stylize("bold", 2, 6)
    assert _segments(over, None, console) is None
