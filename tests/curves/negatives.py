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


def clipped_grad_spike(seed: int) -> Case:
    """A healthy run whose gradient norm spikes once (every layer at the same step), clipped:
    back to normal at the next step, the loss unaffected. At most an info spike."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(500, 5000))
    t0 = int(rng.integers(n // 4, 3 * n // 4))
    w = walls(rng, n)
    k = int(rng.integers(0, 8))
    segs = [Seg("run", "train/loss", _step(n), w, noisy(rng, decay(rng, n), 0.03))]
    for j, tag in enumerate(["grad_norm"] + [f"grad_norm/layer{i}" for i in range(k)]):
        g = grad_norm(rng, n, level=1.0 + 0.3 * j)
        g[t0] *= rng.uniform(10.0, 60.0)
        segs.append(Seg("run", tag, _step(n), w, g))
    return Case(f"clipped_grad_spike[{seed},{k}]", segs, params={"n": n, "layers": k})


def converged_floor(seed: int) -> Case:
    """Falls fast (exponentially or as a power law) and then sits at its floor with noise for
    most of the run: converged, not a plateau."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1000, 10000))
    t = np.arange(n, dtype=float)
    rel = float(rng.uniform(0.005, 0.1))
    tau = n * rng.uniform(0.01, 0.15)
    floor = rng.uniform(0.05, 1.0)
    clean = floor + rng.uniform(1.0, 3.0) * (np.exp(-t / tau) if seed % 2 else (1 + t / tau) ** -2.0)
    w = walls(rng, n)
    return Case(f"converged_floor[{seed}]", [Seg("run", "train/loss", _step(n), w, noisy(rng, clean, rel)),
                                             Seg("run", "lr", _step(n), w, np.full(n, 1e-3))],
                now=float(w[-1]) + 1.0, alive=True, params={"n": n, "rel": rel, "tau": tau / n})


def step_decay_plateaus(seed: int, log_lr: bool = True) -> Case:
    """Learning rate divided by 10 every few thousand steps: the loss levels off before each
    drop and falls after it (the classic ResNet schedule)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3000, 12000))
    t = np.arange(n, dtype=float)
    k = int(rng.integers(2, 4))
    edges = [int(n * f) for f in np.sort(rng.uniform(0.25, 0.85, size=k))]
    drops = sum((t >= e).astype(float) for e in edges)
    tau = n * 0.03
    clean = 0.3 + 2.0 * np.exp(-t / tau)
    for e in edges:  # each drop: a quick fall to a floor 20-35 % lower
        clean *= 1 - np.where(t >= e, rng.uniform(0.2, 0.35) * (1 - np.exp(-(t - e) / (tau / 3))), 0.0)
    w = walls(rng, n)
    segs = [Seg("run", "train/loss", _step(n), w, noisy(rng, clean, rng.uniform(0.01, 0.05)))]
    if log_lr:
        segs.append(Seg("run", "lr", _step(n), w, 0.1 * 0.1 ** drops))
    return Case(f"step_decay_plateaus[{seed},lr={log_lr}]", segs, params={"n": n, "drops": k})


def step_decay_close_cuts(seed: int) -> Case:
    """Two learning-rate cuts close together (5-15 % of the run apart), the learning rate not
    logged: between them a short flat stretch, after the second the loss levels off at its
    new floor. A schedule, not a plateau."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3000, 12000))
    t = np.arange(n, dtype=float)
    first = int(n * rng.uniform(0.3, 0.6))
    gap = int(n * rng.uniform(0.05, 0.15))
    tau = n * rng.uniform(0.02, 0.06)
    clean = 0.3 + 2.0 * np.exp(-t / tau)
    for e in (first, first + gap):
        clean *= 1 - np.where(t >= e, rng.uniform(0.2, 0.35) * (1 - np.exp(-(t - e) / (tau / 3))), 0.0)
    rel = float(rng.uniform(0.01, 0.05))
    return Case(f"step_decay_close_cuts[{seed}]", [
        Seg("run", "train/loss", _step(n), walls(rng, n), noisy(rng, clean, rel))],
        params={"n": n, "first": first / n, "gap": gap / n, "rel": rel})


def healthy_epochs(seed: int) -> Case:
    """Keras/Lightning epoch logs of 5-60 rows: loss, val_loss (noisy), accuracy, val_accuracy."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 61))
    e = np.arange(n, dtype=float)
    tau = max(n * rng.uniform(0.1, 0.4), 1.0)
    loss = noisy(rng, 0.3 + 1.5 * np.exp(-e / tau), rng.uniform(0.003, 0.03))
    vrel = float(rng.uniform(0.005, 0.08))
    val = noisy(rng, 0.45 + 1.4 * np.exp(-e / tau), vrel)
    w = walls(rng, n, dt=60.0)
    s = _step(n)
    return Case(f"healthy_epochs[{seed},n={n}]", [
        Seg("run", "loss", s, w, loss), Seg("run", "val_loss", s, w + 1, val),
        Seg("run", "accuracy", s, w, 1 - loss / 2.5), Seg("run", "val_accuracy", s, w + 1, 1 - val / 2.5),
    ], params={"n": n, "vrel": vrel})


def noisy_flat_val_sparse(seed: int) -> Case:
    """Hugging Face cadence: 5-15 evaluations, training falls, validation flat and noisy."""
    rng = np.random.default_rng(seed)
    n_eval = int(rng.integers(5, 16))
    every = int(rng.choice([100, 250, 500]))
    n = n_eval * every
    tstep = np.arange(10, n + 1, 10, dtype=np.int64)
    w = walls(rng, n, dt=0.5)
    vstep = (np.arange(n_eval, dtype=np.int64) + 1) * every
    val = 0.6 + rng.uniform(0.005, 0.03) * rng.standard_normal(n_eval)
    return Case(f"noisy_flat_val_sparse[{seed}]", [
        Seg("run", "loss", tstep, w[tstep - 1], noisy(rng, decay(rng, n, 2.0, 0.1)[tstep - 1], 0.03)),
        Seg("run", "eval_loss", vstep, w[vstep - 1] + 5.0, val)], params={"n_eval": n_eval})


def recurring_checkpoints(seed: int) -> Case:
    """A checkpoint every K steps pauses the log for minutes, with nothing else logged: a
    recurring pause of the run's own rhythm, not a stall. Read long after the run."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2000, 8000))
    w = walls(rng, n, dt=1.0)
    every = int(rng.integers(300, max(301, n // 4)))  # three pauses or more
    pause = rng.uniform(120, 600)
    for p in range(every, n, every):
        w[p:] += pause * rng.uniform(0.9, 1.1)
    return Case(f"recurring_checkpoints[{seed}]", [
        Seg("run", "train/loss", _step(n), w, noisy(rng, decay(rng, n), 0.03))],
        now=float(w[-1]) + 200 * 86400.0, params={"n": n, "every": every})


NEGATIVES += [clipped_grad_spike, converged_floor, step_decay_plateaus, step_decay_close_cuts,
              healthy_epochs,
              noisy_flat_val_sparse, recurring_checkpoints]
