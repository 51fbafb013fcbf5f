"""Run colours: distinct on a dark background, and each one an exact xterm-256 colour so
that the usual downgrade over SSH / tmux (truecolor -> 256) changes nothing.
Pure red and pure yellow are left out: they mean error and warning.

Where colours are few (16) or absent (`--color none`, `NO_COLOR`), runs also differ by the
dash pattern of their line (`PATTERNS`, drawn by the chart and shown in its legend), and
with 16 colours they take the terminal's own ANSI colours (a 256-colour hex would be
mapped to the nearest of 16 and several runs would come out alike)."""

from __future__ import annotations

from functools import lru_cache

from rich.style import Style

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


# the 16-colour terminal's colours a run can take (not red, yellow or the background's)
RUN_COLOURS_16: tuple[str, ...] = (
    "bright_blue", "bright_green", "bright_magenta", "bright_cyan", "bright_white",
    "blue", "green", "magenta", "cyan",
)

# dash patterns over dot columns (a braille cell is 2 dot columns wide), period 6: the
# legend's 3-character sample shows a whole period, so no two samples look alike
PATTERNS: tuple[str, ...] = (
    "111111",  # solid
    "111100",  # dashed
    "101010",  # dotted
    "111010",  # dash dot
    "110110",  # short dashes
    "100100",  # sparse dots
    "110000",  # short dash, long gap
    "111110",  # long dash
)

COLOR_MODES = ("auto", "truecolor", "256", "16", "none")


class RunColour(str):
    """A run's colour (any string Rich parses) that also carries its dash pattern."""

    pattern: int = 0

    def __new__(cls, colour: str, pattern: int = 0) -> "RunColour":
        obj = super().__new__(cls, colour)
        obj.pattern = pattern
        return obj


def colour_for(index: int, mode: str = "truecolor") -> str:
    """The colour of the `index`-th run (wraps around after the palette's end). With
    `mode` "16" or "none", a terminal colour and a dash pattern: with 16 colours no two of
    the first 72 runs share both, without colour the pattern alone tells 8 runs apart."""
    if mode in ("16", "none"):
        return RunColour(RUN_COLOURS_16[index % len(RUN_COLOURS_16)], index % len(PATTERNS))
    return RUN_COLOURS[index % len(RUN_COLOURS)]


def pattern_of(colour: str) -> int:
    return getattr(colour, "pattern", 0)


def swatch(pattern: int, unicode: bool = True, cells: int = 3) -> str:
    """The legend's sample of a dash pattern, `cells` characters wide."""
    bits = PATTERNS[pattern % len(PATTERNS)]
    out = []
    for k in range(cells):
        left, right = bits[(2 * k) % len(bits)] == "1", bits[(2 * k + 1) % len(bits)] == "1"
        if unicode:  # the two middle dot rows of each side
            out.append(chr(0x2800 + (0x06 if left else 0) + (0x30 if right else 0)))
        else:
            out.append("-" if left and right else "," if left else "." if right else " ")
    return "".join(out)


@lru_cache(maxsize=4096)
def style_of(colour: str, dim: bool = False, bold: bool = False) -> Style:
    """A run's line style, made once (a Rich `Style` costs more to build than to draw)."""
    return Style(color=str(colour), dim=dim, bold=bold)
