"""Send only the cells of a line that changed.

Textual repaints a refreshed region segment by segment: a partial update resends every
segment of the widget's line that touches the dirty span. A line rendered as one long
segment (plain text in one style) is therefore resent whole for a one-digit change. `diff`
compares the new line with the one on screen cell by cell and returns it cut into segments at
the edges of the changed span, with that span, so the caller refreshes just those cells and
only they go to the terminal.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.segment import Segment
from textual.strip import Strip


def _cells(strip: Strip) -> list[tuple[str, object]] | None:
    """(character, style) per cell, or None where a character is not one cell wide."""
    out: list[tuple[str, object]] = []
    for seg in strip:
        if seg.control:
            continue
        text = seg.text
        if cell_len(text) != len(text):
            return None
        style = seg.style
        out.extend((c, style) for c in text)
    return out


def changed_span(old: Strip | None, new: Strip) -> tuple[int, int] | None:
    """Cells [x1, x2) where two lines differ; None when they are the same. A line of another
    length, or with wide characters, differs over its whole width."""
    width = new.cell_length
    if old is None or old.cell_length != width:
        return (0, width) if width else None
    a, b = _cells(old), _cells(new)
    if a is None or b is None or len(a) != len(b):
        return (0, width)
    n = len(b)
    x1 = 0
    while x1 < n and a[x1] == b[x1]:
        x1 += 1
    if x1 == n:
        return None
    x2 = n
    while x2 > x1 and a[x2 - 1] == b[x2 - 1]:
        x2 -= 1
    return (x1, x2)


def cut(strip: Strip, span: tuple[int, int]) -> Strip:
    """The same line with segment boundaries at both edges of `span` (nothing merged)."""
    x1, x2 = span
    cuts = [x for x in (x1, x2) if 0 < x < strip.cell_length]
    if not cuts:
        return strip
    parts = strip.divide(sorted(set(cuts)) + [strip.cell_length])
    segs: list[Segment] = [s for p in parts for s in p]
    return Strip(segs, strip.cell_length)


def diff(old: Strip | None, new: Strip) -> tuple[Strip, tuple[int, int] | None]:
    """`new` cut at the edges of what changed since `old`, and that span (None: nothing)."""
    span = changed_span(old, new)
    if span is None:
        return new, None
    return cut(new, span), span
