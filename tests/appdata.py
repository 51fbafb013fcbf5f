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
