"""Log trees for the app tests, written with real writers and fixed times."""

from __future__ import annotations

import math
from pathlib import Path

T0 = 1_700_000_000.0


def write_tb_runs(root: Path, steps: int = 200) -> Path:
    """Three TensorBoard runs (tensorboardX, a real writer) with train/ and val/ tags."""
    from tensorboardX import SummaryWriter

    for k, name in enumerate(("alpha", "beta", "gamma")):
        w = SummaryWriter(str(root / name))
        for s in range(steps):
            wall = T0 + s * 0.5
            w.add_scalar("train/loss", 2.0 * math.exp(-s / (60 + 20 * k)) + 0.1, s, walltime=wall)
            w.add_scalar("train/lr", 0.1 * min(1.0, (s + 1) / 20), s, walltime=wall)
            if s % 10 == 0:
                w.add_scalar("val/loss", 2.1 * math.exp(-s / (70 + 20 * k)) + 0.15, s, walltime=wall)
        w.close()
    return root


def write_classification_run(root: Path, name: str = "clf", classes: int = 4, evals: int = 5,
                             n: int = 300, binary_test: bool = True) -> Path:
    """A run whose predictions were logged with the real client (spooled, no monitor):
    `classes`-way validation predictions at `evals` evaluations getting better, and binary
    test predictions. Seeded: the same files every time (except wall times)."""
    import random

    from mlmon_tui.client import Monitor

    labels = ["cat", "dog", "bird", "frog", "ship", "truck", "plane", "horse", "deer",
              "car", "boat", "tree"][:classes]
    labels += [f"c{i}" for i in range(len(labels), classes)]
    spool = root / name / "mlmon-socket.jsonl"
    mon = Monitor(run=name, address="unix:/nonexistent/mlmon.sock", spool=str(spool))
    rng = random.Random(0)
    for e in range(evals):
        step = 100 * (e + 1)
        skill = 0.5 + 0.6 * e
        y, probs = [], []
        for _ in range(n):
            t = rng.randrange(classes)
            z = [rng.gauss(0, 1) for _ in range(classes)]
            z[t] += skill
            if t < 2:
                z[1 - t] += 0.6 * skill
            m = max(z)
            ex = [math.exp(v - m) for v in z]
            y.append(t)
            probs.append([v / sum(ex) for v in ex])
        mon.log(step, {"train/loss": 2.0 * math.exp(-e / 2)})
        mon.log_predictions(step, y, probs, labels=labels)
        if binary_test:
            yb = [rng.randrange(2) for _ in range(n)]
            sb = [min(1.0, max(0.0, 0.5 + (0.12 + 0.05 * e) * (2 * t - 1) + rng.gauss(0, 0.2)))
                  for t in yb]
            mon.log_predictions(step, yb, sb, split="test")
        mon.flush(5.0)
    mon.close()
    return root
