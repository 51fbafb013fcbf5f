"""Healthy curves that must not be flagged: false alarms are bugs."""

from __future__ import annotations

import numpy as np

from curves.generators import T0, _step, decay, grad_norm, noisy, walls
from curves.harness import Case, Seg


def healthy(seed: int) -> Case:
    """Train/val losses, accuracy, grad norm and learning rate at various lengths and noise."""
    rng = np.random.default_rng(seed)
    n = int(rng.choice([300, 1000, 5000, 20000]))
    rel = float(rng.choice([0.005, 0.03, 0.1]))
    w = walls(rng, n, dt=float(rng.choice([0.05, 1.0, 20.0])))
    train = noisy(rng, decay(rng, n), rel)
    every = max(n // 40, 10)
    vstep = _step(n)[every - 1 :: every]
    val = noisy(rng, decay(rng, n, 2.6, 0.3)[vstep], 0.01)
    acc = 1 - val / 3
    return Case(f"healthy[{seed},n={n},rel={rel}]", [
        Seg("run", "train/loss", _step(n), w, train),
        Seg("run", "val/loss", vstep, w[vstep], val),
        Seg("run", "val/accuracy", vstep, w[vstep], acc),
        Seg("run", "train/grad_norm", _step(n), w, grad_norm(rng, n, rel=rel * 2 + 0.05)),
        Seg("run", "train/lr", _step(n), w, np.full(n, 3e-4)),
    ])


def warmup(seed: int) -> Case:
    """LR warm-up: the loss bumps up while the learning rate ramps, then falls."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2000, 8000))
    t = np.arange(n, dtype=float)
    wu = int(n * rng.uniform(0.02, 0.1))
    lr = np.where(t < wu, 1e-3 * t / wu, 1e-3 * 0.5 * (1 + np.cos(np.pi * (t - wu) / (n - wu))))
    bump = rng.uniform(0.1, 0.4) * np.exp(-((t - wu) / (wu / 2)) ** 2)
    loss = noisy(rng, decay(rng, n) * (1 + bump), 0.03)
    g = grad_norm(rng, n) * (1 + 3 * bump)
    w = walls(rng, n)
    return Case(f"warmup[{seed}]", [Seg("run", "train/loss", _step(n), w, loss),
                                    Seg("run", "grad_norm", _step(n), w, g),
                                    Seg("run", "lr", _step(n), w, lr)])


def sgdr(seed: int, log_lr: bool = True) -> Case:
    """Cosine annealing with warm restarts: the loss jumps up at each restart."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4000, 10000))
    t = np.arange(n)
    cycles = int(rng.integers(3, 6))
    period = n // cycles
    phase = (t % period) / period
    lr = 1e-3 * 0.5 * (1 + np.cos(np.pi * phase))
    loss = noisy(rng, decay(rng, n, 2.5, 0.1) + rng.uniform(0.2, 0.5) * lr / 1e-3, 0.02)
    w = walls(rng, n)
    segs = [Seg("run", "train/loss", _step(n), w, loss),
            Seg("run", "train/grad_norm", _step(n), w, grad_norm(rng, n) * (0.5 + lr / 1e-3))]
    if log_lr:
        segs.append(Seg("run", "train/learning_rate", _step(n), w, lr))
    return Case(f"sgdr[{seed},{log_lr}]", segs)


def noisy_flat_val(seed: int) -> Case:
    """Training falls; validation is flat and noisy: not overfitting."""
    rng = np.random.default_rng(seed)
    n_eval = int(rng.integers(30, 100))
    every = 100
    n = n_eval * every
    train = noisy(rng, decay(rng, n, 2.0, 0.05), 0.03)
    val = 0.6 + rng.uniform(0.01, 0.05) * rng.standard_normal(n_eval)
    vstep = np.arange(1, n_eval + 1) * every - 1
    w = walls(rng, n)
    return Case(f"noisy_flat_val[{seed}]", [Seg("run", "train_loss", _step(n), w, train),
                                            Seg("run", "val_loss", vstep, w[vstep], val)])


def tiny_loss(seed: int) -> Case:
    """A loss around 1e-4 with jitter and coarse quantisation (printed to 5 decimals)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2000, 6000))
    clean = decay(rng, n, 1e-3, 1e-4)
    loss = np.round(noisy(rng, clean, 0.3), 5)
    loss = np.maximum(loss, 1e-5)
    return Case(f"tiny_loss[{seed}]", [Seg("run", "loss", _step(n), walls(rng, n), loss)])


def rl(seed: int) -> Case:
    """RL: reward NaN until the first episode ends, then rising; the value loss rises too."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(500, 3000))
    t = np.arange(n, dtype=float)
    first_ep = int(rng.integers(5, 50))
    reward = 10 + 190 / (1 + np.exp(-(t - n / 2) / (n / 10))) + 5 * rng.standard_normal(n)
    reward[:first_ep] = np.nan
    value_loss = noisy(rng, 0.5 + 20 * (reward - 10) / 200, 0.3)
    value_loss[:first_ep] = noisy(rng, np.full(first_ep, 0.5), 0.3)
    policy_loss = 0.02 * rng.standard_normal(n)
    entropy = noisy(rng, 1.4 * np.exp(-t / n), 0.05)
    w = walls(rng, n, dt=2.0)
    s = _step(n, 2048)
    return Case(f"rl[{seed}]", [
        Seg("run", "rollout/ep_rew_mean", s, w, reward),
        Seg("run", "rollout/ep_len_mean", s, w, np.where(np.isnan(reward), np.nan, 200.0)),
        Seg("run", "train/value_loss", s, w, value_loss),
        Seg("run", "train/policy_gradient_loss", s, w, policy_loss),
        Seg("run", "train/entropy_loss", s, w, -entropy),
    ])


def resumed(seed: int) -> Case:
    """A run that crashed and resumed from an earlier checkpoint hours later: the new file's
    steps overlap the old one's, which the store drops as orphans."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2000, 6000))
    crash = int(rng.integers(n // 3, 2 * n // 3))
    ckpt = crash - int(rng.integers(50, 300))
    clean = decay(rng, n)
    w1 = walls(rng, crash)
    w2 = w1[-1] + 3 * 3600 + (walls(rng, n - ckpt) - T0)
    return Case(f"resumed[{seed}]", [
        Seg("run", "train/loss", _step(crash), w1, noisy(rng, clean[:crash], 0.04), "events.1"),
        Seg("run", "train/loss", _step(n)[ckpt:], w2, noisy(rng, clean[ckpt:], 0.04), "events.2",
            purge=True),
    ])


def eval_pauses(seed: int) -> Case:
    """Steps every ~1 s with a 60-90 s evaluation every 500 steps (logged when it ends)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3000, 8000))
    w = walls(rng, n, dt=1.0)
    pauses = np.arange(500, n, 500)
    for p in pauses:
        w[p:] += rng.uniform(60, 90)
    vstep = pauses - 1
    return Case(f"eval_pauses[{seed}]", [
        Seg("run", "train/loss", _step(n), w, noisy(rng, decay(rng, n), 0.03)),
        Seg("run", "eval/loss", vstep, w[pauses] - 0.5, noisy(rng, decay(rng, n, 2.6, 0.3)[vstep], 0.01)),
    ])


def finished(seed: int) -> Case:
    """A run that reached its known last step, read a day later."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(500, 3000))
    w = walls(rng, n)
    return Case(f"finished[{seed}]", [Seg("run", "train/loss", _step(n), w, noisy(rng, decay(rng, n), 0.03))],
                meta={"run": {"max_steps": n}}, now=float(w[-1]) + 1800.0)


def archived(seed: int) -> Case:
    """Old logs read years later, with no process to ask: not a stall."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(500, 3000))
    w = walls(rng, n)
    return Case(f"archived[{seed}]", [Seg("run", "train/loss", _step(n), w, noisy(rng, decay(rng, n), 0.03))],
                now=float(w[-1]) + 3 * 365 * 86400)


def writer_gone(seed: int) -> Case:
    """The writing process exited at the end (no known last step): finished, not stalled."""
    c = finished(seed)
    c.name, c.meta, c.alive = f"writer_gone[{seed}]", {}, False
    return c


NEGATIVES = [healthy, warmup, sgdr, lambda s: sgdr(s, log_lr=False), noisy_flat_val, tiny_loss,
             rl, resumed, eval_pauses, finished, archived, writer_gone]


def step_decay(seed: int) -> Case:
    """Learning rate divided by 10 twice: the loss drops in steps (downward jumps are fine)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3000, 9000))
    t = np.arange(n)
    drops = (t >= n // 2).astype(float) + (t >= 3 * n // 4)
    clean = decay(rng, n, 2.5, 0.6) * (1 - 0.25 * drops)
    w = walls(rng, n)
    return Case(f"step_decay[{seed}]", [
        Seg("run", "train/loss", _step(n), w, noisy(rng, clean, 0.04)),
        Seg("run", "lr", _step(n), w, 0.1 * 0.1 ** drops)])


def epoch_bumps(seed: int) -> Case:
    """Loss that falls within each epoch and jumps a little at every epoch start (a new pass
    over reshuffled data), the saw-tooth of many real runs."""
    rng = np.random.default_rng(seed)
    epochs = int(rng.integers(5, 20))
    per = int(rng.integers(100, 500))
    n = epochs * per
    t = np.arange(n)
    saw = 0.08 * (1 - (t % per) / per)
    clean = decay(rng, n) * (1 + saw)
    return Case(f"epoch_bumps[{seed}]", [
        Seg("run", "train/loss", _step(n), walls(rng, n), noisy(rng, clean, 0.03))])


def clipped_grads(seed: int) -> Case:
    """Gradient norm of a clipped run: heavy-tailed but bounded, slowly drifting."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2000, 8000))
    g = np.minimum(np.exp(0.3 * rng.standard_normal(n)) * np.linspace(2.0, 0.8, n), 3.0)
    w = walls(rng, n)
    return Case(f"clipped_grads[{seed}]", [Seg("run", "grad_norm", _step(n), w, g),
                                           Seg("run", "loss", _step(n), w, noisy(rng, decay(rng, n), 0.05))])


NEGATIVES += [step_decay, epoch_bumps, clipped_grads]
