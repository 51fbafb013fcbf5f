"""The classification view (key `c`): SVG snapshots at 80x24 and 160x48, and its keys, with
predictions logged by the real client and PR curves written by torch's SummaryWriter."""

from __future__ import annotations

import pytest

from appdata import T0, write_classification_run

from mlmon_tui.app.app import MonitorApp
from mlmon_tui.app.classify_screen import ClassificationScreen, best_point
from mlmon_tui.panels.classification import ConfusionMatrix, CurvePlot, confusion_text


async def _open(pilot) -> None:
    await pilot.pause()
    pilot.app._update()
    await pilot.pause()
    await pilot.press("c")
    await pilot.pause()
    await pilot.pause()


@pytest.mark.parametrize("size,classes", [((80, 24), 10), ((160, 48), 4)])
def test_classification_snapshot(snap_compare, tmp_path, size, classes):
    logdir = write_classification_run(tmp_path / "logs", classes=classes)
    app = MonitorApp([str(logdir)], watch=False, clock=lambda: T0 + 200)
    assert snap_compare(app, terminal_size=size, run_before=_open)


async def test_keys_switch_split_and_comparison(tmp_path):
    logdir = write_classification_run(tmp_path / "logs", classes=4)
    app = MonitorApp([str(logdir)], watch=False, clock=lambda: T0 + 200)
    async with app.run_test(size=(100, 30)) as pilot:
        await _open(pilot)
        scr = app.screen
        assert isinstance(scr, ClassificationScreen) and scr.split == "val"
        head = str(scr.query_one("#cls-head").render())
        assert "step 500" in head and "vs step 100 (first" in head
        cm = scr.query_one(ConfusionMatrix)
        text = str(cm.render())
        assert "cat" in text and "recall" in text and "prec" in text
        await pilot.press("b")
        await pilot.pause()
        best, key = best_point(app.store.classification.points("clf", "val"))
        assert key == "roc_auc_macro"
        head = str(scr.query_one("#cls-head").render())
        if best.step == 500:
            assert "the latest is the best" in head
        else:
            assert f"vs step {best.step} (best" in head
        await pilot.press("tab")
        await pilot.pause()
        assert scr.split == "test"
        assert "AUC" in str(scr.query_one("#cls-roc", CurvePlot)._title)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ClassificationScreen)


async def test_many_classes_scroll(tmp_path):
    logdir = write_classification_run(tmp_path / "logs", classes=30, evals=2,
                                      binary_test=False)
    app = MonitorApp([str(logdir)], watch=False, clock=lambda: T0 + 200)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot)
        box = app.screen.query_one("#cls-cm")
        assert box.max_scroll_y > 0 and box.max_scroll_x > 0  # taller and wider than 80x24
        assert app.screen.query_one("#cls-roc").size.height >= 5


async def test_no_predictions_says_so(tmp_path):
    (tmp_path / "logs" / "r").mkdir(parents=True)
    (tmp_path / "logs" / "r" / "m.jsonl").write_text('{"step": 1, "loss": 2}\n')
    app = MonitorApp([str(tmp_path / "logs")], watch=False, clock=lambda: T0 + 200)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot)
        assert not isinstance(app.screen, ClassificationScreen)


async def test_tensorboard_pr_curves_in_the_view(tmp_path):
    tb = pytest.importorskip("torch.utils.tensorboard")
    np = pytest.importorskip("numpy")
    w = tb.SummaryWriter(str(tmp_path / "logs" / "tbrun"))
    rng = np.random.default_rng(0)
    for step in (10, 20):
        y = rng.integers(0, 2, 300)
        p = np.clip(rng.random(300) * 0.6 + 0.4 * y * step / 20, 0, 1)
        w.add_pr_curve("pr/val", y, p, step)
        w.add_scalar("loss", 1.0 / step, step)
    w.close()
    app = MonitorApp([str(tmp_path / "logs")], watch=False, clock=lambda: T0 + 200)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open(pilot)
        scr = app.screen
        assert isinstance(scr, ClassificationScreen) and scr.split == "pr/val"
        assert "step 20" in str(scr.query_one("#cls-head").render())
        pt = app.store.classification.latest("tbrun", "pr/val")
        assert pt.kind == "pr_curve" and sum(map(sum, pt.confusion)) == 300


def test_confusion_text_layout():
    cm = [[50, 2, 0], [3, 40, 7], [0, 0, 0]]
    text = confusion_text(cm, ["a", "b"], color=False).plain.splitlines()
    assert text[0].split() == ["true", "a", "b", "2", "recall"]
    assert text[1].split() == ["a", "50", "2", "0", "96.2%"]
    assert text[3].split() == ["2", "0", "0", "0", "-"]  # no samples of class 2: no recall
    assert text[4].split() == ["prec", "94%", "95%", "0%"]  # 7 predicted, none right
