"""Every detector on generated curves with known onsets, and the healthy curves that must not
be flagged, over several seeds."""

import pytest

from curves import generators as G
from curves import negatives as N
from curves.harness import check, feed

SEEDS = range(4)

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
    "overfitting_slash": G.overfitting,
    "overfitting_keras": lambda s: G.overfitting(s, "keras"),
    "overfitting_lightning": lambda s: G.overfitting(s, "lightning"),
    "overfitting_hf": lambda s: G.overfitting(s, "hf"),
    "overfitting_suffix": lambda s: G.overfitting(s, "suffix"),
    "overfitting_accuracy": lambda s: G.overfitting(s, "acc", higher_better=True),
    "overfitting_keras_two_runs": G.overfitting_keras_runs,
    "plateau": G.plateau,
    "underfitting": G.underfitting,
    "stall_gap": G.stall_gap,
    "stall_clock": G.stall_clock,
    "stall_clock_process_alive": lambda s: G.stall_clock(s, alive=True),
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
}


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(POSITIVES))
def test_positive_found_at_onset(name, seed):
    case = POSITIVES[name](seed)
    monitor, _ = feed(case, chunk=0, seed=seed)
    assert case.expect, "a positive case must carry labels"
    assert check(case, monitor.findings) == []


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("name", sorted(NEGATIVES))
def test_negative_not_flagged(name, seed):
    case = NEGATIVES[name](seed)
    monitor, store = feed(case, chunk=0, seed=seed)
    assert store.total_points() > 0
    assert check(case, monitor.findings) == []


def test_healthy_generators_span_lengths_and_noise():
    """The negative set really covers short and long, quiet and noisy runs."""
    names = {N.healthy(s).name for s in range(24)}
    assert any("n=300," in n for n in names) and any("n=20000," in n for n in names)
    assert any("rel=0.005" in n for n in names) and any("rel=0.1" in n for n in names)


@pytest.mark.parametrize("make", [G.loss_spike, G.divergence, G.exploding, G.overfitting,
                                  G.stall_gap, G.layer_collapse])
def test_result_does_not_depend_on_chunking(make):
    """Rolling references are block-aligned: one point at a time, 100 at a time, random
    chunks or everything at once give the same findings."""
    case = make(1)
    results = []
    for chunk in (None, 100, 0, 7):
        monitor, _ = feed(case, chunk=chunk, seed=3)
        results.append(sorted((f.kind, f.tag, f.step) for f in monitor.findings))
    assert results[0], "the case must produce findings"
    assert all(r == results[0] for r in results[1:])
