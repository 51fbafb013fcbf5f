"""linediff: the span of a line that changed, and the line cut into segments at its edges."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.strip import Strip

from mlmon_tui.panels.linediff import changed_span, changed_spans, diff

RED = Style(color="red")


def strip(*parts) -> Strip:
    return Strip([Segment(t, s) for t, s in parts])


def test_changed_span_is_the_cells_that_differ():
    a = strip(("run-01      2000  1.00", None))
    assert changed_span(a, strip(("run-01      2001  1.00", None))) == (15, 16)
    assert changed_span(a, strip(("run-01      2100  1.00", None))) == (13, 14)
    assert changed_span(a, strip(("run-01      2099  1.00", None))) == (14, 16)
    assert changed_span(a, strip(("run-01      2000  1.00", None))) is None
    # a style change alone is a change; segment boundaries alone are not
    assert changed_span(a, strip(("run-01      2000  1.0", None), ("0", RED))) == (21, 22)
    assert changed_span(a, strip(("run-01  ", None), ("    2000  1.00", None))) is None
    # no line on screen, another width, or wide characters: the whole line
    assert changed_span(None, a) == (0, 22)
    assert changed_span(a, strip(("run-01      2000  1.000", None))) == (0, 23)
    assert changed_span(strip(("名前  2000", None)), strip(("名前  2001", None))) == (0, 10)


def test_diff_cuts_the_line_at_the_changed_span_and_keeps_its_text_and_styles():
    a = strip(("● ", RED), ("run-01      2000  1.00", None))
    b = strip(("● ", RED), ("run-01      2001  1.00", None))
    line, spans = diff(a, b)
    assert spans == [(17, 18)]
    assert line.text == b.text and line.cell_length == b.cell_length
    assert [s.text for s in line] == ["● ", "run-01      200", "1", "  1.00"]
    assert [s.style for s in line] == [RED, None, None, None]
    same, none = diff(b, b)
    assert none == [] and same is b


def test_changes_far_apart_are_separate_spans_and_near_ones_one():
    a = strip(("a 0.25  b 0.35" + " " * 30 + "c 0.45", None))
    b = strip(("a 0.26  b 0.36" + " " * 30 + "c 0.46", None))
    assert changed_spans(a, b) == [(5, 14), (49, 50)]
    assert changed_spans(a, b, gap=100) == [(5, 50)]
    line, spans = diff(a, b)
    assert line.text == b.text
    assert [s.text for s in line][1] == "6  b 0.36"


def test_spans_of_lines_cut_alike_equal_a_cell_by_cell_comparison():
    """Lines cut into segments of the same lengths and styles (a new number in place) are
    compared segment by segment: the spans must be those of a plain cell-by-cell scan."""
    import random

    from rich.segment import Segment
    from rich.style import Style
    from textual.strip import Strip

    from mlmon_tui.panels.linediff import GAP, changed_spans

    def reference(a: str, b: str) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        for x in range(len(b)):
            if a[x] != b[x]:
                if spans and x - spans[-1][1] < GAP:
                    spans[-1] = (spans[-1][0], x + 1)
                else:
                    spans.append((x, x + 1))
        return spans

    rng = random.Random(5)
    styles = [Style(color="red"), Style(bold=True), None]
    for _ in range(300):
        cuts = sorted(rng.sample(range(1, 60), rng.randint(0, 6)))
        bounds = [0, *cuts, 60]
        old = "".join(rng.choice("0123456789 ab") for _ in range(60))
        new = list(old)
        for _ in range(rng.randint(0, 8)):
            new[rng.randrange(60)] = rng.choice("0123456789 ab")
        new = "".join(new)
        seg_styles = [rng.choice(styles) for _ in bounds[:-1]]

        def strip(text: str) -> Strip:
            return Strip([Segment(text[a:b], st) for (a, b), st in
                          zip(zip(bounds[:-1], bounds[1:]), seg_styles)])

        assert changed_spans(strip(old), strip(new)) == reference(old, new)


def test_split_at_cuts_as_strip_divide_does():
    """The one-cell-character cut gives the segments Textual's `Strip.divide` gives, for
    random lines and cut positions (edges, neighbours, inside and between segments)."""
    import random

    from rich.segment import Segment
    from rich.style import Style

    from mlmon_tui.panels.linediff import split_at

    rng = random.Random(5)
    styles = [Style(), Style(bold=True), Style(color="red"), Style(color="red", bgcolor="blue")]
    for _ in range(300):
        segs = [Segment("".join(rng.choice("ab1 .") for _ in range(rng.randint(1, 7))),
                        rng.choice(styles)) for _ in range(rng.randint(1, 6))]
        strip = Strip(segs)
        n = strip.cell_length
        xs = sorted(set(rng.sample(range(1, n), min(n - 1, rng.randint(0, 4))))) if n > 1 else []
        want = [s for part in strip.divide(xs + [n]) for s in part]
        got = list(split_at(strip, xs))
        assert [(s.text, s.style) for s in got] == [(s.text, s.style) for s in want], (segs, xs)
        assert split_at(strip, xs).cell_length == n
