"""Labelled generators for the behaviours a careful reader of a curve notices: divergence
against the best value (step, epoch and every-N-steps logs), plateaus after a descent, sparse
evaluations that overfit, stalls inside finished logs, short runs with one bad point, a spike
after a chaotic start, and one event seen on many tags. Labels are where the generator put the
event (never a detector's threshold); `params` records the drawn parameters so that a seed
selection can be checked to cover their ranges."""

from __future__ import annotations

import numpy as np

from curves.generators import T0, _step, decay, grad_norm, noisy, walls
from curves.harness import Case, Expect, Seg


def _smooth_climb(n: int, t0: int, ramp: int) -> np.ndarray:
    """0 before t0, rising to 1 over `ramp` points (smoothstep), 1 after."""
    x = np.clip((np.arange(n) - t0) / max(ramp, 1), 0.0, 1.0)
    return x * x * (3 - 2 * x)


def divergence_from_best(seed: int) -> Case:
    """Step-level loss that falls, then climbs to 2-3.5x its minimum and stays there while
    still ending below its first value."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1500, 6000))
    rel = float(rng.uniform(0.01, 0.08))
    clean = decay(rng, n, 2.5, 0.2)
    t0 = int(rng.integers(n // 3, 2 * n // 3))
    ramp = int(rng.integers(10, 120))
    factor = float(rng.uniform(2.0, 3.5))
    level = clean[t0]
    up = _smooth_climb(n, t0, ramp)
    clean = clean * (1 - up) + up * factor * level  # climbs to factor x the minimum, stays
    loss = noisy(rng, clean, rel)
    return Case(f"divergence_from_best[{seed}]",
                [Seg("run", "train/loss", _step(n), walls(rng, n), loss)],
                [Expect("divergence", "train/loss", t0, 40 + ramp // 2)], allow=("spike",),
                params={"n": n, "rel": rel, "ramp": ramp, "factor": factor, "onset": t0 / n})


def divergence_epochs(seed: int) -> Case:
    """An epoch-level log (Keras/Lightning, 20-60 rows) whose loss climbs from its best."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 61))
    rel = float(rng.uniform(0.005, 0.04))
    e = np.arange(n, dtype=float)
    clean = 0.2 + 2.0 * np.exp(-e / (n * rng.uniform(0.08, 0.2)))
    t0 = int(rng.integers(n // 3, 2 * n // 3))
    ramp = int(rng.integers(1, 4))
    factor = float(rng.uniform(2.0, 3.5))
    up = _smooth_climb(n, t0, ramp)
    clean = clean * (1 - up) + up * factor * clean[t0]
    names = [("run", "loss"), ("m/train", "epoch_loss"), ("run", "train_loss_epoch")]
    run, tag = names[seed % len(names)]
    return Case(f"divergence_epochs[{seed},{tag}]",
                [Seg(run, tag, _step(n), walls(rng, n, dt=30.0), noisy(rng, clean, rel))],
                [Expect("divergence", tag, t0, 1 + ramp // 2, run=run)], allow=("spike",),
                params={"n": n, "rel": rel, "factor": factor, "onset": t0 / n})


def divergence_every_n(seed: int) -> Case:
    """Hugging Face `loss` logged every N steps (100-400 logged points)."""
    rng = np.random.default_rng(seed)
    every = int(rng.choice([10, 25, 50, 100]))
    n = int(rng.integers(100, 400))
    rel = float(rng.uniform(0.01, 0.05))
    clean = decay(rng, n, 2.0, 0.3)
    t0 = int(rng.integers(n // 3, 2 * n // 3))
    ramp = int(rng.integers(3, 20))
    factor = float(rng.uniform(2.0, 3.5))
    up = _smooth_climb(n, t0, ramp)
    clean = clean * (1 - up) + up * factor * clean[t0]
    step = (np.arange(n, dtype=np.int64) + 1) * every
    return Case(f"divergence_every_n[{seed},{every}]",
                [Seg("run", "loss", step, walls(rng, n, dt=every * 0.3), noisy(rng, clean, rel))],
                [Expect("divergence", "loss", int(step[t0]), every * (30 + ramp // 2))],
                allow=("spike",), params={"n": n, "rel": rel, "every": every, "onset": t0 / n})


def plateau_after_descent(seed: int, live: bool = False) -> Case:
    """The loss stops improving abruptly and stays flat (with its noise) to the end."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3000, 10000))
    t0 = int(rng.integers(n // 5, n // 2))
    rel = float(rng.uniform(0.005, 0.08))
    clean = decay(rng, n)
    clean[t0:] = clean[t0]
    # how precisely the stop can be told: before t0, the stretch where the clean curve is
    # already within a quarter of one point's noise of the level it stops at
    close = np.flatnonzero(clean[:t0] > clean[t0] * (1 + rel / 4))
    blur = t0 - (int(close[-1]) + 1 if len(close) else 0)
    w = walls(rng, n)
    segs = [Seg("run", "train/loss", _step(n), w, noisy(rng, clean, rel)),
            Seg("run", "lr", _step(n), w, np.full(n, 1e-3))]
    case = Case(f"plateau_after_descent[{seed},live={live}]", segs,
                [Expect("plateau", "train/loss", t0, max(60, n // 50, blur),
                        severity="warning" if live else "info")],
                params={"n": n, "rel": rel, "onset": t0 / n})
    if live:
        case.alive = True
        case.now = float(w[-1]) + 2.0
    else:
        case.now = float(w[-1]) + 30 * 86400.0
    return case


def plateau_after_exp_descent(seed: int) -> Case:
    """An exponential descent toward a floor that stops (gradients dead, data exhausted)
    while still well above that floor; no learning rate logged. Where the earlier rate was
    heading is far below where it stays."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2000, 10000))
    t = np.arange(n, dtype=float)
    tau = n * rng.uniform(0.1, 0.4)
    t0 = int(rng.integers(n // 5, n // 2))
    rel = float(rng.uniform(0.005, 0.05))
    clean = 0.1 + 2.0 * np.exp(-t / tau)
    clean[t0:] = clean[t0]
    close = np.flatnonzero(clean[:t0] > clean[t0] * (1 + rel / 4))
    blur = t0 - (int(close[-1]) + 1 if len(close) else 0)
    return Case(f"plateau_after_exp_descent[{seed}]",
                [Seg("run", "train/loss", _step(n), walls(rng, n), noisy(rng, clean, rel))],
                [Expect("plateau", "train/loss", t0, max(60, n // 50, blur))],
                params={"n": n, "rel": rel, "tau": tau / n, "onset": t0 / n})


def _val_curve(rng, n_eval: int, k_best: int, shape: str) -> np.ndarray:
    e = np.arange(n_eval, dtype=float)
    down = 0.4 + 1.6 * np.exp(-e / max(k_best / 3.0, 0.7))
    after = np.maximum(e - k_best, 0)
    if shape == "linear":
        up = after * rng.uniform(0.02, 0.06)
    elif shape == "quadratic":
        up = (after / max(n_eval - k_best, 1)) ** 2 * rng.uniform(0.3, 0.8)
    elif shape == "sqrt":
        up = np.sqrt(after / max(n_eval - k_best, 1)) * rng.uniform(0.2, 0.5)
    else:  # "step": a sudden jump to a higher level after the best
        up = (after > 0) * rng.uniform(0.15, 0.4) + after * 0.01
    return down + up


def overfitting_sparse(seed: int, style: str = "hf") -> Case:
    """Few evaluations on their own cadence (Hugging Face every N steps, Lightning each epoch
    at the epoch's last global step, Keras per epoch), validation rising for 3+ evaluations
    after its best while training keeps falling. Shapes differ per style."""
    rng = np.random.default_rng(seed)
    shapes = {"hf": "linear", "lightning": "quadratic", "keras": "sqrt", "suffix": "step",
              "acc": "linear"}
    if style == "keras":
        n_full, every = int(rng.integers(12, 40)), 1
    else:
        n_full, every = int(rng.integers(7, 16)), int(rng.choice([100, 250, 500]))
    k_best = int(rng.integers(max(2, n_full // 3), n_full - 4))
    vrel = float(rng.uniform(0.003, 0.015))
    clean_val = _val_curve(rng, n_full + 20, k_best, shapes[style])
    # the run goes on until validation has risen 8-30 % above its true minimum, and for at
    # least 4 evaluations after it
    lo = int(np.argmin(clean_val[: n_full + 1]))
    rise_end = float(rng.uniform(0.08, 0.3))
    clean_val = clean_val.copy()
    clean_val[lo + 1 :] = np.maximum(clean_val[lo + 1 :], clean_val[lo] * (
        1 + rise_end * np.minimum(np.arange(1, len(clean_val) - lo) / 4.0, 1.0) ** 2))
    n_eval = lo + 1 + int(rng.integers(4, 9))
    clean_val = clean_val[:n_eval]
    n = n_eval * every
    val = noisy(rng, clean_val, vrel)
    t = np.arange(n, dtype=float)
    train_clean = 0.05 + 2.2 * np.exp(-t / (n * rng.uniform(0.15, 0.3)))
    w = walls(rng, n, dt=0.5 if every > 1 else 30.0)
    if style == "hf":
        log_every = int(rng.choice([10, 25, 50]))
        tstep = np.arange(log_every, n + 1, log_every, dtype=np.int64)
        segs = [Seg("run", "loss", tstep, w[tstep - 1], noisy(rng, train_clean[tstep - 1], 0.03))]
        vstep = (np.arange(n_eval, dtype=np.int64) + 1) * every
        vwall = w[vstep - 1] + 5.0
        vt = "eval_loss"
    elif style == "lightning":
        tstep = np.arange(49, n, 50, dtype=np.int64)
        segs = [Seg("run", "train_loss_step", tstep, w[tstep], noisy(rng, train_clean[tstep], 0.04))]
        vstep = (np.arange(n_eval, dtype=np.int64) + 1) * every - 1
        vwall = w[vstep] + 3.0
        vt = "val_loss"
    elif style == "keras":
        tstep = _step(n)
        segs = [Seg("run", "loss", tstep, w, noisy(rng, train_clean, 0.01))]
        vstep, vwall, vt = tstep, w + 0.5, "val_loss"
    else:
        tstep = _step(n)
        tname = "Loss/train" if style == "suffix" else "train/acc"
        tv = noisy(rng, train_clean, 0.03)
        segs = [Seg("run", tname, tstep, w, tv if style == "suffix" else 1 - tv / 3)]
        vstep = (np.arange(n_eval, dtype=np.int64) + 1) * every - 1
        vwall = w[vstep] + 1.0
        vt = "Loss/test" if style == "suffix" else "val/acc"
        if style == "acc":
            val = 1 - val / 3
    segs.append(Seg("run", vt, vstep, vwall, val))
    best = int(np.argmin(clean_val))
    return Case(f"overfitting_sparse[{seed},{style}]", segs,
                [Expect("overfitting", vt, int(vstep[best]), 2 * every)],
                params={"n_eval": n_eval, "best_frac": lo / n_eval, "vrel": vrel, "rise": rise_end})


def stall_in_finished_log(seed: int) -> Case:
    """A JSONL-style log (several metrics per row, same time) with one long pause in it,
    read long after the run ended."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(200, 3000))
    dt = float(rng.uniform(0.5, 30.0))
    w = walls(rng, n, dt=dt)
    t0 = int(rng.integers(n // 4, 3 * n // 4))
    pause = float(rng.uniform(40, 400)) * dt + 600.0
    w[t0 + 1 :] += pause
    s = _step(n)
    return Case(f"stall_in_finished_log[{seed}]", [
        Seg("run", "loss", s, w, noisy(rng, decay(rng, n), 0.05)),
        Seg("run", "learning_rate", s, w, np.full(n, 1e-4)),
        Seg("run", "grad_norm", s, w, grad_norm(rng, n)),
    ], [Expect("stall", "loss", t0, 0)], allow=(), now=float(w[-1]) + 400 * 86400.0,
        params={"n": n, "dt": dt, "pause": pause / dt})


def short_run_spike(seed: int) -> Case:
    """5-50 epoch rows; one epoch 3-10x both neighbours (the second epoch included)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 51))
    e = np.arange(n, dtype=float)
    rel = float(rng.uniform(0.005, 0.05))
    clean = 0.3 + 1.5 * np.exp(-e / max(n / 4, 1.5))
    v = noisy(rng, clean, rel)
    i = 1 if seed % 4 == 0 else int(rng.integers(1, n - 1))
    factor = float(rng.uniform(3.3, 10.0))
    v[i] = factor * max(v[i - 1], v[i + 1])
    tag = "val_loss" if seed % 2 else "loss"
    segs = [Seg("run", tag, _step(n), walls(rng, n, dt=60.0), v)]
    return Case(f"short_run_spike[{seed},n={n}]", segs, [Expect("spike", tag, i, 0)],
                params={"n": n, "pos": i / n, "factor": factor})


def spike_after_chaos(seed: int) -> Case:
    """Validation that swings wildly for its first evaluations, settles, then one 12x spike
    a few evaluations after the chaos."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(30, 120))
    chaos = int(rng.integers(6, 15))
    e = np.arange(n, dtype=float)
    clean = 0.5 + 0.8 * np.exp(-e / 10)
    v = clean * np.exp(np.where(e < chaos, rng.uniform(0.4, 0.7), 0.02) * rng.standard_normal(n))
    i = chaos + int(rng.integers(2, 8))
    v[i] = 12.0 * clean[i]
    step = (np.arange(n, dtype=np.int64) + 1) * 100
    segs = [Seg("run", "val/loss", step, walls(rng, n, dt=50.0), v)]
    return Case(f"spike_after_chaos[{seed}]", segs, [Expect("spike", "val/loss", int(step[i]), 0)],
                allow=("overfitting",), params={"n": n, "chaos": chaos, "after": i - chaos})


def spike_after_chaos_steps(seed: int) -> Case:
    """A step-level training loss (thousands of points) that swings wildly for its first
    50-300 steps, settles, then jumps 12x for one step 10-80 steps after the chaos ends:
    the rolling threshold, raised by the chaos, must come back down in time."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1000, 6000))
    chaos = int(rng.integers(50, 300))
    rel = float(rng.uniform(0.01, 0.05))
    wild = float(rng.uniform(0.3, 0.6))
    clean = decay(rng, n)
    t = np.arange(n)
    v = clean * np.exp(np.where(t < chaos, wild, rel) * rng.standard_normal(n))
    after = int(rng.integers(10, 80))
    i = chaos + after
    v[i] = 12.0 * clean[i]
    segs = [Seg("run", "train/loss", _step(n), walls(rng, n), v)]
    return Case(f"spike_after_chaos_steps[{seed}]", segs, [Expect("spike", "train/loss", i, 0)],
                params={"n": n, "chaos": chaos, "after": after, "rel": rel, "wild": wild})


def layers_explode_together(seed: int) -> Case:
    """Every layer's gradient norm and the global one blow up at the same step and the loss
    follows: one exploding-gradients event, one finding naming all the tags."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(600, 2500))
    k = int(rng.integers(3, 9))
    t0 = int(rng.integers(n // 3, 2 * n // 3))
    w = walls(rng, n)
    blow = np.where(np.arange(n) >= t0, 50.0 * np.exp((np.arange(n) - t0) / 100), 1.0)
    tags = ["grad_norm"] + [f"grad_norm/layer{j}" for j in range(k)]
    segs = [Seg("run", t, _step(n), w, grad_norm(rng, n, level=1.0 + 0.2 * j) * blow)
            for j, t in enumerate(tags)]
    loss = noisy(rng, decay(rng, n), 0.03)
    loss[t0:] = np.nan
    segs.append(Seg("run", "train/loss", _step(n), w, loss))
    return Case(f"layers_explode_together[{seed},{k}]", segs,
                [Expect("exploding_gradients", "grad_norm", t0, 0, n_tags=k + 1),
                 Expect("nan", "train/loss", t0, 0)], params={"n": n, "layers": k})


def mirrored_loss_nan(seed: int) -> Case:
    """`loss` and `train/loss` are the same values under two names: one NaN event."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(300, 3000))
    loss = noisy(rng, decay(rng, n), 0.04)
    t0 = int(rng.integers(n // 3, 2 * n // 3))
    loss[t0:] = np.nan
    w = walls(rng, n)
    return Case(f"mirrored_loss_nan[{seed}]",
                [Seg("run", "loss", _step(n), w, loss), Seg("run", "train/loss", _step(n), w, loss)],
                [Expect("nan", "loss", t0, 0, n_tags=2)], params={"n": n})


POSITIVES = {
    "divergence_from_best": divergence_from_best,
    "divergence_epochs": divergence_epochs,
    "divergence_every_n": divergence_every_n,
    "plateau_after_descent": plateau_after_descent,
    "plateau_live_warning": lambda s: plateau_after_descent(s, live=True),
    "plateau_after_exp_descent": plateau_after_exp_descent,
    "overfitting_sparse_hf": overfitting_sparse,
    "overfitting_sparse_lightning": lambda s: overfitting_sparse(s, "lightning"),
    "overfitting_sparse_keras": lambda s: overfitting_sparse(s, "keras"),
    "overfitting_sparse_suffix": lambda s: overfitting_sparse(s, "suffix"),
    "overfitting_sparse_accuracy": lambda s: overfitting_sparse(s, "acc"),
    "stall_in_finished_log": stall_in_finished_log,
    "short_run_spike": short_run_spike,
    "spike_after_chaos": spike_after_chaos,
    "spike_after_chaos_steps": spike_after_chaos_steps,
    "layers_explode_together": layers_explode_together,
    "mirrored_loss_nan": mirrored_loss_nan,
}

__all__ = ["POSITIVES", "T0"]
