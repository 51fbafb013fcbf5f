"""`mlmon-tui screenshot` shows the monitor as a user sees it: gauges included, drawn from
one sample of this machine taken before rendering."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("tensorboardX")

from appdata import T0, write_tb_runs  # noqa: E402

from mlmon_tui.app.screenshot import render_svg  # noqa: E402


def _text(svg: str) -> str:
    return re.sub(r"<[^>]+>", "", svg).replace("&#160;", " ")


async def test_screenshot_has_the_gauges_from_one_sample(tmp_path):
    import psutil

    logdir = write_tb_runs(tmp_path / "logs", steps=50)
    text = _text(await render_svg([str(logdir)], (120, 40), clock=lambda: T0 + 30, gpu=False))
    assert "train/loss" in text and "alpha" in text
    assert "CPU" in text and "MEM" in text
    total_g = psutil.virtual_memory().total / 2**30
    assert re.search(r"/%.1fG" % total_g, text)  # this machine's memory, as sampled
    assert "GPU monitoring off" in text  # gpu=False, said as the live panel says it
    bare = _text(await render_svg([str(logdir)], (120, 40), clock=lambda: T0 + 30, gauges=False))
    assert "MEM" not in bare and "train/loss" in bare
