"""SVG snapshots of the whole monitor at 80x24 and 160x48 (fixed data, fixed clock)."""

from __future__ import annotations

import pytest

pytest.importorskip("tensorboardX")

from appdata import T0, write_tb_runs  # noqa: E402

from mlmon_tui.app.app import MonitorApp  # noqa: E402


async def _settle(pilot) -> None:
    await pilot.pause()
    pilot.app._update()
    await pilot.pause()
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_monitor_snapshot(snap_compare, tmp_path, size):
    logdir = write_tb_runs(tmp_path / "logs")
    app = MonitorApp([str(logdir)], watch=False, clock=lambda: T0 + 200)
    assert snap_compare(app, terminal_size=size, run_before=_settle)
