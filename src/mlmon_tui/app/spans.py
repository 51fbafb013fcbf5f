"""Send only the dirty span of a line, not the line from its widget's left edge.

Textual's partial screen update (`ChopsUpdate.render_segments`) writes each refreshed span
starting at the left edge of the widget it falls in: a new step digit at column 43 of the
runs list resends columns 1..43, a new legend value resends the legend from its left edge.
`install()` replaces that method with one that starts at the span itself. A span whose start
falls inside a wide (two-cell) character starts at the widget's edge as before, so nothing on
screen is ever split. It does nothing where the Textual in use has no such method.
"""

from __future__ import annotations

from rich.console import Console
from rich.cells import cell_len

try:  # Textual internals: checked, and left alone if they are not what this expects
    from textual._compositor import ChopsUpdate
    from textual.strip import Strip
except ImportError:  # pragma: no cover
    ChopsUpdate = None  # type: ignore[assignment]

_installed = False


def _starts_cleanly(strip: "Strip", cells: int) -> bool:
    """True when the first `cells` cells of the line hold only one-cell characters, so a
    write starting after them does not cut a character in two."""
    seen = 0
    for seg in strip:
        if seg.control:
            continue
        text = seg.text[: cells - seen]
        if cell_len(text) != len(text):
            return False
        seen += len(text)
        if seen >= cells:
            return True
    return True


def render_segments(self, console: Console) -> str:
    """`ChopsUpdate.render_segments`, starting each write at its dirty span."""
    from rich.control import Control

    sequences: list[str] = []
    append = sequences.append
    move_to = Control.move_to
    chops = self.chops
    chop_ends = self.chop_ends
    last_y = self.spans[-1][0]
    for y, x1, x2 in self.spans:
        line = chops[y]
        ends = chop_ends[y]
        for end, (x, strip) in zip(ends, line.items()):
            if strip is None or x > x2 or end <= x1:
                continue
            if x2 > x >= x1 and end <= x2:
                append(move_to(x, y).segment.text)
                append(strip.render(console))
                continue
            start = x1 if x1 > x and _starts_cleanly(strip, x1 - x) else x
            strip = strip.crop(start - x, min(end, x2) - x)
            append(move_to(start, y).segment.text)
            append(strip.render(console))
        if y != last_y:
            append("\n")
    return "".join(sequences)


def install() -> bool:
    """Use `render_segments` for Textual's partial updates; True when in place."""
    global _installed
    if _installed:
        return True
    if ChopsUpdate is None or not callable(getattr(ChopsUpdate, "render_segments", None)):
        return False
    ChopsUpdate.render_segments = render_segments
    _installed = True
    return True
