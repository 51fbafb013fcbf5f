"""Hyper-parameter sweeps written with the real writers (Lightning's CSVLogger, tensorboardX,
transformers' TrainerState and TrainingArguments, the metrics socket's client), and the raw
values each run was given, so that tests can compute orders and groups on their own."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

T0 = 1_700_000_000.0
LRS = (1e-4, 3e-4, 1e-3, 3e-3)
SEEDS = (0, 1, 2)
STEPS = tuple(range(0, 200, 10))


@dataclass
class Truth:
    """What one run was given: its hyper-parameters and its validation loss per step."""

    lr: float
    seed: int
    steps: np.ndarray
    val_loss: np.ndarray
    val_acc: np.ndarray


def curve(lr: float, seed: int) -> Truth:
    rng = np.random.default_rng(1000 + seed * 17 + int(lr * 1e5))
    s = np.array(STEPS)
    tau = 40 + 20 * abs(math.log10(lr) + 3.2)
    loss = 0.3 + 2.0 * np.exp(-s / tau) + 0.05 * rng.random(len(s)) + 0.02 * seed
    acc = 1.0 - loss / 3.0
    return Truth(lr, seed, s, loss, acc)


def sweep(lrs=LRS, seeds=SEEDS) -> list[Truth]:
    return [curve(lr, seed) for lr in lrs for seed in seeds]


def write_lightning(root: Path, truths: list[Truth]) -> Path:
    """`root/sweep/lr=…_seed=…/metrics.csv` and `hparams.yaml` by Lightning's CSVLogger."""
    from lightning.pytorch.loggers import CSVLogger

    for t in truths:
        log = CSVLogger(str(root), name="sweep", version=f"lr={t.lr:g}_seed={t.seed}")
        log.log_hyperparams({"lr": t.lr, "seed": t.seed, "optimizer": "adamw", "batch_size": 64})
        for s, loss, acc in zip(t.steps, t.val_loss, t.val_acc):
            log.log_metrics({"train/loss": float(loss) * 0.9}, step=int(s))
            log.log_metrics({"val/loss": float(loss), "val/acc": float(acc)}, step=int(s))
        log.save()
        log.finalize("success")
    return root


def write_tensorboard(root: Path, truths: list[Truth]) -> Path:
    """`root/lr=…/seed=…/events.out.tfevents.*` by tensorboardX (hyper-parameters in the
    run names only)."""
    from tensorboardX import SummaryWriter

    for t in truths:
        w = SummaryWriter(str(root / f"lr={t.lr:g}" / f"seed={t.seed}"))
        for s, loss, acc in zip(t.steps, t.val_loss, t.val_acc):
            wall = T0 + float(s)
            w.add_scalar("val/loss", float(loss), int(s), walltime=wall)
            w.add_scalar("val/acc", float(acc), int(s), walltime=wall)
        w.close()
    return root


def write_hf(root: Path, truths: list[Truth]) -> Path:
    """`root/run-k/trainer_state.json` (TrainerState.save_to_json) and `training_args.bin`
    (torch.save of TrainingArguments, as the Trainer saves them)."""
    import torch
    import transformers
    from transformers.trainer_callback import TrainerState

    for k, t in enumerate(truths):
        out = root / f"run-{k}"
        out.mkdir(parents=True)
        args = transformers.TrainingArguments(output_dir=str(out), learning_rate=t.lr,
                                              seed=t.seed, report_to=[])
        torch.save(args, out / "training_args.bin")
        state = TrainerState(max_steps=int(t.steps[-1]), train_batch_size=8)
        for s, loss in zip(t.steps, t.val_loss):
            state.log_history.append({"eval_loss": float(loss), "step": int(s), "epoch": s / 100})
        state.save_to_json(str(out / "trainer_state.json"))
    return root


def write_socket(root: Path, truths: list[Truth]) -> Path:
    """Runs sent over the metrics socket by the client, received by the real server (which
    writes `mlmon-socket.jsonl` and the hello's hyper-parameters under `root`)."""
    import time

    from mlmon_tui.client import Monitor
    from mlmon_tui.sources.socket.server import SocketServer

    with SocketServer(root) as srv:
        for k, t in enumerate(truths):
            with Monitor(run=f"trial-{k}", address=srv.address,
                         hparams={"lr": t.lr, "seed": t.seed}) as mon:
                for s, loss in zip(t.steps, t.val_loss):
                    mon.log(int(s), **{"val/loss": float(loss)})
        deadline = time.time() + 20
        want = len(truths) * len(STEPS)
        while time.time() < deadline and srv.stats.get("messages", 0) < want:
            time.sleep(0.05)
        time.sleep(0.3)
    return root


def write_jsonl(root: Path, truths: list[Truth]) -> Path:
    """`root/sweep/lr=…/seed=…/metrics.jsonl`, as a training script writes JSON lines: a
    `config` record first, then one record per step with its own wall time (fixed, so
    that screens drawn from it are the same every time)."""
    import json

    for t in truths:
        d = root / "sweep" / f"lr={t.lr:g}" / f"seed={t.seed}"
        d.mkdir(parents=True)
        with open(d / "metrics.jsonl", "w") as f:
            f.write(json.dumps({"config": {"lr": t.lr, "seed": t.seed, "model": "mlp"}}) + "\n")
            for s, loss, acc in zip(t.steps, t.val_loss, t.val_acc):
                f.write(json.dumps({"step": int(s), "wall_time": T0 + float(s),
                                    "train/loss": float(loss) * 0.9, "val/loss": float(loss),
                                    "val/acc": float(acc)}) + "\n")
    return root
