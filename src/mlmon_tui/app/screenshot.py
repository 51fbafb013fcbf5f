"""`mlmon-tui screenshot`: render the monitor headlessly, once the data is loaded."""

from __future__ import annotations

import asyncio
from pathlib import Path


async def render_svg(paths: list[str], size: tuple[int, int], keys: tuple[str, ...] = (),
                     **options) -> str:
    """`keys`: pressed once the data is shown (e.g. ("c",) for the classification view)."""
    from mlmon_tui.app.app import MonitorApp

    app = MonitorApp(paths, watch=False, **options)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
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
