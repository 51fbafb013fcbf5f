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
    "step_decay_plateaus_without_lr": lambda s: N.step_decay_plateaus(s, log_lr=False),
    "step_decay_close_cuts_without_lr": N.step_decay_close_cuts,
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
def _ends_of(name: str):
    return _ends(ALL[name])


def _ends(make) -> tuple[list[set], int]:
    """Per candidate seed, the (parameter, end) pairs it reaches: its value in the lowest or
    the highest quarter of that parameter's values over the pool."""
    rows = [params_of(make, s) for s in range(POOL)]
    targets = []
    for key in sorted(rows[0]):
        values = np.array([r.get(key, 0.0) for r in rows])
        lo, hi = np.quantile(values, 0.25), np.quantile(values, 0.75)
        if lo == hi:
            continue
        targets.append([(key, "low") if v <= lo else (key, "high") if v >= hi else None
                        for v in values])
    reach = [{t[s] for t in targets if t[s] is not None} for s in range(POOL)]
    return reach, 2 * len(targets)


@lru_cache(maxsize=None)
def stratified_seeds(name: str, k: int = 3, most: int = 6) -> tuple[int, ...]:
    """At least k seeds of generator `name` (from 0..POOL-1) that together reach both ends
    (lowest and highest quarter) of every drawn parameter: greedily the seed reaching most
    ends not reached yet, until all are (at most `most` seeds)."""
    reach, n_targets = _ends_of(name)
    chosen: list[int] = []
    got: set = set()
    while len(chosen) < most and (len(chosen) < k or len(got) < n_targets):
        gain = [len(r - got) if s not in chosen else -1 for s, r in enumerate(reach)]
        best = int(np.argmax(gain))
        chosen.append(best)
        got |= reach[best]
    return tuple(chosen)


def ends_reached(name: str, seeds) -> tuple[int, int]:
    """(ends reached by `seeds`, ends there are) for generator `name`."""
    reach, n_targets = _ends_of(name)
    return len(set().union(*(reach[s] for s in seeds))), n_targets
