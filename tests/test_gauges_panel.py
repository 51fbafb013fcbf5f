"""The gauges panel in a running Textual app, fed snapshots from the real sampler."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import subprocess
import sys
import time

import pytest
from nvml_fake import FakeNvml
from textual.app import App, ComposeResult

from mlmon_tui.panels.gauges import GaugesPanel
from mlmon_tui.sources.system.procs import ProcessTracker
from mlmon_tui.sources.system.sampler import Sampler


class GaugesApp(App):
    def __init__(self, **kw) -> None:
        super().__init__()
        self.kw = kw

    def compose(self) -> ComposeResult:
        yield GaugesPanel(**self.kw)


def snapshot(monkeypatch, fixture: str | None, tracker=None):
    if fixture:
        FakeNvml(fixture).install(monkeypatch)
    s = Sampler(gpu=fixture is not None, tracker=tracker)
    s.sample_now()
    return s.sample_now()


def screen_rows(panel: GaugesPanel) -> list[str]:
    """The panel's rows as the screen shows them (all its cells composed)."""
    strips = panel.app.screen._compositor.render_strips()
    r = panel.region
    return [strips[y].crop(r.x, r.right).text.rstrip() for y in range(r.y, r.bottom)]


async def test_one_gpu(monkeypatch):
    snap = snapshot(monkeypatch, "one_gpu_busy")
    async with GaugesApp().run_test(size=(120, 40)) as pilot:
        panel = pilot.app.query_one(GaugesPanel)
        panel.update_snapshot(snap)
        await pilot.pause()
        rows = screen_rows(panel)
        assert rows == [r.rstrip() for r in panel.plain_lines()]
        gpu = [r for r in rows if r.startswith("GPU0")]
        assert len(gpu) == 1
        assert "H100 80GB HBM3" in gpu[0] and "100%" in gpu[0] and "54°C" in gpu[0]
        assert "694/700W" in gpu[0] and "1.8G/79.6G" in gpu[0]
        assert rows[0].startswith("CPU") and any(r.startswith("MEM") for r in rows)


async def test_eight_gpus_one_line_each(monkeypatch):
    snap = snapshot(monkeypatch, "eight_gpu")
    async with GaugesApp().run_test(size=(100, 30)) as pilot:
        panel = pilot.app.query_one(GaugesPanel)
        panel.update_snapshot(snap)
        await pilot.pause()
        rows = screen_rows(panel)
        gpu_rows = [r for r in rows if r.startswith("GPU") and r[3].isdigit()]
        assert [int(r[3:5]) for r in gpu_rows] == list(range(8))
        assert all(len(r) <= 100 for r in rows)
        assert "n/a°C" in gpu_rows[5] and "n/a/700W" in gpu_rows[5]
        assert panel.size.height == len(panel.plain_lines()) <= 14


async def test_no_gpu_says_why_in_one_line(monkeypatch):
    snap = snapshot(monkeypatch, "error_library_not_found")
    async with GaugesApp().run_test(size=(100, 30)) as pilot:
        panel = pilot.app.query_one(GaugesPanel)
        panel.update_snapshot(snap)
        await pilot.pause()
        rows = screen_rows(panel)
        gpu_rows = [r for r in rows if r.startswith("GPU")]
        assert gpu_rows == ["GPU n/a: no NVIDIA driver (libnvidia-ml.so not found)"]
        assert rows[0].startswith("CPU")


async def test_mig_shows_instances_and_missing_util(monkeypatch):
    snap = snapshot(monkeypatch, "mig")
    async with GaugesApp().run_test(size=(120, 30)) as pilot:
        panel = pilot.app.query_one(GaugesPanel)
        panel.update_snapshot(snap)
        await pilot.pause()
        rows = screen_rows(panel)
        (g,) = [r for r in rows if r.startswith("GPU0")]
        assert "n/a (MIG)" in g and "30.0G/80.0G" in g
        (mig,) = [r for r in rows if r.strip().startswith("MIG")]
        assert "0:22.0G/40.0G" in mig and "1:7.0G/20.0G" in mig and "2:1.0G/10.0G" in mig
        assert "util n/a" in mig
        assert any("pid n/a" in r for r in rows)  # the host pid NVML reported


async def test_container_host_pids_show_pid_na(monkeypatch):
    snap = snapshot(monkeypatch, "container_host_pids")
    async with GaugesApp().run_test(size=(120, 30)) as pilot:
        panel = pilot.app.query_one(GaugesPanel)
        panel.update_snapshot(snap)
        await pilot.pause()
        (other,) = [r for r in screen_rows(panel) if "not in a run" in r]
        assert other.count("pid n/a") == 2 and "1.4G" in other and "500M" in other


async def test_small_height_is_one_line_and_grows_back(monkeypatch):
    snap = snapshot(monkeypatch, "eight_gpu")
    async with GaugesApp().run_test(size=(80, 12)) as pilot:
        panel = pilot.app.query_one(GaugesPanel)
        panel.update_snapshot(snap)
        await pilot.pause()
        assert panel.size.height == 1
        (row,) = screen_rows(panel)
        assert row.startswith("CPU") and "GPU " in row and "mem " in row
        await pilot.resize_terminal(80, 40)
        await pilot.pause()
        assert panel.size.height > 8
        panel.compact = True
        await pilot.pause()
        assert panel.size.height == 1


async def test_same_snapshot_draws_nothing_new(monkeypatch):
    FakeNvml("one_gpu_busy").install(monkeypatch)
    s = Sampler(gpu=True)
    s.sample_now()
    async with GaugesApp().run_test(size=(120, 30)) as pilot:
        panel = pilot.app.query_one(GaugesPanel)
        panel.update_snapshot(s.latest)
        await pilot.pause()
        draws = panel.draws
        for _ in range(5):
            panel.update_snapshot(s.latest)
        await pilot.pause()
        assert panel.draws == draws
        panel.update_snapshot(s.sample_now())
        await pilot.pause()
        assert panel.draws == draws + 1


async def test_run_processes_are_listed(tmp_path, monkeypatch):
    run = tmp_path / "exp1"
    run.mkdir()
    child = subprocess.Popen(
        [sys.executable, "-c", f"f = open({str(run / 'log.csv')!r}, 'a'); print('ok', flush=True); "
         "import time; time.sleep(30)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout.readline().strip() == "ok"
        snap = snapshot(monkeypatch, None, ProcessTracker(lambda: {"exp1": [str(run)]}))
        async with GaugesApp().run_test(size=(120, 30)) as pilot:
            panel = pilot.app.query_one(GaugesPanel)
            panel.update_snapshot(snap)
            await pilot.pause()
            (row,) = [r for r in screen_rows(panel) if r.startswith("exp1")]
            assert str(child.pid) in row and "python" in row
    finally:
        child.kill()
        child.wait()


@pytest.mark.parametrize("ascii", [False, True])
async def test_waiting_and_ascii(monkeypatch, ascii):
    async with GaugesApp(ascii=ascii).run_test(size=(80, 30)) as pilot:
        panel = pilot.app.query_one(GaugesPanel)
        await pilot.pause()
        assert "waiting" in screen_rows(panel)[0]
        panel.update_snapshot(snapshot(monkeypatch, "eight_gpu"))
        await pilot.pause()
        text = "".join(screen_rows(panel))
        assert text.isascii() == ascii
        assert ("#" in text) == ascii and ("█" in text) == (not ascii)


async def test_a_stale_snapshot_says_so(monkeypatch):
    snap = snapshot(monkeypatch, "one_gpu_busy")
    async with GaugesApp(stale_after=0.2).run_test(size=(120, 30)) as pilot:
        panel = pilot.app.query_one(GaugesPanel)
        # taken now, not before the app started (a slow start on a busy machine would make
        # it stale already)
        snap = dataclasses.replace(snap, mono=time.monotonic())
        panel.update_snapshot(snap)
        await pilot.pause()
        assert "no new sample" not in screen_rows(panel)[0]
        await asyncio.sleep(1.6)
        panel.update_snapshot(snap)  # the sampler is stuck: the same snapshot again
        await pilot.pause()
        assert re.search(r"no new sample for [1-9]\d*s", screen_rows(panel)[0])


def test_last_change_finds_the_rightmost_difference():
    from rich.text import Text

    from mlmon_tui.panels.gauges import last_change

    a = Text("GPU0  98% util  700W")
    assert last_change(a, Text("GPU0  97% util  700W"), 30) == 8
    assert last_change(a, Text("GPU0  98% util  699W"), 30) == 19
    assert last_change(a, Text("GPU0  98% util  700W  61C"), 30) == 25
    assert last_change(a, Text.assemble("GPU0  98% util  700", ("W", "red")), 30) == 20  # style only
    assert last_change(a, a.copy(), 30) == 0


async def test_only_changed_rows_are_redrawn(monkeypatch):
    FakeNvml("one_gpu_busy").install(monkeypatch)  # recorded figures: the same every sample
    s = Sampler(gpu=True)
    s.sample_now()
    first = s.sample_now()
    async with GaugesApp().run_test(size=(120, 30)) as pilot:
        panel = pilot.app.query_one(GaugesPanel)
        panel.update_snapshot(first)
        await pilot.pause()
        rows = {r.cells[0].text.plain[:4]: r.cells[0] for r in panel._rows}
        gpu_text = rows["GPU0"].text
        before = panel.cells_refreshed
        second = s.sample_now()  # same bucket of history: the GPU row does not change
        assert (first.seq, second.seq) == (2, 3)  # two samples per history cell: same cell
        panel.update_snapshot(second)
        await pilot.pause()
        assert rows["GPU0"].text is gpu_text  # not redrawn
        assert panel.cells_refreshed - before < len(panel._rows)


async def test_a_line_that_comes_and_goes_does_not_relayout_the_screen(monkeypatch):
    """A process seen in one sample and not the next: its row stays (blank) rather than
    being removed and mounted again, which lays out and repaints the whole screen."""
    from dataclasses import replace

    snap = snapshot(monkeypatch, "eight_gpu")
    fewer = replace(snap, gpus=snap.gpus[:6], seq=snap.seq + 1)
    async with GaugesApp().run_test(size=(120, 40)) as pilot:
        panel = pilot.app.query_one(GaugesPanel)
        panel.update_snapshot(snap)
        await pilot.pause()
        rows = list(panel._rows)
        height = panel.size.height
        for k in range(4):
            panel.update_snapshot(replace(fewer if k % 2 == 0 else snap, seq=snap.seq + 2 + k))
            await pilot.pause()
            assert panel._rows == rows and panel.size.height == height
        assert len(panel.plain_lines()) > 0
        for k in range(12):  # shorter for good: the rows are given back
            panel.update_snapshot(replace(fewer, seq=snap.seq + 10 + k))
        await pilot.pause()
        assert len(panel._rows) == len(panel.plain_lines()) < len(rows)


async def test_rows_drawn_in_part_show_the_new_figures(monkeypatch):
    """Lines repainted only where they changed still show exactly the new lines."""
    from dataclasses import replace

    snap = snapshot(monkeypatch, "eight_gpu")
    async with GaugesApp().run_test(size=(120, 40)) as pilot:
        panel = pilot.app.query_one(GaugesPanel)
        panel.update_snapshot(snap)
        await pilot.pause()
        cpu = replace(snap.host, cpu_percent=(snap.host.cpu_percent + 37.0) % 100)
        panel.update_snapshot(replace(snap, host=cpu, seq=snap.seq + 1))
        await pilot.pause()
        rows = screen_rows(panel)
        assert rows == [r.rstrip() for r in panel.plain_lines()]
        assert f"{cpu.cpu_percent:.0f}" in rows[0]
