"""An idle monitor does no work: the once-a-second tick looks at the runs only when
something can have changed (new data, the health verdict, a run's last point getting old)."""

from __future__ import annotations

import pytest

pytest.importorskip("tensorboardX")

from appdata import T0, write_tb_runs  # noqa: E402

from mlmon_tui.app.app import LIVE_SECONDS, MonitorApp  # noqa: E402
from mlmon_tui.panels.runs import RunsPanel  # noqa: E402


class CountingApp(MonitorApp):
    """The real app, counting how often it rebuilt the runs list."""

    runs_updates = 0

    def _update_runs(self) -> None:
        self.runs_updates += 1
        super()._update_runs()


async def test_idle_ticks_do_nothing_until_a_run_gets_old(tmp_path):
    logdir = write_tb_runs(tmp_path / "logs", steps=100)  # last point at T0 + 49.5
    now = [T0 + 50.0]
    app = CountingApp([str(logdir)], watch=False, clock=lambda: now[0])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app._update()
        await pilot.pause()
        app._tick()  # the first tick learns what it watches
        before = app.runs_updates
        for _ in range(5):
            now[0] += 1.0
            app._tick()
        assert app.runs_updates == before  # nothing changed: nothing looked at
        assert {app.run_state(r) for r in app.store.runs()} == {"live"}
        now[0] = T0 + 49.5 + LIVE_SECONDS + 0.1  # the runs' last points are now old
        app._tick()
        assert app.runs_updates == before + 1
        app._tick()
        assert app.runs_updates == before + 1  # and not again: no run gets old any more


async def test_new_data_is_drawn_on_the_next_tick(tmp_path):
    from mlmon_tui.sources.base import ScalarBatch, Update
    import numpy as np

    logdir = write_tb_runs(tmp_path / "logs", steps=50)
    app = CountingApp([str(logdir)], watch=False, clock=lambda: T0 + 30)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        app._update()
        app._tick()
        before = app.runs_updates
        app._tick()
        assert app.runs_updates == before
        step = np.array([50], dtype=np.int64)
        app.store.apply(Update(scalars=[ScalarBatch("alpha", "train/loss", step, np.array([T0 + 25.0]),
                                                    np.array([0.5]))]))
        app._tick()
        assert app.runs_updates == before + 1
        await pilot.pause()
        assert app.query_one(RunsPanel)._rows[0].last_step == 50
