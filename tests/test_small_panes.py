"""Small tmux panes (80x24, 60x20, 40x12): a compact layout, no widget drawn over another,
and the charts (the most useful panel) always there; SVG snapshots at the smaller sizes
(80x24 is in test_snapshots.py)."""

from __future__ import annotations

import pytest

pytest.importorskip("tensorboardX")

from appdata import T0, write_tb_runs  # noqa: E402

from mlmon_tui.app.app import MonitorApp  # noqa: E402
from mlmon_tui.panels.chart import Chart, PlotStrip  # noqa: E402

SIZES = [(80, 24), (60, 20), (40, 12)]


async def _settle(pilot) -> None:
    await pilot.pause()
    pilot.app._update()
    await pilot.pause()
    await pilot.pause()


def _overlaps(app) -> list[tuple]:
    """Pairs of visible widgets, neither inside the other, whose drawn areas intersect."""
    shown = [(w, region.intersection(clip))
             for w, (region, clip) in app.screen._compositor.visible_widgets.items()]
    shown = [(w, r) for w, r in shown if r.area]
    bad = []
    for i, (a, ra) in enumerate(shown):
        for b, rb in shown[i + 1:]:
            if a in b.ancestors or b in a.ancestors:
                continue
            if ra.overlaps(rb):
                bad.append((a, b, ra, rb))
    return bad


@pytest.mark.parametrize("size", SIZES)
async def test_small_pane_layout(tmp_path, size):
    logdir = write_tb_runs(tmp_path / "logs")
    app = MonitorApp([str(logdir)], watch=False, clock=lambda: T0 + 200)
    async with app.run_test(size=size) as pilot:
        await _settle(pilot)
        assert _overlaps(app) == []
        visible = app.screen._compositor.visible_widgets
        charts = [c for c in app.query(Chart) if c in visible]
        assert charts, "no chart on screen"
        first = charts[0]
        assert first.frame is not None and (first.frame.codes != 0x20).any()  # a line is drawn
        strips = [s for s in first.query(PlotStrip) if s in visible]
        assert sum(s.size.width for s in strips) >= size[0] // 2  # the chart has room
        side = app.query_one("#side")
        assert side.display == (size[0] >= 70)  # a narrow pane gives the runs' room away
        assert app.query_one("#status") in visible


@pytest.mark.parametrize("size", [(60, 20), (40, 12)])
def test_small_pane_snapshot(snap_compare, tmp_path, size):
    logdir = write_tb_runs(tmp_path / "logs")
    app = MonitorApp([str(logdir)], watch=False, clock=lambda: T0 + 200)
    assert snap_compare(app, terminal_size=size, run_before=_settle)
