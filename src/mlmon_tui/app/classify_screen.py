"""The classification view of one run (key `c`): ROC and precision-recall curves of the latest
evaluation with an earlier one dimmed (the first, or the best: key `b`), and the confusion
matrix as a heat map, scrolling when it does not fit. `tab` moves between splits (val, test,
TensorBoard PR-curve tags); the scalars over steps are the ordinary charts of the main view.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, ScrollableContainer
from textual.screen import Screen
from textual.widgets import Footer, Static

from mlmon_tui.panels.classification import DIM, ConfusionMatrix, CurvePlot

# what "best" means, in order of preference
BEST_KEYS = ("roc_auc", "roc_auc_macro", "average_precision", "f1", "f1_macro", "accuracy")


def best_point(points):
    """The evaluation with the highest ranking metric (the first of BEST_KEYS it has)."""
    for key in BEST_KEYS:
        have = [p for p in points if key in p.scalars]
        if have:
            return max(have, key=lambda p: (p.scalars[key], -p.step)), key
    return None, None


def _fmt(v: float) -> str:
    return f"{v:.3f}"


class ClassificationScreen(Screen[None]):
    DEFAULT_CSS = """
    ClassificationScreen { layout: vertical; }
    ClassificationScreen #cls-head { height: 1; padding: 0 1; background: $boost; }
    ClassificationScreen #cls-curves { height: 1fr; min-height: 6; }
    ClassificationScreen CurvePlot { padding: 0 1 0 0; }
    ClassificationScreen #cls-cm { height: auto; max-height: 65%; padding: 0 1;
                                   border-top: tall $panel; }
    """
    BINDINGS = [
        Binding("escape,c", "app.pop_screen", "Back"),
        Binding("tab", "next_split", "Split"),
        Binding("b", "toggle_compare", "First/best"),
    ]

    def __init__(self, store, run: str, colour: str = "#5fafff", *, unicode: bool = True,
                 color: bool = True) -> None:
        super().__init__()
        self.store, self.run, self.colour = store, run, colour
        self.unicode, self.color = unicode, color
        self.split: str | None = None
        self.compare = "first"
        self._seen = None

    def compose(self) -> ComposeResult:
        yield Static(id="cls-head")
        with Horizontal(id="cls-curves"):
            yield CurvePlot("roc", unicode=self.unicode, color=self.color, id="cls-roc")
            yield CurvePlot("pr", unicode=self.unicode, color=self.color, id="cls-pr")
        with ScrollableContainer(id="cls-cm"):
            yield ConfusionMatrix(color=self.color)
        yield Footer()

    def on_mount(self) -> None:
        self.poll()
        self.set_interval(1.0, self.poll)

    # -- keys -------------------------------------------------------------------------------
    def action_next_split(self) -> None:
        splits = self._splits()
        if splits:
            i = splits.index(self.split) if self.split in splits else -1
            self.split = splits[(i + 1) % len(splits)]
            self.poll(force=True)

    def action_toggle_compare(self) -> None:
        self.compare = "best" if self.compare == "first" else "first"
        self.poll(force=True)

    # -- data -------------------------------------------------------------------------------
    def _splits(self) -> list[str]:
        with self.store.lock:
            splits = self.store.classification.splits(self.run)
        # the usual evaluation split first
        return sorted(splits, key=lambda s: (s not in ("val", "validation"), s))

    def poll(self, force: bool = False) -> None:
        cs = self.store.classification
        key = (cs.version, self.split, self.compare, self.size)
        if key == self._seen and not force:
            return
        self._seen = key
        splits = self._splits()
        if self.split not in splits:
            self.split = splits[0] if splits else None
        with self.store.lock:
            points = cs.points(self.run, self.split) if self.split else []
        head = self.query_one("#cls-head", Static)
        roc, pr = self.query_one("#cls-roc", CurvePlot), self.query_one("#cls-pr", CurvePlot)
        cm = self.query_one(ConfusionMatrix)
        if not points:
            head.update(Text(f"{self.run}: no predictions or PR curves logged yet "
                             "(Monitor.log_predictions, add_pr_curve)", "bold"))
            roc.set_data(None, None, Text("ROC"), self.colour)
            pr.set_data(None, None, Text("precision-recall"), self.colour)
            cm.set_data(None, [], "confusion matrix")
            return
        latest = points[-1]
        if self.compare == "best":
            earlier, _ = best_point(points)
        else:
            earlier = points[0]
        if earlier is latest:
            earlier = None
        head.update(self._head(splits, latest, earlier, len(points)))
        roc.set_data(latest.roc, earlier.roc if earlier else None,
                     self._legend("ROC", latest, earlier, ("roc_auc", "roc_auc_macro"), "AUC"),
                     self.colour)
        pr.set_data(latest.pr, earlier.pr if earlier else None,
                    self._legend("PR", latest, earlier, ("average_precision",), "AP"),
                    self.colour)
        cm.set_data(latest.confusion, latest.labels,
                    f"confusion matrix, step {latest.step}: rows true, columns predicted")

    def _head(self, splits, latest, earlier, count: int) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(self.run, "bold")
        t.append(f"  {latest.split}", self.colour)
        if len(splits) > 1:
            t.append(f" ({splits.index(latest.split) + 1}/{len(splits)}, tab)", "dim")
        t.append(f"  step {latest.step}")
        if latest.n:
            t.append(f"  n={latest.n}")
        for key, name in (("accuracy", "acc"), ("f1", "F1"), ("f1_macro", "F1")):
            if key in latest.scalars:
                t.append(f"  {name} {_fmt(latest.scalars[key])}")
        if earlier is not None:
            t.append(f"  vs step {earlier.step} ({self.compare}, b)", DIM)
        elif count > 1:
            t.append("  the latest is the best (b)", DIM)
        return t

    def _legend(self, name, latest, earlier, keys, short) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f"{name} ", "bold")

        def val(p):
            k = next((k for k in keys if k in p.scalars), None)
            return f" {short} {_fmt(p.scalars[k])}" if k else ""

        line = "━" if self.unicode else "-"
        t.append(f"{line} {latest.step}{val(latest)}", self.colour)
        if earlier is not None:
            t.append(f"  {line} {earlier.step}{val(earlier)}", DIM)
        return t


def open_for(app, run: str | None) -> None:
    """Open the view for `run`, or for the first run with classification data."""
    if isinstance(app.screen, ClassificationScreen):
        return
    with app.store.lock:
        runs = app.store.classification.runs()
    if run not in runs:
        if not runs:
            app.notify("No predictions or PR curves logged yet (Monitor.log_predictions, "
                       "TensorBoard add_pr_curve)", severity="warning")
            return
        run = runs[0]
    app.push_screen(ClassificationScreen(app.store, run, app.colour(run),
                                         unicode=not app.options.ascii,
                                         color=app.options.color))
