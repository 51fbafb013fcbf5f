"""Regenerate the README's screenshots from the demo's simulated training.

    python screenshots/make.py [NAME.svg ...]     (names: only those shots)

Writes a fixed history of `mlmon-tui demo`'s runs (every input format) into a temporary
folder, then renders the monitor headlessly at several terminal sizes.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

from mlmon_tui.app import demo_sweep, demo_write
from mlmon_tui.app.screenshot import render_svg

HERE = Path(__file__).parent
T0 = 1_700_000_000.0
UNTIL = 700
RATE = 4.0
SHOTS = [
    ("monitor-160x48.svg", (160, 48), {}),
    ("monitor-80x24.svg", (80, 24), {}),
    ("monitor-200x60.svg", (200, 60), {}),
    ("losses-200x50.svg", (200, 50), {"tags_re": "loss", "smoothing": 0.8}),
]
# the classification view (key c) of the demo's socket run, from its logged predictions
CLASSIFICATION_SHOTS = [
    ("classification-80x24.svg", (80, 24), {"keys": ("c",)}),
    ("classification-160x48.svg", (160, 48), {"keys": ("c",)}),
]


def write_predictions(root: Path) -> None:
    """What the demo's socket run sends with `log_predictions` at each evaluation."""
    from mlmon_tui.app import demo_sim as sim
    from mlmon_tui.client import Monitor

    p = next(p for p in sim.PROFILES if p.name == "socket/pushed")
    spool = root / p.name / "mlmon-socket.jsonl"
    with Monitor(run=p.name, address="unix:/nonexistent/mlmon.sock", spool=str(spool)) as m:
        for s in range(0, UNTIL + 1, demo_write.EVAL_EVERY):
            m.log_predictions(s, *sim.predictions_at(p, s), labels=sim.CLASSES)
        m.flush(30.0)


# inside the model (key i): the demo's weight and activation histograms as TensorBoard's
# percentile bands, and (enter) one histogram over steps
INSIDE_SHOTS = [
    ("distributions-120x36.svg", (120, 36), {"keys": ("i",)}),
    ("histogram-120x36.svg", (120, 36), {"keys": ("i", "enter")}),
]

# a 20-run sweep (5 learning rates x 4 seeds), grouped by learning rate: mean and min-max band
SWEEP_SHOTS = [
    ("sweep-grouped-200x50.svg", (200, 50), {"group_by": "lr", "smoothing": 0.6}),
]


def main() -> int:
    root = Path(tempfile.mkdtemp(prefix="mlmon-shots-"))
    try:
        demo_write.write(root / "demo", rate=RATE, until=UNTIL, t0=T0)
        clock = lambda: T0 + UNTIL / RATE + 3.0  # noqa: E731 - just after the last step
        sweep = demo_sweep.write_sweep(root / "sweep-shots")
        shots = [(n, s, o, [str(root / "demo")]) for n, s, o in SHOTS]
        shots += [(n, s, o, [str(sweep)]) for n, s, o in SWEEP_SHOTS]
        shots += [(n, s, o, [str(root / "demo")]) for n, s, o in INSIDE_SHOTS]
        shots += [(n, s, o, [str(root / "demo")]) for n, s, o in CLASSIFICATION_SHOTS]
        if len(sys.argv) > 1:  # only the shots named on the command line
            shots = [s for s in shots if s[0] in sys.argv[1:]]
        predicted = False
        for name, size, opts, paths in shots:
            if not predicted and name in dict((n, s) for n, s, _ in CLASSIFICATION_SHOTS):
                write_predictions(root / "demo")  # after the plain shots, which show none
                predicted = True
            svg = asyncio.run(render_svg(paths, size, clock=clock, **opts))
            (HERE / name).write_text(svg, encoding="utf-8")
            print(f"wrote screenshots/{name}")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
