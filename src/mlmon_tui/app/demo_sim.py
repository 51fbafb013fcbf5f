"""The curves of the demo's simulated training: healthy, overfitting, exploding.

Pure functions of (seed, step) so the demo, the screenshots and the tests agree.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass
class Profile:
    name: str
    lr: float = 0.1
    tau: float = 400.0  # steps for the loss to fall by e
    floor: float = 0.15
    overfit_at: int | None = None  # validation turns up after this step
    explode_at: int | None = None  # gradients start to grow after this step
    noise: float = 0.04
    seed: int = 0


def _noise(seed: int, step: int, salt: int) -> float:
    return random.Random(seed * 1_000_003 + step * 97 + salt).gauss(0.0, 1.0)


def lr_at(p: Profile, step: int, total: int) -> float:
    warm = 100
    if step < warm:
        return p.lr * (step + 1) / warm
    return p.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total - warm))))


def grad_norm_at(p: Profile, step: int) -> float:
    g = 1.5 * math.exp(-step / (3 * p.tau)) + 0.4
    g *= math.exp(0.15 * _noise(p.seed, step, 3))
    if p.explode_at is not None and step > p.explode_at:
        g *= math.exp((step - p.explode_at) / 8.0)
    return g


def train_loss_at(p: Profile, step: int) -> float:
    base = 2.3 * math.exp(-step / p.tau) + p.floor
    if p.overfit_at is not None and step > p.overfit_at:
        base *= math.exp(-(step - p.overfit_at) / (2 * p.tau))  # memorising: keeps falling
    if p.explode_at is not None and step > p.explode_at:
        blow = math.exp((step - p.explode_at) / 15.0)
        if blow > 40:
            return float("nan")
        base *= blow
    return base * (1 + p.noise * _noise(p.seed, step, 1))


def val_loss_at(p: Profile, step: int) -> float:
    if p.overfit_at is not None and step > p.overfit_at:
        # validation stops improving at overfit_at, then climbs while train/loss still falls
        base = 2.3 * math.exp(-p.overfit_at / p.tau) + p.floor + 0.05
        base += 0.0015 * (step - p.overfit_at)
    else:
        base = 2.3 * math.exp(-step / p.tau) + p.floor + 0.05
    if p.explode_at is not None and step > p.explode_at:
        blow = math.exp((step - p.explode_at) / 15.0)
        if blow > 40:
            return float("nan")
        base *= blow
    return base * (1 + 0.5 * p.noise * _noise(p.seed, step, 2))


def accuracy_from_loss(loss: float) -> float:
    if loss != loss:
        return float("nan")
    return max(0.0, min(1.0, 1.0 - loss / 2.6))


PROFILES = [
    Profile("tb/resnet-baseline", seed=1),
    Profile("tb/resnet-overfit", seed=2, tau=250, floor=0.3, overfit_at=350),
    Profile("tb/lr-too-high", seed=3, lr=0.8, explode_at=420),
    Profile("lightning/version_0", seed=4, tau=500),
    Profile("keras", seed=5, tau=6, floor=0.2),  # per epoch
    Profile("jsonl/run-a", seed=6, tau=450),
    Profile("hf-trainer", seed=7, tau=380),
    Profile("mlflow", seed=8, tau=420),
    Profile("mlflow-db", seed=10, tau=300, lr=0.02),
    Profile("socket/pushed", seed=9, tau=350),
    Profile("wandb/noble-sun-7", seed=10, tau=430),
]


CLASSES = ("cat", "dog", "bird", "frog")


def predictions_at(p: Profile, step: int, n: int = 400) -> tuple[list[int], list[list[float]]]:
    """A validation set's labels and class probabilities for a 4-class model that gets
    better as its validation loss falls (cats and dogs are confused most)."""
    rng = random.Random(p.seed * 7919 + step)
    skill = max(0.2, 3.0 - 1.2 * val_loss_at(p, step)) if math.isfinite(
        val_loss_at(p, step)) else 0.0
    y, probs = [], []
    for _ in range(n):
        t = rng.randrange(len(CLASSES))
        logits = [rng.gauss(0.0, 1.0) for _ in CLASSES]
        logits[t] += skill
        if t < 2:  # cat <-> dog
            logits[1 - t] += 0.5 * skill
        m = max(logits)
        e = [math.exp(v - m) for v in logits]
        s = sum(e)
        y.append(t)
        probs.append([v / s for v in e])
    return y, probs
