"""Every labelled generator by name (positives carry labels, negatives must stay silent), and
a stratified choice of seeds: for each generator, seeds whose drawn parameters spread over
their ranges (each parameter's quartiles), so a handful of seeds in CI tries the shortest,
longest, quietest and noisiest curves, not just the first few seeds."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from curves import behaviours as B
from curves import generators as G
from curves import negatives as N

POSITIVES = {
    "nan_loss": G.nan_loss,
    "inf_grad": G.inf_grad,
    "loss_spike": G.loss_spike,
    "wide_spike": G.wide_spike,
    "divergence": G.divergence,
    "exploding": G.exploding,
    "exploding_gradual": G.exploding_gradual,
    "vanishing": G.vanishing,
    "layer_collapse": G.layer_collapse,
    "layer_collapse_histograms": lambda s: G.layer_collapse(s, histogram=True),
    "overfitting_keras_two_runs": G.overfitting_keras_runs,
    "plateau": G.plateau,
    "underfitting": G.underfitting,
    "stall_gap": G.stall_gap,
    "stall_clock": G.stall_clock,
    "stall_clock_process_alive": lambda s: G.stall_clock(s, alive=True),
    **{f"overfitting_{style}": (lambda s, style=style: G.overfitting(s, style))
       for style in ("slash", "keras", "lightning", "hf", "suffix")},
    "overfitting_accuracy": lambda s: G.overfitting(s, "acc", higher_better=True),
    **B.POSITIVES,
}

NEGATIVES = {
    "healthy": N.healthy,
    "lr_warmup": N.warmup,
    "sgdr_with_lr": N.sgdr,
    "sgdr_without_lr": lambda s: N.sgdr(s, log_lr=False),
    "noisy_flat_val": N.noisy_flat_val,
    "tiny_loss": N.tiny_loss,
    "rl_losses_rise_with_reward": N.rl,
    "resumed_overlap": N.resumed,
    "eval_pauses": N.eval_pauses,
    "finished_max_steps": N.finished,
    "archived": N.archived,
    "writer_gone": N.writer_gone,
    "lr_step_decay": N.step_decay,
    "epoch_saw_tooth": N.epoch_bumps,
    "clipped_grad_norm": N.clipped_grads,
    "clipped_grad_spike": N.clipped_grad_spike,
    "converged_floor": N.converged_floor,
    "step_decay_plateaus": N.step_decay_plateaus,
    "healthy_epochs": N.healthy_epochs,
    "noisy_flat_val_sparse": N.noisy_flat_val_sparse,
    "recurring_checkpoints": N.recurring_checkpoints,
}

ALL = {**POSITIVES, **NEGATIVES}
POOL = 48  # candidate seeds a stratified choice is made from


def params_of(make, seed: int) -> dict:
    """The drawn parameters of a case: its `params`, else its length and the spread of its
    values (older generators record none)."""
    case = make(seed)
    if case.params:
        return {k: float(v) for k, v in case.params.items()}
    seg = max(case.segs, key=lambda s: len(s.step))
    v = seg.value[np.isfinite(seg.value)]
    return {"n": float(len(seg.step)),
            "noise": float(np.median(np.abs(np.diff(np.log(np.abs(v) + 1e-12))))) if len(v) > 2 else 0.0}


@lru_cache(maxsize=None)
def stratified_seeds(name: str, k: int = 3) -> tuple[int, ...]:
    """k seeds of generator `name` (from 0..POOL-1) covering its parameters' ranges: greedily
    the seed whose parameters, as quantiles over the pool, are farthest from those chosen
    (the first: the lowest quantiles, so the shortest / quietest case is always in)."""
    make = ALL[name]
    rows = [params_of(make, s) for s in range(POOL)]
    keys = sorted(rows[0])
    m = np.array([[r.get(key, 0.0) for key in keys] for r in rows])
    q = np.argsort(np.argsort(m, axis=0), axis=0) / max(POOL - 1, 1)  # quantile per column
    chosen = [int(np.argmin(q.sum(axis=1)))]
    while len(chosen) < k:
        d = np.min(np.abs(q[:, None, :] - q[None, chosen, :]).max(axis=2), axis=1)
        chosen.append(int(np.argmax(d)))
    return tuple(chosen)
