"""Run names told apart: shared parts dropped, shared middles shortened, never the end."""

from __future__ import annotations

import random

import pytest

from mlmon_tui.analysis.names import distinct_labels, fit_labels, short_names


def test_shared_path_components_are_dropped():
    names = [f"{p}/lightning_logs/version_0" for p in ("proj-a", "proj-b", "other")]
    assert distinct_labels(names) == dict(zip(names, ["proj-a", "proj-b", "other"]))
    sweep = [f"sweep/lr={lr}/seed={s}" for lr in ("3e-4", "1e-3") for s in (1, 2)]
    assert distinct_labels(sweep)["sweep/lr=3e-4/seed=1"] == "lr=3e-4/seed=1"
    assert distinct_labels(["only/one"]) == {"only/one": "only/one"}
    # a name that is all shared components keeps its last one
    assert distinct_labels(["a/b", "a/b/c"]) == {"a/b": "b", "a/b/c": "c"}


def test_fitting_shortens_the_shared_part_not_the_differing_end():
    labels = [f"very_long_experiment_name_{i}_with_a_common_tail" for i in range(3)]
    fitted = fit_labels(labels, 16)
    assert len(set(fitted)) == 3 and all(len(f) <= 16 for f in fitted)
    for i, f in enumerate(fitted):
        assert f"_{i}_" in f  # the part that differs is whole
    assert fit_labels(["short", "names"], 10) == ["short", "names"]


def _random_sweep(rng: random.Random) -> list[str]:
    parts = [rng.choice(["exp", "runs/2024-01-01", "project/lightning_logs", "outputs"])]
    keys = rng.sample(["lr", "seed", "bs", "wd", "dropout", "model", "opt"], rng.randint(1, 3))
    vals = {k: [f"{rng.random():.{rng.randint(1, 4)}g}" for _ in range(rng.randint(2, 4))]
            for k in keys}
    names = {parts[0]}
    for _ in range(rng.randint(2, 30)):
        sep = rng.choice(["/", "_", ","])
        names.add(parts[0] + "/" + sep.join(f"{k}={rng.choice(vals[k])}" for k in keys)
                  + rng.choice(["", "/version_0", "/tb"]))
    return sorted(names)


@pytest.mark.parametrize("seed", range(40))
def test_random_sweeps_stay_distinct_at_every_width(seed):
    rng = random.Random(seed)
    names = _random_sweep(rng)
    for width in (6, 10, 12, 15, 20, 28, 40):
        shown = short_names(names, width)
        assert all(len(v) <= width for v in shown.values())
        assert len(set(shown.values())) == len(names), (width, shown)


@pytest.mark.parametrize("width", [12, 15, 20])
def test_a_usual_sweep_needs_no_numbers(width):
    """lr x seed under one folder: the values are shown, no `~k` stand-ins."""
    names = [f"outputs/2024-05-01/lr={lr}/seed={s}/lightning_logs/version_0"
             for lr in ("1e-4", "3e-4", "1e-3", "3e-3", "1e-2") for s in range(4)]
    shown = short_names(names, width)
    assert len(set(shown.values())) == len(names)
    assert not any("~" in v for v in shown.values()), shown
    assert shown[names[0]].endswith("0")  # the seed, the end that differs, is kept
