"""Classification metrics from predictions against scikit-learn: property tests on random
binary and multiclass data, ties, a single class, NaN scores and empty input; both the numpy
path and the pure Python one."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import pytest

np = pytest.importorskip("numpy")
skm = pytest.importorskip("sklearn.metrics", reason="scikit-learn is not installed (test extra)")
hyp = pytest.importorskip("hypothesis", reason="hypothesis is not installed (test extra)")
from hypothesis import given, settings, strategies as st  # noqa: E402

from mlmon_tui.classmetrics import MAX_CURVE, PredictionError, compute  # noqa: E402
from mlmon_tui.integrations.metrics import classification  # noqa: E402

TOL = 1e-6
PROPS = settings(max_examples=40, deadline=None)
BOTH = pytest.mark.parametrize("use_numpy", [True, False], ids=["numpy", "pure"])


def _inputs(use_numpy, *arrays):
    return [a if use_numpy else a.tolist() for a in arrays]


def _close(ours: dict, theirs: dict) -> None:
    assert set(theirs) <= set(ours), set(theirs) - set(ours)
    for k, v in theirs.items():
        assert abs(ours[k] - v) <= TOL, (k, ours[k], v)


def _sk_binary(y, s, thr=0.5) -> dict:
    pred = (s >= thr).astype(int)
    out = {"accuracy": skm.accuracy_score(y, pred),
           "precision": skm.precision_score(y, pred, zero_division=0),
           "recall": skm.recall_score(y, pred, zero_division=0),
           "f1": skm.f1_score(y, pred, zero_division=0)}
    if 0 < y.sum() < len(y):
        out["roc_auc"] = skm.roc_auc_score(y, s)
    if y.sum():
        out["average_precision"] = skm.average_precision_score(y, s)
    return out


@st.composite
def binary_data(draw):
    n = draw(st.integers(2, 300))
    seed = draw(st.integers(0, 2**31 - 1))
    levels = draw(st.sampled_from([0, 3, 11]))  # 0: continuous scores; else heavy ties
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    s = rng.random(n) * 0.7 + 0.3 * y * rng.random()
    if levels:
        s = np.round(s * (levels - 1)) / (levels - 1)
    return y, s


@BOTH
@PROPS
@given(data=binary_data(), thr=st.sampled_from([0.5, 0.3, 0.8]))
def test_binary_matches_sklearn(use_numpy, data, thr):
    y, s = data
    r = compute(*_inputs(use_numpy, y, s), threshold=thr, use_numpy=use_numpy)
    assert r["kind"] == "binary" and r["n"] == len(y)
    _close(r["scalars"], _sk_binary(y, s, thr))
    assert r["confusion"] == skm.confusion_matrix(y, (s >= thr).astype(int),
                                                  labels=[0, 1]).tolist()
    for name in ("roc", "pr"):
        if r[name] is not None:
            x, v = r[name]
            assert 2 <= len(x) == len(v) <= MAX_CURVE
            assert all(0.0 <= a <= 1.0 for a in x + v)


@st.composite
def multiclass_data(draw, ties=None):
    k = draw(st.integers(3, 8))
    n = draw(st.integers(k * 3, 300))
    seed = draw(st.integers(0, 2**31 - 1))
    ties = draw(st.booleans()) if ties is None else ties
    rng = np.random.default_rng(seed)
    y = np.r_[np.arange(k), rng.integers(0, k, n - k)]  # every class present
    z = rng.normal(size=(n, k))
    z[np.arange(n), y] += rng.random() * 3
    p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    if ties:
        p = np.round(p, 1)
        p[:, -1] = 1.0 - p[:, :-1].sum(axis=1)
        p = np.clip(p, 0, 1)
        p = p / p.sum(axis=1, keepdims=True)
    return y, p


@BOTH
@PROPS
@given(data=multiclass_data())
def test_multiclass_matches_sklearn(use_numpy, data):
    y, p = data
    k = p.shape[1]
    r = compute(*_inputs(use_numpy, y, p), use_numpy=use_numpy)
    pred = p.argmax(axis=1)
    theirs = {"accuracy": skm.accuracy_score(y, pred),
              "precision_macro": skm.precision_score(y, pred, average="macro", zero_division=0),
              "recall_macro": skm.recall_score(y, pred, average="macro", zero_division=0),
              "f1_macro": skm.f1_score(y, pred, average="macro", zero_division=0),
              "roc_auc_macro": skm.roc_auc_score(y, p, multi_class="ovr", average="macro")}
    for j, f in enumerate(skm.f1_score(y, pred, average=None, labels=range(k),
                                       zero_division=0)):
        theirs[f"f1/{j}"] = f
    _close(r["scalars"], theirs)
    assert r["confusion"] == skm.confusion_matrix(y, pred, labels=range(k)).tolist()
    assert len(r["roc"][0]) <= MAX_CURVE and len(r["pr"][0]) <= MAX_CURVE


@BOTH
@PROPS
@given(data=multiclass_data(ties=False))
def test_logits_are_softmaxed(use_numpy, data):
    y, p = data
    logits = np.log(p) + 3.0  # softmax(logits) == p, up to rounding (no ties here)
    a = compute(*_inputs(use_numpy, y, logits), logits=True, use_numpy=use_numpy)
    pred = p.argmax(axis=1)
    _close(a["scalars"], {
        "accuracy": skm.accuracy_score(y, pred),
        "f1_macro": skm.f1_score(y, pred, average="macro", zero_division=0),
        "roc_auc_macro": skm.roc_auc_score(y, p, multi_class="ovr")})


@BOTH
def test_binary_logits_and_two_columns(use_numpy):
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 200)
    logit = rng.normal(size=200) + y
    prob = 1 / (1 + np.exp(-logit))
    want = _sk_binary(y, prob)
    _close(compute(*_inputs(use_numpy, y, logit), logits=True,
                   use_numpy=use_numpy)["scalars"], want)
    two = np.c_[1 - prob, prob]
    _close(compute(*_inputs(use_numpy, y, two), use_numpy=use_numpy)["scalars"], want)
    _close(compute(*_inputs(use_numpy, y, prob[:, None]), use_numpy=use_numpy)["scalars"], want)


@BOTH
@PROPS
@given(k=st.integers(2, 6), n=st.integers(1, 200), seed=st.integers(0, 10**6))
def test_class_indices_only(use_numpy, k, n, seed):
    rng = np.random.default_rng(seed)
    y, pred = rng.integers(0, k, n), rng.integers(0, k, n)
    r = compute(*_inputs(use_numpy, y), y_pred=_inputs(use_numpy, pred)[0], labels=range(k),
                use_numpy=use_numpy)
    assert r["roc"] is None and "roc_auc_macro" not in r["scalars"]
    if k == 2:
        _close(r["scalars"], {"accuracy": skm.accuracy_score(y, pred),
                              "f1": skm.f1_score(y, pred, zero_division=0)})
    else:
        _close(r["scalars"], {"accuracy": skm.accuracy_score(y, pred),
                              "f1_macro": skm.f1_score(y, pred, average="macro",
                                                       zero_division=0)})


@BOTH
def test_single_class_present(use_numpy):
    y = np.ones(50, dtype=int)
    s = np.linspace(0, 1, 50)
    r = compute(*_inputs(use_numpy, y, s), use_numpy=use_numpy)
    # scikit-learn: ROC AUC undefined with one class (it warns and gives NaN, or raises in
    # older releases); nothing is logged for it here
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            auc = skm.roc_auc_score(y, s)
        except ValueError:
            auc = math.nan
    assert math.isnan(auc)
    assert "roc_auc" not in r["scalars"] and r["roc"] is None
    _close(r["scalars"], _sk_binary(y, s))
    # no positives: average precision is undefined (scikit-learn warns and says 0): not logged
    neg = compute(*_inputs(use_numpy, 1 - y, s), use_numpy=use_numpy)
    assert "roc_auc" not in neg["scalars"] and "average_precision" not in neg["scalars"]
    assert neg["scalars"]["precision"] == 0.0 and neg["scalars"]["accuracy"] == pytest.approx(
        skm.accuracy_score(1 - y, (s >= 0.5).astype(int)))


@BOTH
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_nan_scores_are_refused_with_a_clear_message(use_numpy, bad):
    s = [0.1, bad, 0.7, bad]
    with pytest.raises(PredictionError, match=r"y_score has 2 NaN or infinite values"):
        compute([0, 1, 1, 0], s, use_numpy=use_numpy)
    with pytest.raises(PredictionError, match="NaN"):
        compute([0, 1, 2], [[0.2, 0.3, 0.5], [bad, 0.5, 0.5], [0.1, 0.1, 0.8]],
                use_numpy=use_numpy)


@BOTH
def test_empty_and_mismatched_input(use_numpy):
    with pytest.raises(PredictionError, match="no predictions"):
        compute([], [], use_numpy=use_numpy)
    with pytest.raises(PredictionError, match="y_true has 3 entries but y_score 2"):
        compute([0, 1, 1], [0.2, 0.4], use_numpy=use_numpy)
    with pytest.raises(PredictionError, match=r"give y_score .* or y_pred"):
        compute([0, 1], use_numpy=use_numpy)
    with pytest.raises(PredictionError, match="0 and 1"):
        compute([0, 2, 1], [0.1, 0.5, 0.9], use_numpy=use_numpy)
    with pytest.raises(PredictionError, match="class indices"):
        compute([0, 1.5, 1], [0.1, 0.5, 0.9], use_numpy=use_numpy)


def test_numpy_and_pure_python_agree_on_curves():
    rng = np.random.default_rng(7)
    y = rng.integers(0, 2, 5000)
    s = rng.random(5000) * 0.8 + 0.2 * y
    a, b = compute(y, s), compute(y.tolist(), s.tolist(), use_numpy=False)
    _close(a["scalars"], b["scalars"])
    assert np.allclose(a["roc"], b["roc"]) and np.allclose(a["pr"], b["pr"])
    # the thinned ROC curve stays within a hair of the full one
    fpr, tpr, _ = skm.roc_curve(y, s, drop_intermediate=False)
    x, v = a["roc"]
    assert len(x) <= MAX_CURVE < len(fpr)
    full = set(zip(np.round(fpr, 6), np.round(tpr, 6)))
    assert all(pt in full for pt in zip(x, v))  # points of the curve itself, ends kept
    assert (x[0], v[0], x[-1], v[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert abs(np.trapezoid(v, x) - a["scalars"]["roc_auc"]) < 0.005  # the shape is kept


def test_torch_tensors_and_labels():
    torch = pytest.importorskip("torch")
    y = torch.tensor([0, 1, 2, 2, 1, 0, 2])
    p = torch.softmax(torch.randn(7, 3, dtype=torch.float16).float(), dim=1).half()
    p.requires_grad_(False)
    r = classification(y, p, labels=["a", "b", "c"], split="test")
    assert r["test/accuracy"] == pytest.approx(
        skm.accuracy_score(y.numpy(), p.float().numpy().argmax(1)))
    assert {"test/f1/a", "test/f1/b", "test/f1/c", "test/roc_auc_macro"} <= set(r)
    d = classification(y, p, details=True)
    assert d["labels"] == ["0", "1", "2"] and sum(map(sum, d["confusion"])) == 7
    with pytest.raises(ValueError, match="NaN"):
        classification([0, 1], [0.1, float("nan")])


def test_client_and_metrics_import_no_numpy():
    code = ("import sys; import mlmon_tui.client, mlmon_tui.classmetrics; "
            "assert 'numpy' not in sys.modules, 'numpy imported'; "
            "assert not any(m.startswith('mlmon_tui.') and m not in ('mlmon_tui.client', "
            "'mlmon_tui.classmetrics') for m in sys.modules), sorted(sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
