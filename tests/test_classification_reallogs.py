"""TensorBoard PR curves from a real project (PyTorch's TensorBoard tutorial: one
`add_pr_curve` per Fashion-MNIST class, each in its own event file of one run)."""

from __future__ import annotations

import pytest

from reallogs import REAL_LOGS

from mlmon_tui.app.export import load

RUNS = REAL_LOGS / "Dipeshtamboli__tensorboard-logs" / "runs"
CLASSES = ["Ankle Boot", "Bag", "Coat", "Dress", "Pullover", "Sandal", "Shirt", "Sneaker",
           "T-shirt/top", "Trouser"]


@pytest.fixture(scope="module")
def store():
    if not (RUNS / "fashion_mnist_experiment_1").is_dir():
        pytest.skip(f"real logs not found at {RUNS} (see shared/real-logs/SOURCES.md)")
    return load([str(RUNS)])


def test_every_class_curve_is_read(store):
    cs = store.classification
    assert cs.splits("fashion_mnist_experiment_1") == CLASSES
    for split in CLASSES:
        p = cs.latest("fashion_mnist_experiment_1", split)
        assert p.kind == "pr_curve" and p.step == 0 and p.n == 10_000  # the test set
        (tn, fp), (fn, tp) = p.confusion
        assert tp + fn == 1000  # 1,000 test images per class
        # a trained classifier: each one-vs-rest curve well above chance, monotone ROC
        assert 0.9 < p.scalars["roc_auc"] <= 1.0
        assert all(b >= a for a, b in zip(p.roc[0], p.roc[0][1:]))
        assert len(p.roc[0]) <= 201 and len(p.pr[0]) <= 201
    assert not store.problems


async def test_view_opens_on_them(store):
    from mlmon_tui.app.app import MonitorApp
    from mlmon_tui.app.classify_screen import ClassificationScreen

    app = MonitorApp([str(RUNS)], watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        assert isinstance(app.screen, ClassificationScreen)
        assert app.screen.split == "Ankle Boot"
        await pilot.press("tab")
        await pilot.pause()
        assert app.screen.split == "Bag"
