"""`mlmon-tui screenshot`: render the monitor headlessly, as a user sees it: the data loaded
and analysed, and the gauges drawn from one sample of this machine (host, GPUs, the runs'
processes) taken before rendering."""

from __future__ import annotations

import asyncio
from pathlib import Path


async def render_svg(paths: list[str], size: tuple[int, int], keys: tuple[str, ...] = (), *,
                     gauges: bool = True, gpu: bool = True, **options) -> str:
    """`keys`: pressed once the data is shown (e.g. ("c",) for the classification view);
    `gauges`: one sample of the host and GPUs is taken first, so they show as a user sees them."""
    from mlmon_tui.app.app import MonitorApp

    app = MonitorApp(paths, watch=False, gpu=gpu, **options)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        if gauges:
            app.show_gauges(app.services.sample_once())
        app._update()
        await pilot.pause()
        await pilot.pause()
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
            await pilot.pause()
        return app.export_screenshot(title="mlmon-tui")


def screenshot(paths: list[str], output: str, size: tuple[int, int], **options) -> int:
    svg = asyncio.run(render_svg(paths, size, **options))
    Path(output).write_text(svg, encoding="utf-8")
    return 0
