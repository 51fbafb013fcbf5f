"""The demo's W&B-style run: a `.wandb` file in wandb's own offline layout, written by
`wandb_writer` (not the wandb package), with the `latest-run` link wandb makes."""

from __future__ import annotations

import time
from pathlib import Path

from mlmon_tui.app import demo_sim as sim

RUN_ID = "k3x9q2mz"
EVAL_EVERY = 50


class WandbRun:
    def __init__(self, root: Path, p: sim.Profile, total: int, t0: float | None = None) -> None:
        from mlmon_tui.sources.logs.wandb_writer import RunWriter

        folder, name = p.name.split("/", 1)  # "wandb/<display name>"
        self.w = RunWriter.create(
            root / folder, RUN_ID, name, project="demo", sync=False, when=t0 or time.time(),
            config={"lr": p.lr, "batch_size": 128, "optimizer": {"name": "adamw", "wd": 0.01}})
        self.p, self.total = p, total

    def step(self, s: int, wall: float) -> None:
        p = self.p
        row = {"train": {"loss": sim.train_loss_at(p, s), "grad_norm": sim.grad_norm_at(p, s),
                         "lr": sim.lr_at(p, s, self.total)}}
        if s % EVAL_EVERY == 0:
            vl = sim.val_loss_at(p, s)
            row["val"] = {"loss": vl, "acc": sim.accuracy_from_loss(vl)}
        self.w.log(row, step=s, wall=wall)

    def flush(self) -> None:
        self.w.flush()
