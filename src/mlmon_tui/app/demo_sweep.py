"""A 20-run hyper-parameter sweep for the screenshots: 5 learning rates x 4 seeds, written in
Lightning CSVLogger's layout (`sweep/lr=…/seed=…/metrics.csv` and `hparams.yaml`), from the
demo's own curves (`demo_sim`), so the picture is the same every time."""

from __future__ import annotations

import csv
from pathlib import Path

from mlmon_tui.app import demo_sim as sim

LRS = (3e-4, 1e-3, 3e-3, 1e-2, 3e-2)
SEEDS = (0, 1, 2, 3)
STEPS = 600
EVAL_EVERY = 20


def profile(lr: float, seed: int) -> sim.Profile:
    """A higher learning rate learns faster to a higher floor; 3e-2 overfits late."""
    k = LRS.index(lr)
    return sim.Profile(name=f"lr={lr:g}/seed={seed}", lr=lr, tau=420.0 / (1 + k),
                       floor=0.12 + 0.03 * k * k / 4, noise=0.05, seed=100 + 10 * k + seed,
                       overfit_at=420 if lr == LRS[-1] else None)


def write_sweep(root: Path, t0: float = 1_700_000_000.0) -> Path:
    for lr in LRS:
        for seed in SEEDS:
            p = profile(lr, seed)
            d = root / "sweep" / f"lr={lr:g}" / f"seed={seed}"
            d.mkdir(parents=True, exist_ok=True)
            (d / "hparams.yaml").write_text(
                f"lr: {lr:g}\nseed: {seed}\nbatch_size: 64\noptimizer: adamw\n")
            with open(d / "metrics.csv", "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["step", "train/loss", "val/loss"])
                for s in range(STEPS):
                    val = sim.val_loss_at(p, s) if s % EVAL_EVERY == EVAL_EVERY - 1 else ""
                    w.writerow([s, f"{sim.train_loss_at(p, s):.6g}",
                                f"{val:.6g}" if val != "" else ""])
    return root
