"""Send only the dirty span of a line, not the line from its widget's left edge; and render
only the lines that changed.

Textual's partial screen update (`ChopsUpdate.render_segments`) writes each refreshed span
starting at the left edge of the widget it falls in: a new step digit at column 43 of the
runs list resends columns 1..43, a new legend value resends the legend from its left edge.
`install()` replaces that method with one that starts at the span itself. A span whose start
falls inside a wide (two-cell) character starts at the widget's edge as before, so nothing on
screen is ever split.

Textual's partial update (`Compositor.render_partial_update`) also renders, line by line,
every visible widget that overlaps the bounding box of all dirty regions: with a new step in
the runs list (top left), new gauges (bottom left) and new chart columns (right), that box is
the whole screen, and every widget, containers included, renders all its lines to have only a
few of them written. `install()` replaces it with one that renders each widget only on the
lines where it overlaps a dirty region, in the same front-to-back order, so every written
cell is what the original would write. It does nothing where the Textual in use has no such
method.
"""

from __future__ import annotations

from rich.console import Console
from rich.cells import cell_len

try:  # Textual internals: checked, and left alone if they are not what this expects
    from textual._compositor import ChopsUpdate, Compositor
    from textual.geometry import Region
    from textual.strip import Strip
except ImportError:  # pragma: no cover
    ChopsUpdate = Compositor = None  # type: ignore[assignment]

_installed = False
textual_partial_update = None  # Textual's own, once `install()` replaced it (for tests)


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


def _dirty_rows(spans) -> dict[int, tuple[int, int]]:
    """y -> (first, last + 1) column dirty on that line."""
    rows: dict[int, tuple[int, int]] = {}
    for y, x1, x2 in spans:
        old = rows.get(y)
        rows[y] = (x1, x2) if old is None else (min(old[0], x1), max(old[1], x2))
    return rows


def _covered(chops, cuts, lines, rows, vx1: int, vx2: int) -> bool:
    """True when, on each of `lines`, every piece of the screen line that this widget spans
    and that touches the line's dirty columns was already taken by a widget in front."""
    for y in lines:
        r0, r1 = rows[y]
        line_cuts = cuts[y]
        taken = chops[y]
        for k in range(len(line_cuts) - 1):
            c, nxt = line_cuts[k], line_cuts[k + 1]
            if c >= vx2 or c >= r1:
                break
            if nxt > r0 and c >= vx1 and taken.get(c) is None:
                return False
    return True


def render_partial_update(self) -> "ChopsUpdate | None":
    """`Compositor.render_partial_update`, rendering each widget on its dirty lines only."""
    screen_region = self.size.region
    update_regions = self._dirty_regions.copy()
    self._dirty_regions.clear()
    if not update_regions:
        return None
    crop = Region.from_union(update_regions).intersection(screen_region)
    spans = list(self._regions_to_spans(update_regions))
    rows = _dirty_rows(spans)
    cuts = self.cuts
    chops = [dict.fromkeys(cut_set[:-1]) for cut_set in cuts]
    get_row = rows.get
    for widget, (region, clip) in self.visible_widgets.items():
        vis = region.intersection(clip)
        if not vis.width or not vis.height or not crop.overlaps(vis):
            continue
        vx1, vx2 = vis.x, vis.x + vis.width
        lines = []
        for y in range(max(vis.y, crop.y), min(vis.y + vis.height, crop.y + crop.height)):
            r = get_row(y)
            if r is not None and r[0] < vx2 and r[1] > vx1:
                lines.append(y)
        if not lines or _covered(chops, cuts, lines, rows, vx1, vx2):
            continue  # what it would show there is behind widgets already drawn
        first_cut, last_cut = vx1, vx2
        y0 = lines[0]
        strips = widget.render_lines(Region(vx1 - region.x, y0 - region.y, vis.width,
                                            lines[-1] - y0 + 1))
        for y, strip in zip(range(y0, lines[-1] + 1), strips):
            if y not in rows:
                continue
            chops_line = chops[y]
            final_cuts = [cut for cut in cuts[y] if last_cut >= cut >= first_cut]
            get_chop = chops_line.get
            for cut, piece in zip(final_cuts, strip.divide([cut - vx1 for cut in final_cuts[1:]])):
                if get_chop(cut) is None:
                    chops_line[cut] = piece
    chop_ends = [cut_set[1:] for cut_set in cuts]
    return ChopsUpdate(chops, spans, chop_ends)


def _compositor_ok() -> bool:
    c = Compositor
    return (c is not None and callable(getattr(c, "render_partial_update", None))
            and callable(getattr(c, "_regions_to_spans", None))
            and hasattr(c, "cuts") and hasattr(c, "visible_widgets"))


def install() -> bool:
    """Use `render_segments` and `render_partial_update` for Textual's partial updates;
    True when in place."""
    global _installed
    if _installed:
        return True
    if ChopsUpdate is None or not callable(getattr(ChopsUpdate, "render_segments", None)):
        return False
    ChopsUpdate.render_segments = render_segments
    if _compositor_ok():
        global textual_partial_update
        textual_partial_update = Compositor.render_partial_update
        Compositor.render_partial_update = render_partial_update
    _installed = True
    return True
