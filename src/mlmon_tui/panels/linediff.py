"""Send only the cells of a line that changed.

Textual repaints a refreshed region segment by segment: a partial update resends every
segment of the widget's line that touches the dirty span. A line rendered as one long
segment (plain text in one style) is therefore resent whole for a one-digit change. `diff`
compares the new line with the one on screen cell by cell and returns it cut into segments at
the edges of the changed spans, with those spans, so the caller refreshes just those cells
and only they go to the terminal.
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


GAP = 16  # unchanged cells between two changes below which both go out as one write


def changed_spans(old: Strip | None, new: Strip, gap: int = GAP) -> list[tuple[int, int]]:
    """The runs of cells [x1, x2) where two lines differ, runs closer than `gap` cells
    joined (a write costs a cursor move and a style: resending a few same cells is cheaper).
    A line of another length, or with wide characters, differs over its whole width."""
    width = new.cell_length
    if old is None or old.cell_length != width:
        return [(0, width)] if width else []
    fast = _same_cut_spans(old, new, gap)
    if fast is not None:
        return fast
    a, b = _cells(old), _cells(new)
    if a is None or b is None or len(a) != len(b):
        return [(0, width)]
    spans: list[tuple[int, int]] = []
    add_runs(a, b, 0, spans, gap)
    return spans


def add_runs(a, b, x0: int, spans: list[tuple[int, int]], gap: int) -> None:
    """Append to `spans` the runs [x1, x2) where the equally long sequences `a` and `b`
    differ (cells of a line, or one segment's text starting at cell `x0`), a run closer
    than `gap` cells to the last span joined to it."""
    i, n = 0, len(b)
    while i < n:
        if a[i] == b[i]:
            i += 1
            continue
        x1 = x0 + i
        while i < n and a[i] != b[i]:
            i += 1
        if spans and x1 - spans[-1][1] < gap:
            spans[-1] = (spans[-1][0], x0 + i)
        else:
            spans.append((x1, x0 + i))


def _merged(strip: Strip) -> list[tuple[str, object]]:
    """(text, style) of the line's segments, neighbours of one style joined (a line cut at
    the last change compares with its uncut successor)."""
    out: list[tuple[str, object]] = []
    for seg in strip:
        if seg.control:
            continue
        if out and out[-1][1] == seg.style:
            out[-1] = (out[-1][0] + seg.text, seg.style)
        else:
            out.append((seg.text, seg.style))
    return out


def _same_cut_spans(old: Strip, new: Strip, gap: int) -> list[tuple[int, int]] | None:
    """`changed_spans` for two lines cut into segments of the same lengths and styles (a
    new number in the same place, the usual case): whole segments are compared as strings,
    cells only inside those that differ. None when the cuts differ (the caller goes cell
    by cell)."""
    a, b = _merged(old), _merged(new)
    if len(a) != len(b):
        return None
    spans: list[tuple[int, int]] = []
    x = 0
    for (ta, sa), (tb, sb) in zip(a, b):
        n = len(tb)
        if len(ta) != n or sa != sb or cell_len(tb) != n or cell_len(ta) != n:
            return None
        if ta != tb:
            add_runs(ta, tb, x, spans, gap)
        x += n
    return spans


def changed_span(old: Strip | None, new: Strip) -> tuple[int, int] | None:
    """Cells [x1, x2) from the first to the last difference; None when the lines are the same."""
    spans = changed_spans(old, new)
    return (spans[0][0], spans[-1][1]) if spans else None


def cut(strip: Strip, spans: list[tuple[int, int]]) -> Strip:
    """The same line with segment boundaries at the edges of `spans` (nothing merged)."""
    length = strip.cell_length
    cuts = sorted({x for span in spans for x in span if 0 < x < length})
    if not cuts:
        return strip
    if all(cell_len(seg.text) == len(seg.text) for seg in strip):
        return split_at(strip, cuts)  # one-cell characters: the same line, cut for less
    parts = strip.divide(cuts + [length])
    segs: list[Segment] = [s for p in parts for s in p]
    return Strip(segs, length)


def split_at(strip: Strip, xs: list[int]) -> Strip:
    """`strip` with segment boundaries at cells `xs` (ascending), for a line of one-cell
    characters only (`cut` for any line, at a few times the cost)."""
    if not xs:
        return strip
    out: list[Segment] = []
    x, k, n = 0, 0, len(xs)
    for seg in strip:
        text = seg.text
        end = x + len(text)
        while k < n and xs[k] <= x:
            k += 1
        if seg.control or k == n or xs[k] >= end:
            out.append(seg)
        else:
            a = 0
            while k < n and xs[k] < end:
                b = xs[k] - x
                out.append(Segment(text[a:b], seg.style))
                a = b
                k += 1
            out.append(Segment(text[a:], seg.style))
        x = end
    return Strip(out, strip.cell_length)


def diff(old: Strip | None, new: Strip) -> tuple[Strip, list[tuple[int, int]]]:
    """`new` cut at the edges of what changed since `old`, and those spans (empty: nothing)."""
    spans = changed_spans(old, new)
    if not spans:
        return new, spans
    return cut(new, spans), spans
