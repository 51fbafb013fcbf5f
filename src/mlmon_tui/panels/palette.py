"""Run colours: distinct on a dark background, and each one an exact xterm-256 colour so
that the usual downgrade over SSH / tmux (truecolor -> 256) changes nothing.
Pure red and pure yellow are left out: they mean error and warning."""

from __future__ import annotations

RUN_COLOURS: tuple[str, ...] = (
    "#5fafff",  # blue          (xterm 75)
    "#ff8700",  # orange        (208)
    "#5fd75f",  # green         (77)
    "#ff5f87",  # pink          (204)
    "#af87ff",  # violet        (141)
    "#00d7d7",  # cyan          (44)
    "#d7af5f",  # sand          (179)
    "#d7ff5f",  # lime          (191)
    "#ff87d7",  # magenta       (212)
    "#87d7ff",  # sky           (117)
    "#d7875f",  # brown         (173)
    "#949494",  # grey          (246)
)

ERROR_COLOUR = "#ff0000"
WARNING_COLOUR = "#ffd700"


def colour_for(index: int) -> str:
    """The colour of the `index`-th run (wraps around after the palette's end)."""
    return RUN_COLOURS[index % len(RUN_COLOURS)]
