"""Widgets of the classification view: a ROC or precision-recall plot, a confusion matrix.

They only draw what they are given (`set_data`): curves as (x, y) lists in [0, 1], the
latest evaluation in the run's colour, an earlier one dimmed; a confusion matrix as a heat
map (each row shaded by its share of the true class, the diagonal green, the rest blue) with
counts, per-class recall at the right and per-class precision below.
"""

from __future__ import annotations

import numpy as np
from rich.style import Style
from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from mlmon_tui.panels.braille import Canvas

GUTTER = 4  # "1.0 " on the left of a plot
DIM = "#6c6c6c"
AXIS = "#585858"
CHANCE = "#3a3a3a"


class CurvePlot(Widget):
    """ROC (`kind="roc"`: false-positive rate -> true-positive rate, with the chance diagonal)
    or precision-recall (`kind="pr"`: recall -> precision)."""

    DEFAULT_CSS = "CurvePlot { height: 1fr; width: 1fr; min-height: 5; }"

    def __init__(self, kind: str, *, unicode: bool = True, color: bool = True, **kw) -> None:
        super().__init__(**kw)
        self.kind = kind
        self.unicode, self.color = unicode, color
        self._latest = self._earlier = None
        self._title = Text("ROC" if kind == "roc" else "precision-recall")

    def set_data(self, latest, earlier, title: Text, colour: str) -> None:
        """`latest` / `earlier`: (x, y) lists or None; `title`: the legend line."""
        self._latest, self._earlier, self._title, self._colour = latest, earlier, title, colour
        self.refresh()

    def render(self) -> Text:
        w, h = self.size.width, self.size.height
        out = Text(no_wrap=True, overflow="crop")
        out.append_text(self._title)
        plot_h = max(0, h - 2)
        plot_w = max(0, w - GUTTER - 2)
        if plot_h < 1 or plot_w < 4:
            return out
        cv = Canvas(plot_w, plot_h, unicode=self.unicode, color=self.color)
        cv.set_range(0.0, 1.0, -0.02, 1.02)
        layers = []
        if self.kind == "roc":
            d = np.linspace(0.0, 1.0, 2 * plot_w)
            layers.append((d, d, CHANCE))
        for curve, style in ((self._earlier, DIM), (self._latest, getattr(self, "_colour",
                                                                           "#5fafff"))):
            if curve is not None and len(curve[0]):
                x = np.asarray(curve[0], dtype=np.float64)
                y = np.asarray(curve[1], dtype=np.float64)
                order = np.argsort(x, kind="stable")
                layers.append((x[order], y[order], style))
        for x, y, style in layers:
            cv.draw_series(x, y, style)
        rows = cv.rows()
        for r, segs in enumerate(rows):
            out.append("\n")
            label = "1.0" if r == 0 else "0.5" if r == (plot_h - 1) // 2 and plot_h > 2 \
                else "0.0" if r == plot_h - 1 else ""
            out.append(f"{label:>3}", AXIS)
            out.append("│" if self.unicode else "|", AXIS)
            for seg in segs:
                out.append(seg.text, seg.style)
        xname = "false-positive rate" if self.kind == "roc" else "recall"
        axis = "0" + xname.center(max(0, plot_w - 2))[: max(0, plot_w - 2)] + "1"
        out.append("\n" + " " * GUTTER + axis, AXIS)
        return out


def _shade(share: float, diagonal: bool) -> Style:
    """Background for a cell holding `share` of its row: darker grey to green (diagonal)
    or blue (errors)."""
    base = np.array([0x26, 0x26, 0x26])
    top = np.array([0x00, 0xAF, 0x5F]) if diagonal else np.array([0x00, 0x5F, 0xD7])
    c = (base + (top - base) * min(1.0, max(0.0, share))).astype(int)
    return Style(bgcolor=f"#{c[0]:02x}{c[1]:02x}{c[2]:02x}", color="#ffffff" if share > 0.0
                 else "#808080")


def confusion_text(cm: list[list[int]], labels: list[str], *, color: bool = True) -> Text:
    """The confusion matrix as rows of text: true classes down, predicted across, recall at
    the right of each row, precision under each column."""
    k = len(cm)
    labels = [labels[i] if i < len(labels) else str(i) for i in range(k)]
    rows = [sum(r) for r in cm]
    cols = [sum(cm[i][j] for i in range(k)) for j in range(k)]
    longest = max(len(s) for s in labels)
    cw = max(4, min(6, longest + 1), len(str(max((max(r) for r in cm), default=0))) + 1)
    lw = min(10, max(5, longest + 1))
    out = Text(no_wrap=True, overflow="crop")
    out.append("true".ljust(lw), "bold")  # rows: the true class (the title says so)
    for j in range(k):
        out.append(labels[j][: cw - 1].rjust(cw), "bold")
    out.append(" recall", "bold")
    for i in range(k):
        out.append("\n")
        out.append(labels[i][: lw - 1].ljust(lw), "bold")
        for j in range(k):
            share = cm[i][j] / rows[i] if rows[i] else 0.0
            style = _shade(share, i == j) if color else None
            out.append(str(cm[i][j]).rjust(cw), style)
        out.append(f" {cm[i][i] / rows[i]:6.1%}" if rows[i] else "      -")
    out.append("\n" + "prec".ljust(lw), "bold")
    for j in range(k):
        out.append((f"{cm[j][j] / cols[j]:.0%}" if cols[j] else "-").rjust(cw))
    return out


class ConfusionMatrix(Static):
    """The confusion matrix heat map; sized to its content (the container scrolls)."""

    DEFAULT_CSS = "ConfusionMatrix { width: auto; height: auto; }"

    def __init__(self, *, color: bool = True, **kw) -> None:
        super().__init__("", **kw)
        self.color = color

    def set_data(self, cm: list[list[int]] | None, labels: list[str], title: str) -> None:
        text = Text(title + "\n", style="bold", no_wrap=True)
        if cm:
            text.append_text(confusion_text(cm, labels, color=self.color))
        else:
            text.append("no confusion matrix for this evaluation", "dim")
        self.update(text)
