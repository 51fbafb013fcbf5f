"""Generators of labelled training curves. Every generator takes a seed; onsets are drawn at
random and recorded in the case, so a detector is tested on where, not only whether."""

from __future__ import annotations

import numpy as np

from curves.harness import Case, Expect, Seg

T0 = 1_700_000_000.0


def walls(rng, n: int, dt: float = 1.0, jitter: float = 0.2) -> np.ndarray:
    """Wall times of n points logged every ~dt seconds."""
    gaps = dt * rng.lognormal(0.0, jitter, size=n)
    return T0 + np.cumsum(gaps)


def decay(rng, n: int, start: float = 2.5, floor: float = 0.2) -> np.ndarray:
    """A power-law loss curve that is still improving at the end."""
    t = np.arange(n, dtype=float)
    tau = n * rng.uniform(0.02, 0.1)
    alpha = rng.uniform(0.5, 1.0)
    return floor + (start - floor) * (1 + t / tau) ** (-alpha)


def noisy(rng, clean: np.ndarray, rel: float) -> np.ndarray:
    """Multiplicative noise (minibatch losses are noisier in proportion to their level)."""
    return clean * np.exp(rel * rng.standard_normal(len(clean)))


def grad_norm(rng, n: int, level: float = 1.0, rel: float = 0.15) -> np.ndarray:
    t = np.arange(n)
    return noisy(rng, level * (0.6 + 0.4 * np.exp(-t / (n / 5))), rel)


def _step(n: int, every: int = 1) -> np.ndarray:
    return np.arange(n, dtype=np.int64) * every


# -- positives ---------------------------------------------------------------------------------

def nan_loss(seed: int) -> Case:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(800, 3000))
    loss = noisy(rng, decay(rng, n), 0.05)
    t0 = int(rng.integers(n // 3, 2 * n // 3))
    loss[t0:] = np.nan
    w = walls(rng, n)
    return Case(f"nan_loss[{seed}]", [Seg("run", "train/loss", _step(n), w, loss)],
                [Expect("nan", "train/loss", t0, 0)])


def inf_grad(seed: int) -> Case:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(800, 3000))
    g = grad_norm(rng, n)
    t0 = int(rng.integers(n // 3, 2 * n // 3))
    g[t0] = np.inf
    g[t0 + 1 :] = np.nan
    w = walls(rng, n)
    return Case(f"inf_grad[{seed}]", [Seg("run", "grad_norm", _step(n), w, g),
                                      Seg("run", "train/loss", _step(n), w, noisy(rng, decay(rng, n), 0.05))],
                [Expect("inf", "grad_norm", t0, 0), Expect("nan", "grad_norm", t0 + 1, 0)])


def loss_spike(seed: int) -> Case:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1000, 5000))
    loss = noisy(rng, decay(rng, n), rng.uniform(0.01, 0.08))
    t0 = int(rng.integers(n // 4, 3 * n // 4))
    loss[t0] *= rng.uniform(4.0, 10.0)
    return Case(f"loss_spike[{seed}]", [Seg("run", "train/loss", _step(n), walls(rng, n), loss)],
                [Expect("spike", "train/loss", t0, 0)])


def divergence(seed: int) -> Case:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2000, 6000))
    clean = decay(rng, n)
    t0 = int(rng.integers(n // 3, 2 * n // 3))
    ramp = int(rng.integers(10, 80))
    rise = np.clip((np.arange(n) - t0) / ramp, 0, 1)
    clean = clean + rise * rng.uniform(1.5, 4.0) * clean[0]
    loss = noisy(rng, clean, 0.04)
    return Case(f"divergence[{seed}]", [Seg("run", "train/loss", _step(n), walls(rng, n), loss)],
                [Expect("divergence", "train/loss", t0, 40 + ramp)], allow=("spike",))


def exploding(seed: int) -> Case:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1000, 4000))
    g = grad_norm(rng, n, level=rng.uniform(0.3, 5.0))
    t0 = int(rng.integers(n // 3, 2 * n // 3))
    g[t0:] *= 50.0 * np.exp(np.arange(n - t0) / 200)
    w = walls(rng, n)
    return Case(f"exploding[{seed}]", [Seg("run", "train/grad_norm", _step(n), w, g)],
                [Expect("exploding_gradients", "train/grad_norm", t0, 0)])


def vanishing(seed: int) -> Case:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1000, 4000))
    g = grad_norm(rng, n)
    t0 = int(rng.integers(n // 3, 2 * n // 3))
    g[t0:] = noisy(rng, np.full(n - t0, 1e-9), 0.2)
    return Case(f"vanishing[{seed}]", [Seg("run", "grad_norm", _step(n), walls(rng, n), g)],
                [Expect("vanishing_gradients", "grad_norm", t0, 0)])


def layer_collapse(seed: int, histogram: bool = False) -> Case:
    """Per-layer norms: the first layer decays towards zero while the global norm is steady."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(600, 2000))
    t0 = int(rng.integers(n // 4, n // 2))
    w = walls(rng, n)
    segs = [Seg("run", "grad_norm", _step(n), w, grad_norm(rng, n))]
    rate = rng.uniform(0.02, 0.05)  # e-folds per step after t0
    first = np.where(np.arange(n) < t0, 1.0, np.maximum(np.exp(-(np.arange(n) - t0) * rate), 1e-5))
    for k in range(6):
        clean = first if k == 0 else np.full(n, 1.0 + 0.1 * k)
        name = f"gradients/layer{k}.weight" if histogram else f"grad_norm/layer{k}"
        segs.append(Seg("run", name, _step(n), w, noisy(rng, clean, 0.05), histogram=histogram))
    # labelled where the collapse starts (t0), within how long the decay takes to move the
    # ratio by 20 % (the layers' own 5 % noise hides less than that)
    tag = "gradients/layer0.weight" if histogram else "grad_norm/layer0"
    return Case(f"layer_collapse[{seed},{histogram}]", segs,
                [Expect("vanishing_gradients", tag, t0, int(np.log(1 / 0.8) / rate) + 3)],
                params={"n": n, "rate": rate, "onset": t0 / n})


def overfitting(seed: int, style: str = "slash", higher_better: bool = False) -> Case:
    rng = np.random.default_rng(seed)
    every = int(rng.choice([50, 100, 200]))
    n_eval = int(rng.integers(25, 60))
    n = n_eval * every
    train = noisy(rng, decay(rng, n, 2.5, 0.05), 0.03)
    k_best = int(rng.integers(n_eval // 3, n_eval // 2))
    e = np.arange(1, n_eval + 1)
    val_clean = 0.4 + 2.0 * np.exp(-e / (k_best / 3)) + np.where(e > k_best, (e - k_best) * rng.uniform(0.01, 0.03), 0)
    val = noisy(rng, val_clean, 0.01)
    vstep = e * every - 1
    w = walls(rng, n)
    if higher_better:
        train = 1 - train / 3
        val = 1 - val / 3
    names = {"slash": ("train/loss", "val/loss"), "keras": ("loss", "val_loss"),
             "lightning": ("train_loss", "val_loss"), "hf": ("loss", "eval_loss"),
             "suffix": ("Loss/train", "Loss/test"), "acc": ("train/acc", "val/acc")}
    tt, vt = names[style]
    best = int(np.argmin(val_clean))
    segs = [Seg("run", tt, _step(n), w, train), Seg("run", vt, vstep, w[vstep], val)]
    return Case(f"overfitting[{seed},{style}]", segs,
                [Expect("overfitting", vt, int(vstep[best]), 2 * every)])


def overfitting_keras_runs(seed: int) -> Case:
    """Keras' TensorBoard callback: `epoch_loss` in runs `m/train` and `m/validation`."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 80))
    k_best = int(rng.integers(n // 3, n // 2))
    e = np.arange(n, dtype=float)
    train = noisy(rng, 0.05 + 2.0 * np.exp(-e / (n / 4)), 0.01)
    val = noisy(rng, 0.4 + 2.0 * np.exp(-e / (k_best / 3)) + np.where(e > k_best, (e - k_best) * 0.02, 0), 0.01)
    w = walls(rng, n, dt=30.0)
    step = np.arange(n, dtype=np.int64)
    best = int(np.argmin(0.4 + 2.0 * np.exp(-e / (k_best / 3)) + np.where(e > k_best, (e - k_best) * 0.02, 0)))
    return Case(f"overfitting_keras[{seed}]",
                [Seg("m/train", "epoch_loss", step, w, train, source="t"),
                 Seg("m/validation", "epoch_loss", step, w + 1, val, source="v")],
                [Expect("overfitting", "epoch_loss", best, 2, run="m/validation")])


def plateau(seed: int) -> Case:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(4000, 10000))
    t0 = int(rng.integers(n // 5, n // 3))
    clean = decay(rng, n)
    clean[t0:] = clean[t0]
    loss = noisy(rng, clean, rng.uniform(0.01, 0.03))
    # tolerance: the stretch before t0 where the clean curve is already within a quarter of
    # the noise of its final level (where a stop cannot be told from the approach), at least
    # 60 steps; not a fraction of the run, which let a constant answer pass
    rel = float(np.std(np.log(loss[t0:] / clean[t0:])))
    close = np.flatnonzero(clean[:t0] > clean[t0] * (1 + rel / 4))
    blur = t0 - (int(close[-1]) + 1 if len(close) else 0)
    return Case(f"plateau[{seed}]", [Seg("run", "train/loss", _step(n), walls(rng, n), loss)],
                [Expect("plateau", "train/loss", t0, max(60, blur))],
                params={"n": n, "rel": rel, "onset": t0 / n})


def stall_gap(seed: int) -> Case:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(500, 3000))
    w = walls(rng, n, dt=rng.uniform(0.2, 5.0))
    t0 = int(rng.integers(n // 3, 2 * n // 3))
    w[t0 + 1 :] += 3600.0
    return Case(f"stall_gap[{seed}]", [Seg("run", "train/loss", _step(n), w, noisy(rng, decay(rng, n), 0.05))],
                [Expect("stall", "train/loss", t0, 0)])


def stall_clock(seed: int, alive: bool | None = None) -> Case:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(500, 3000))
    w = walls(rng, n, dt=rng.uniform(0.2, 5.0))
    return Case(f"stall_clock[{seed},{alive}]",
                [Seg("run", "train/loss", _step(n), w, noisy(rng, decay(rng, n), 0.05))],
                [Expect("stall", "train/loss", n - 1, 0)], now=float(w[-1]) + 1800.0, alive=alive)


def underfitting(seed: int) -> Case:
    """Neither training nor validation loss moves from its starting level."""
    rng = np.random.default_rng(seed)
    n_eval = int(rng.integers(15, 50))
    every = 100
    n = n_eval * every
    level = rng.uniform(0.7, 2.3)
    train = noisy(rng, np.full(n, level), 0.05)
    vstep = np.arange(1, n_eval + 1) * every - 1
    val = noisy(rng, np.full(n_eval, level * 1.02), 0.02)
    w = walls(rng, n)
    return Case(f"underfitting[{seed}]", [Seg("run", "train/loss", _step(n), w, train),
                                          Seg("run", "val/loss", vstep, w[vstep], val)],
                [Expect("plateau", "val/loss", int(vstep[0]), 0)], allow=("plateau",))


def wide_spike(seed: int) -> Case:
    """A spike a few points wide that decays back (a bad batch run, a data glitch)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1000, 5000))
    loss = noisy(rng, decay(rng, n), rng.uniform(0.01, 0.08))
    t0 = int(rng.integers(n // 4, 3 * n // 4))
    width = int(rng.integers(2, 5))
    loss[t0 : t0 + width] *= rng.uniform(4.0, 10.0) * np.linspace(1.0, 0.6, width)
    return Case(f"wide_spike[{seed}]", [Seg("run", "train/loss", _step(n), walls(rng, n), loss)],
                [Expect("spike", "train/loss", t0, 0)])


def exploding_gradual(seed: int) -> Case:
    """A gradient norm that blows up gradually (x1.05-1.2 a step, the classic learning-rate-
    too-high run) instead of jumping: no single point is 10x its rolling median."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(600, 3000))
    g = grad_norm(rng, n, level=rng.uniform(0.3, 5.0))
    t0 = int(rng.integers(n // 3, 2 * n // 3))
    rate = rng.uniform(0.05, 0.18)
    g[t0:] *= np.exp(np.minimum(np.arange(n - t0) * rate, 30.0))
    return Case(f"exploding_gradual[{seed}]",
                [Seg("run", "train/grad_norm", _step(n), walls(rng, n), g)],
                [Expect("exploding_gradients", "train/grad_norm", t0, int(3 / rate) + 8)])
