"""The Distributions and Histogram views, driven by Textual's Pilot, on histograms written by
tensorboardX; SVG snapshots of both."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorboardX")

from appdata import T0  # noqa: E402

from mlmon_tui.app.app import MonitorApp  # noqa: E402
from mlmon_tui.app.inside import DistributionsScreen, HistogramScreen  # noqa: E402
from mlmon_tui.panels.distribution import DistributionChart, draw_distribution, rebin  # noqa: E402


def write_histograms(root):
    from tensorboardX import SummaryWriter

    rng = np.random.default_rng(7)
    w = SummaryWriter(str(root / "mlp"))
    for s in range(0, 200, 10):
        wall = T0 + s
        w.add_scalar("train/loss", 1.0 / (1 + s), s, walltime=wall)
        w.add_histogram("weights/fc1", rng.normal(0, 0.1 + s / 400, 2000), s, walltime=wall)
        w.add_histogram("weights/fc2", rng.normal(s / 200, 0.2, 2000), s, walltime=wall)
        w.add_histogram("activations/relu1", np.maximum(rng.normal(-s / 100, 1, 2000), 0), s,
                        walltime=wall)
    w.close()
    return root


async def _settle(pilot) -> None:
    await pilot.pause()
    pilot.app._update()
    await pilot.pause()
    await pilot.press("i")
    await pilot.pause()
    await pilot.app.screen.refresh_data()
    await pilot.pause()
    await pilot.pause()


def test_distributions_snapshot(snap_compare, tmp_path):
    app = MonitorApp([str(write_histograms(tmp_path / "logs"))], watch=False,
                     clock=lambda: T0 + 200)
    assert snap_compare(app, terminal_size=(120, 36), run_before=_settle)


def test_histogram_snapshot(snap_compare, tmp_path):
    app = MonitorApp([str(write_histograms(tmp_path / "logs"))], watch=False,
                     clock=lambda: T0 + 200)

    async def run_before(pilot):
        await _settle(pilot)
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"fc2", "enter")
        await pilot.pause()
        await pilot.app.screen.refresh_data()
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("left", "left")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 30), run_before=run_before)


async def test_keys_filter_open_and_step(tmp_path):
    app = MonitorApp([str(write_histograms(tmp_path / "logs"))], watch=False,
                     clock=lambda: T0 + 200)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app._update()
        await pilot.press("i")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, DistributionsScreen)
        await screen.refresh_data()
        assert sorted(t for _, t in screen.charts) == ["activations/relu1", "weights/fc1",
                                                       "weights/fc2"]
        chart = screen.charts[("mlp", "weights/fc2")]
        assert len(chart.steps) == 20 and chart.pct.shape == (20, 9)
        assert (np.diff(chart.pct, axis=1) >= 0).all()  # bands nest
        await pilot.press("slash")
        await pilot.pause()
        await pilot.press(*"^act", "enter")
        await pilot.pause()
        await screen.refresh_data()
        assert list(screen.charts) == [("mlp", "activations/relu1")]
        screen.charts[("mlp", "activations/relu1")].focus()
        await pilot.press("enter")
        await pilot.pause()
        hist = app.screen
        assert isinstance(hist, HistogramScreen) and hist.tag == "activations/relu1"
        assert "step 190" in hist.chart.caption and "latest" in hist.chart.caption
        await pilot.press("left")
        assert "step 180" in hist.chart.caption and "[19/20]" in hist.chart.caption
        await pilot.press("home")
        assert "step 0 " in hist.chart.caption
        await pilot.press("end")
        assert "latest" in hist.chart.caption
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is screen
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, DistributionsScreen)


def test_band_shading_nests_light_to_dark():
    steps = np.arange(50)
    base = np.linspace(-1, 1, 9)
    pct = np.array([base * (1 + s / 10) for s in steps])
    rows = draw_distribution(steps, pct, 60, 14, "t")
    styles = [str(seg.style.color.name) for row in rows[1:-1] for seg in row
              if seg.style and seg.style.color and seg.text.strip()]
    for colour in ("#ffd7af", "#ff8700", "#875f00"):
        assert colour in styles
    # the middle row at the right is the median's colour; the top right is the outer band
    mid = rows[1 + 6][-1].style.color.name
    assert mid in ("#875f00", "#d75f00")
    assert rows[1][-1].style.color.name == "#ffd7af"


def test_rebin_keeps_the_count():
    rows = np.array([[0.0, 1.0, 10.0], [1.0, 3.0, 30.0], [3.0, 3.0, 5.0]])
    c = rebin(rows, 0.0, 3.0, 6)
    assert c.sum() == pytest.approx(45.0)
    assert c[0] == pytest.approx(5.0) and c[-1] == pytest.approx(15.0 / 2 + 5.0)
    assert DistributionChart("r", "t").steps.shape == (0,)


def test_the_demo_writes_histograms_and_activation_statistics_for_one_run(tmp_path):
    from mlmon_tui.analysis import HealthMonitor
    from mlmon_tui.app import demo_write
    from mlmon_tui.app.export import load

    demo_write.write(tmp_path / "logs", rate=4.0, until=300, t0=T0)
    store = load([str(tmp_path / "logs")])
    runs = {r for r, _ in store.histograms}
    assert runs == {"tb/resnet-baseline"}
    assert {t for _, t in store.histograms} == {"weights/conv1", "weights/conv2", "weights/fc",
                                              "activations/relu1", "activations/relu2"}
    assert len(store.histograms[("tb/resnet-baseline", "weights/fc")]) == 13
    assert not [t for t in store.tags("tb/resnet-baseline") if "act" in t]  # charts unchanged
    inside = {"dead_units", "saturation", "activation_explosion", "layer_not_learning"}
    assert not [f for f in HealthMonitor().update(store) if f.kind in inside]
