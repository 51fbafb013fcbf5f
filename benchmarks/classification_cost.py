"""Client-side cost of `Monitor.log_predictions`, next to scikit-learn's time for the same
metrics on the same predictions.

    PYTHONPATH=src python benchmarks/classification_cost.py [--quick]

For 10k and 1M predictions, binary (one probability per sample) and 10 classes (an n x 10
probability matrix):
  - call: what the training thread pays (`log_predictions` takes a snapshot and returns);
  - numpy: the sending thread's work with numpy (`classmetrics.compute` + the JSON lines);
  - pure: the same without numpy (pure Python, as in a process without numpy);
  - sklearn: scikit-learn computing the same scalars (accuracy, precision, recall, F1,
    ROC AUC, average precision or their macro / per-class forms), the ROC and PR curves
    and the confusion matrix.
CPU seconds of the measuring thread (time.thread_time), best of a few repetitions (one for the
slow cases). Inputs are numpy arrays for call/numpy/sklearn and Python lists for pure.
`--quick` skips the pure-Python 1M multiclass case (about a minute on a slow core).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from mlmon_tui import classmetrics
from mlmon_tui.client import Monitor


def cpu(fn, reps: int) -> float:
    """CPU seconds of this thread (the client's sender runs in another one), best of reps."""
    best = float("inf")
    for _ in range(reps):
        t = time.thread_time()
        fn()
        best = min(best, time.thread_time() - t)
    return best


def data(n: int, k: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, k, n)
    if k == 2:
        return y, np.clip(rng.random(n) * 0.7 + 0.3 * y, 0, 1)
    z = rng.normal(size=(n, k))
    z[np.arange(n), y] += 1.5
    p = np.exp(z)
    return y, p / p.sum(axis=1, keepdims=True)


def ours(y, s, use_numpy):
    r = classmetrics.compute(y, s, use_numpy=use_numpy)
    json.dumps({"metrics": r["scalars"]})
    json.dumps({"roc": r["roc"], "pr": r["pr"], "confusion": r["confusion"]})


def sklearn_same(y, s):
    from sklearn import metrics as m

    if s.ndim == 1:
        pred = (s >= 0.5).astype(int)
        m.accuracy_score(y, pred)
        m.precision_recall_fscore_support(y, pred, average="binary", zero_division=0)
        m.roc_auc_score(y, s)
        m.average_precision_score(y, s)
        m.roc_curve(y, s)
        m.precision_recall_curve(y, s)
    else:
        pred = s.argmax(axis=1)
        m.accuracy_score(y, pred)
        m.precision_recall_fscore_support(y, pred, average="macro", zero_division=0)
        m.f1_score(y, pred, average=None, zero_division=0)
        m.roc_auc_score(y, s, multi_class="ovr")
        for j in range(s.shape[1]):  # the per-class curves our averaged curves come from
            m.roc_curve(y == j, s[:, j])
            m.precision_recall_curve(y == j, s[:, j])
    m.confusion_matrix(y, pred)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    mon = Monitor(run="bench", address="unix:/nonexistent/bench.sock", buffer=1 << 20)
    # no monitor and no spool: the queue just holds the snapshots (nothing is computed)
    print(f"{'case':<22}{'call':>10}{'numpy':>10}{'pure':>10}{'sklearn':>10}"
          f"{'numpy/sk':>10}{'pure/sk':>9}")
    for n in (10_000, 1_000_000):
        for k in (2, 10):
            y, s = data(n, k)
            yl, sl = y.tolist(), s.tolist()
            big = n >= 1_000_000
            reps = 1 if big else 5
            t_call = cpu(lambda: (mon.log_predictions(1, y, s), mon._q.clear()), 3)
            t_np = cpu(lambda: ours(y, s, True), reps)
            skip_pure = a.quick and big and k > 2
            t_py = float("nan") if skip_pure else cpu(lambda: ours(yl, sl, False), 1 if big
                                                       else 3)
            t_sk = cpu(lambda: sklearn_same(y, s), reps)
            name = f"{n // 1000}k {'binary' if k == 2 else f'{k} classes'}"
            print(f"{name:<22}{t_call * 1e3:>8.2f}ms{t_np:>9.3f}s{t_py:>9.3f}s{t_sk:>9.3f}s"
                  f"{t_np / t_sk:>10.2f}{t_py / t_sk:>9.1f}")
    mon.close(0.1)


if __name__ == "__main__":
    main()
