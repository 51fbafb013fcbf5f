"""The monitor renders each widget only on the lines that changed, and not where widgets in
front cover it (`app.spans`): what a partial update writes must do to the screen exactly
what Textual's own partial update does."""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("tensorboardX")

from appdata import T0, write_tb_runs  # noqa: E402
from textual._compositor import Compositor  # noqa: E402

from mlmon_tui.app import spans  # noqa: E402
from mlmon_tui.app.app import MonitorApp  # noqa: E402
from mlmon_tui.sources.base import ScalarBatch, Update  # noqa: E402


_IDLE_MOVE = re.compile(r"\x1b\[\d+;\d+H(?=\x1b\[\d+;\d+H|\n|$)")


def effect(written: str) -> str:
    """What a write does to the screen: a cursor move followed by nothing to write (Textual
    moves to the edge of a piece that turned out empty) changes nothing, so it is dropped."""
    return _IDLE_MOVE.sub("", written)


async def test_partial_updates_write_what_textual_writes(tmp_path, monkeypatch):
    assert spans.install()
    original = spans.textual_partial_update
    assert original is not None and Compositor.render_partial_update is spans.render_partial_update
    ours = spans.render_partial_update
    compared = []

    def both(self):
        regions = set(self._dirty_regions)
        theirs = original(self)
        self._dirty_regions.update(regions)
        mine = ours(self)
        assert (theirs is None) == (mine is None)
        if mine is not None:
            console = self_app.console
            assert effect(mine.render_segments(console)) == effect(theirs.render_segments(console))
            compared.append(len(regions))
        return mine

    monkeypatch.setattr(Compositor, "render_partial_update", both)
    logdir = write_tb_runs(tmp_path / "logs")
    self_app = app = MonitorApp([str(logdir)], watch=False, clock=lambda: T0 + 200)
    rng = np.random.default_rng(3)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        app._update()
        await pilot.pause()
        for i, key in enumerate(["", "down", "", "space", "", "s", "l", "", "down", "space"]):
            step = 200 + i
            app.store.apply(Update(scalars=[
                ScalarBatch(run, "train/loss", np.array([step]), np.array([T0 + step / 2]),
                            np.array([float(rng.uniform(0.05, 3.0))]))
                for run in ("alpha", "beta", "gamma")]))
            if key:
                await pilot.press(key)
            app._update()
            await pilot.pause()
            await pilot.pause()
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        app._update()
        await pilot.pause()
    assert len(compared) >= 8  # partial updates happened, each one compared
