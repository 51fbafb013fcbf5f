"""`--color auto|truecolor|256|16|none`: how many colours the monitor uses.

Textual reads its colour system and `NO_COLOR` when the app is created; `textual_colors`
sets both for that moment from the user's choice (an explicit `--color` wins over
`NO_COLOR`, as no-color.org asks). `auto` keeps Textual's detection (`COLORTERM`, `TERM`)
and honours `NO_COLOR`; `effective` says what was chosen, so that runs get dash patterns
and terminal colours where colours are few."""

from __future__ import annotations

import os
from contextlib import contextmanager

from mlmon_tui.panels.palette import COLOR_MODES

_TEXTUAL = {"truecolor": "truecolor", "256": "256", "16": "standard"}


@contextmanager
def textual_colors(mode: str):
    """While the Textual app is created: its colour system and NO_COLOR for `mode`."""
    import textual.constants as tc

    if mode not in COLOR_MODES:
        raise ValueError(f"--color must be one of {', '.join(COLOR_MODES)}")
    old_system, old_no = tc.COLOR_SYSTEM, os.environ.get("NO_COLOR")
    try:
        if mode == "none":
            os.environ["NO_COLOR"] = "1"
        elif mode != "auto":
            os.environ.pop("NO_COLOR", None)
            tc.COLOR_SYSTEM = _TEXTUAL[mode]
        yield
    finally:
        tc.COLOR_SYSTEM = old_system
        if old_no is None:
            os.environ.pop("NO_COLOR", None)
        else:
            os.environ["NO_COLOR"] = old_no


def effective(mode: str, app) -> str:
    """truecolor, 256, 16 or none: what the app created under `textual_colors` uses."""
    if getattr(app, "no_color", False):
        return "none"
    if mode != "auto":
        return mode
    system = getattr(app.console, "color_system", None) or "truecolor"
    return {"standard": "16", "windows": "16", "256": "256"}.get(system, "truecolor")
