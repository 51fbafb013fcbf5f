"""Every detector on generated curves with known onsets, and the healthy curves that must not
be flagged. Each generator runs on a few seeds chosen to cover its parameters' ranges
(`curves.catalog.stratified_seeds`); `tests/curves/sweep.py` runs the wide sweep."""

import pytest

from curves import negatives as N
from curves.catalog import ALL, NEGATIVES, POSITIVES, ends_reached, stratified_seeds
from curves.harness import check, feed

K = 3  # seeds per generator in the suite


def _cases(names):
    return [(name, seed) for name in sorted(names) for seed in stratified_seeds(name, K)]


def _chunk(name: str, seed: int):
    """The first stratified seed of each generator arrives in random chunks, as in a live
    monitor; the others all at once, as `check` reads them (chunking itself has its test)."""
    return 0 if seed == stratified_seeds(name, K)[0] else None


@pytest.mark.parametrize("name,seed", _cases(POSITIVES))
def test_positive_found_at_onset(name, seed):
    case = POSITIVES[name](seed)
    monitor, _ = feed(case, chunk=_chunk(name, seed), seed=seed)
    assert case.expect, "a positive case must carry labels"
    assert check(case, monitor.findings) == []


@pytest.mark.parametrize("name,seed", _cases(NEGATIVES))
def test_negative_not_flagged(name, seed):
    case = NEGATIVES[name](seed)
    monitor, store = feed(case, chunk=_chunk(name, seed), seed=seed)
    assert store.total_points() > 0
    assert check(case, monitor.findings) == []


def test_stratified_seeds_span_each_generators_parameters():
    """The chosen seeds reach the low and the high end (first and last quarter over the
    candidate pool) of every parameter each generator draws, not just the first few seeds."""
    for name in ALL:
        seeds = stratified_seeds(name, K)
        assert len(set(seeds)) == len(seeds) >= K, name
        got, there = ends_reached(name, seeds)
        assert got == there, f"{name}: seeds {seeds} reach {got} of {there} parameter ends"


def test_healthy_generators_span_lengths_and_noise():
    """The negative set really covers short and long, quiet and noisy runs, and the seeds the
    suite runs include both ends."""
    names = {N.healthy(s).name for s in stratified_seeds("healthy", K)}
    assert any("n=300," in n for n in names) or any("n=1000," in n for n in names)
    assert any("n=20000," in n for n in names) or any("n=5000," in n for n in names)
    epochs = [N.healthy_epochs(s).params["n"] for s in stratified_seeds("healthy_epochs", K)]
    assert min(epochs) <= 15 and max(epochs) >= 45


@pytest.mark.parametrize("make", [POSITIVES["loss_spike"], POSITIVES["divergence"],
                                  POSITIVES["exploding"], POSITIVES["overfitting_slash"],
                                  POSITIVES["stall_gap"], POSITIVES["layer_collapse"],
                                  POSITIVES["plateau_after_descent"],
                                  POSITIVES["divergence_epochs"],
                                  POSITIVES["spike_after_chaos_steps"],
                                  POSITIVES["plateau_after_exp_descent"]])
def test_result_does_not_depend_on_chunking(make):
    """Rolling references are block-aligned: one point at a time, 100 at a time, random
    chunks or everything at once give the same findings."""
    case = make(1)
    results = []
    for chunk in (None, 100, 0, 37):
        monitor, _ = feed(case, chunk=chunk, seed=3)
        results.append(sorted((f.kind, f.tag, f.step) for f in monitor.findings))
    assert results[0], "the case must produce findings"
    assert all(r == results[0] for r in results[1:])
