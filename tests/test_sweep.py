"""Sweeps written by the real writers: the table's order is the order computed here from the
raw values, groups' mean and band are numpy's, and `mlmon-tui summary` prints the table."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import sweepdata
from mlmon_tui.analysis.groups import GroupBy, aggregate, group_runs
from mlmon_tui.analysis.sweep import default_metric, direction, sort_rows
from mlmon_tui.app.check import load
from mlmon_tui.app.group_store import GROUP_PREFIX, GroupedStore
from mlmon_tui.app.summary import main as summary_main, summarize
from mlmon_tui.store import Store

TRUTHS = sweepdata.sweep()


def _loop_ema(values, w):
    """TensorBoard's debiased EMA, one point at a time (independent of the store's)."""
    out, last, n = [], 0.0, 0
    for v in values:
        last = last * w + (1 - w) * v
        n += 1
        out.append(last / (1 - w**n))
    return np.array(out)


_TREES: dict = {}


def _writer_tree(tmp_path_factory, kind):
    """The sweep written once per module by `kind`'s writer, and loaded as the monitor does."""
    pytest.importorskip({"lightning": "lightning", "tensorboard": "tensorboardX",
                         "hf": "transformers", "socket": "numpy"}[kind])
    if kind not in _TREES:
        root = tmp_path_factory.mktemp(kind)
        getattr(sweepdata, f"write_{kind}")(root, TRUTHS)
        _TREES[kind] = root
    store = Store()
    load([_TREES[kind]], store)
    return _TREES[kind], store


@pytest.fixture(scope="module", params=["lightning", "tensorboard", "hf", "socket"])
def tree(request, tmp_path_factory):
    return request.param, *_writer_tree(tmp_path_factory, request.param)


def _lr_seed(kind, row):
    if kind == "tensorboard":  # hyper-parameters only in the run names
        m = re.fullmatch(r"lr=([^/]+)/seed=(\d+)", row.run)
        return float(m.group(1)), int(m.group(2))
    lr = row.hparams["learning_rate" if kind == "hf" else "lr"]
    return float(lr), int(row.hparams["seed"])


def _close(a, b):
    return abs(a[0] - b[0]) <= 1e-9 * abs(b[0]) and a[1] == b[1]


def test_table_order_is_the_order_of_the_raw_values(tree):
    kind, _, store = tree
    metric, want, rows, cols = summarize(store, smoothing=0.6)
    assert metric == ("eval_loss" if kind == "hf" else "val/loss") and want == "min"
    expect = sorted(TRUTHS, key=lambda t: float(np.float32(t.val_loss.min())))
    got = [_lr_seed(kind, r) for r in rows]
    assert len(got) == len(expect)
    assert all(_close(g, (t.lr, t.seed)) for g, t in zip(got, expect))
    by = {(t.lr, t.seed): t for t in TRUTHS}
    for r in rows:
        t = next(v for k, v in by.items() if _close(_lr_seed(kind, r), k))
        assert r.best == pytest.approx(t.val_loss.min(), rel=1e-6)
        assert r.best_step == int(t.steps[np.argmin(t.val_loss)])
        assert r.last == pytest.approx(t.val_loss[-1], rel=1e-6)
        assert r.smoothed_last == pytest.approx(_loop_ema(t.val_loss, 0.6)[-1], rel=1e-6)
    if kind != "tensorboard":  # hyper-parameter columns: those that vary first
        assert set(cols[:2]) == ({"learning_rate", "seed"} if kind == "hf" else {"lr", "seed"})


def test_sorting_by_a_hyper_parameter_and_by_a_metric_that_goes_up(tree):
    kind, _, store = tree
    if kind == "tensorboard":
        pytest.skip("no hyper-parameters in this tree")
    key = "learning_rate" if kind == "hf" else "lr"
    _, _, rows, _ = summarize(store, sort=key, desc=True)
    lrs = [r.hparams[key] for r in rows]
    assert lrs == sorted(lrs, reverse=True)
    for a, b in zip(rows, rows[1:]):  # ties by run name
        if a.hparams[key] == b.hparams[key]:
            assert a.run < b.run
    if kind == "lightning":
        metric, want, rows, _ = summarize(store, metric="val/acc")
        assert want == "max"
        best = [r.best for r in rows]
        assert best == sorted(best, reverse=True)
        assert best[0] == pytest.approx(max(t.val_acc.max() for t in TRUTHS), rel=1e-6)


def test_group_mean_and_band_are_numpys(tmp_path_factory):
    _, store = _writer_tree(tmp_path_factory, "lightning")
    hp = {r: store.run_info(r).meta["hparams"] for r in store.runs()}
    groups = group_runs(store.runs(), hp, GroupBy.parse("lr"))
    assert sorted(len(v) for v in groups.values()) == [3] * len(sweepdata.LRS)
    view = GroupedStore(store)
    view.set_groups({GROUP_PREFIX + k: v for k, v in groups.items()})
    for key, members in groups.items():
        lr = float(key.split("=")[1])
        truths = [t for t in TRUTHS if abs(t.lr - lr) < 1e-12]
        stack = np.stack([t.val_loss for t in truths])
        mean = view.series(GROUP_PREFIX + key, "val/loss")
        assert mean.step.tolist() == list(sweepdata.STEPS)
        np.testing.assert_allclose(mean.value, stack.mean(axis=0), rtol=1e-6)
        step, lo, hi = view.band(GROUP_PREFIX + key, "val/loss", 0.0)
        np.testing.assert_allclose(lo, stack.min(axis=0), rtol=1e-6)
        np.testing.assert_allclose(hi, stack.max(axis=0), rtol=1e-6)
        # smoothing each run, then the mean: the band is of the smoothed runs
        smoothed = np.stack([_loop_ema(t.val_loss, 0.8) for t in truths])
        _, lo, hi = view.band(GROUP_PREFIX + key, "val/loss", 0.8)
        np.testing.assert_allclose(lo, smoothed.min(axis=0), rtol=1e-6)
        np.testing.assert_allclose(hi, smoothed.max(axis=0), rtol=1e-6)
        # and the chart's smoothing of the mean is the mean of the smoothed runs
        np.testing.assert_allclose(_loop_ema(mean.value, 0.8), smoothed.mean(axis=0), rtol=1e-6)


def test_aggregate_on_steps_that_differ():
    """Runs logged at different steps: each is interpolated inside its own range only."""
    a = (np.array([0, 10, 20]), np.array([1.0, 2.0, 3.0]))
    b = (np.array([5, 15, 25, 35]), np.array([4.0, 4.0, 6.0, 6.0]))
    agg = aggregate([a, b])
    assert agg.step.tolist() == [0, 5, 10, 15, 20, 25, 35]
    assert agg.count.tolist() == [1, 2, 2, 2, 2, 1, 1]
    np.testing.assert_allclose(agg.mean, [1.0, 2.75, 3.0, 3.25, 4.0, 6.0, 6.0])
    np.testing.assert_allclose(agg.lo, [1.0, 1.5, 2.0, 2.5, 3.0, 6.0, 6.0])
    np.testing.assert_allclose(agg.hi, [1.0, 4.0, 4.0, 4.0, 5.0, 6.0, 6.0])


def test_grouping_keys():
    hp = {"a": {"lr": 0.1, "seed": 1, "bs": 8}, "b": {"lr": 0.1, "seed": 2, "bs": 8},
          "c": {"lr": "1e-2", "seed": 1, "bs": 8}}
    assert group_runs(list(hp), hp, GroupBy.parse("seed")) == {
        "bs=8,lr=0.1": ["a", "b"], "bs=8,lr=0.01": ["c"]}
    assert list(group_runs(list(hp), hp, GroupBy.parse("lr"))) == ["lr=0.1", "lr=0.01"]
    names = ["x/lr=1_seed=1", "x/lr=1_seed=2", "x/lr=2_seed=1"]
    assert group_runs(names, {}, GroupBy.parse("/lr=(\\d+)/")) == {
        "1": names[:2], "2": names[2:]}
    assert group_runs(names, {}, GroupBy.parse("seed")) == {"x/lr=1": names[:2], "x/lr=2": names[2:]}
    with pytest.raises(ValueError):
        GroupBy.parse("/(unclosed/")


@pytest.mark.parametrize("tag,want", [
    ("val/loss", "min"), ("eval_loss", "min"), ("val_error", "min"), ("perplexity", "min"),
    ("val/acc", "max"), ("f1", "max"), ("eval/auc", "max"), ("episode_reward", "max"),
    ("Accuracy/test", "max")])
def test_direction_from_the_name(tag, want):
    assert direction(tag) == want


def test_default_metric_is_the_first_validation_loss():
    assert default_metric(["train/loss", "val/acc", "val/loss", "val/zloss"]) == "val/loss"
    assert default_metric(["loss", "eval_accuracy", "eval_loss"]) == "eval_loss"
    assert default_metric(["loss", "acc"]) == "loss"
    assert default_metric([]) is None


def test_missing_values_sort_last_both_ways():
    from mlmon_tui.analysis.sweep import Row

    rows = [Row("a", {"lr": 0.1}), Row("b", {}), Row("c", {"lr": 0.01}), Row("d", {"lr": "x"})]
    assert [r.run for r in sort_rows(rows, "lr")] == ["c", "a", "d", "b"]
    assert [r.run for r in sort_rows(rows, "lr", descending=True)][-1] == "b"


def test_summary_command(tmp_path_factory, capsys):
    root, _ = _writer_tree(tmp_path_factory, "lightning")
    assert summary_main([str(root), "--json", "--top", "3"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data) == 3
    assert set(data[0]) == {"run", "hparams", "state", "last_step", "last", "best", "best_step",
                            "smoothed_last"}
    best = min(TRUTHS, key=lambda t: t.val_loss.min())
    assert data[0]["hparams"]["lr"] == best.lr and data[0]["hparams"]["seed"] == best.seed
    assert summary_main([str(root), "--sort", "lr", "--asc"]) == 0
    lines = capsys.readouterr().out.splitlines()
    head = lines[0].split(",")
    assert head[:3] == ["run", "state", "last_step"] and head[-4:] == [
        "last", "best", "best_step", "smoothed_last"]
    lrs = [float(line.split(",")[head.index("lr")]) for line in lines[1:]]
    assert lrs == sorted(lrs) and len(lrs) == len(TRUTHS)
    assert summary_main([str(root), "--group-by", "lr", "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)
    assert [g["n"] for g in groups] == [3] * len(sweepdata.LRS)
    means = [g["best_mean"] for g in groups]
    assert means == sorted(means)


@pytest.mark.parametrize("args,msg", [
    (["--sort", "nope"], "no column 'nope'"),
    (["--metric", "nope"], "no run has the metric"),
    (["--group-by", "/(/"], "bad regex"),
])
def test_summary_refuses_bad_input_in_one_line(tmp_path_factory, capsys, args, msg):
    root, _ = _writer_tree(tmp_path_factory, "tensorboard")
    with pytest.raises(SystemExit) as e:
        summary_main([str(root), *args])
    assert e.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert msg in err[-1]


def test_summary_of_a_missing_path(tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        summary_main([str(tmp_path / "nope")])
    assert e.value.code == 2 and "no such file" in capsys.readouterr().err
