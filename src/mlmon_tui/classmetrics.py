"""Classification metrics from predictions, exact, as scikit-learn computes them.

Standard library only at import time, so that `mlmon_tui.client` (which must not pull in the
rest of the package) can import it lazily on its sending thread. When numpy is importable it
is used for the heavy part (sorting, counting); otherwise everything runs in pure Python.
Both paths give the same numbers (within float rounding), equal to scikit-learn's within 1e-6:

  binary      accuracy, precision, recall, f1 (positive class 1, `threshold` on the
              probability), roc_auc, average_precision
  multiclass  accuracy, precision_macro, recall_macro, f1_macro (averaged over the classes
              present in y_true or the predictions, scikit-learn's default), roc_auc_macro
              (one-vs-rest, averaged over the classes that have positives and negatives in
              y_true; scikit-learn refuses unless every class is present), f1/<label> for up
              to 20 classes (classes seen in y_true or the predictions)

Curves (at most `MAX_CURVE` points each): the binary ROC and precision-recall curves, thinned
evenly along their length; for several classes the one-vs-rest curves averaged over the
classes (ROC: true-positive rate at a fixed grid of false-positive rates; PR: interpolated
precision at a fixed grid of recalls). The confusion matrix (rows: true, columns: predicted)
for up to `MAX_CLASSES` classes.
"""

from __future__ import annotations

import bisect
import itertools
import math
import operator

__all__ = ["MAX_CLASSES", "MAX_CURVE", "MAX_PER_CLASS", "PredictionError", "compute",
           "to_host"]

MAX_CURVE = 201
MAX_CLASSES = 100
MAX_PER_CLASS = 20


class PredictionError(ValueError):
    """Predictions that cannot be scored (NaN scores, mismatched lengths, empty input...)."""


# --- input -------------------------------------------------------------------------------------

def to_host(x):
    """A cheap, stable snapshot of `x` that the caller may change afterwards: torch tensors
    are detached and copied to the CPU without waiting for the GPU (a non-blocking copy and a
    CUDA event the reader waits on, see `materialise`); numpy arrays and lists are copied.
    Called on the training thread: imports nothing."""
    if x is None:
        return None
    if hasattr(x, "detach") and hasattr(x, "device"):  # a torch tensor
        t = x.detach()
        kind = getattr(t.device, "type", "cpu")
        if kind == "cuda":
            import torch  # already imported by whoever made the tensor

            # into pinned memory, queued behind the work that computes the tensor; the
            # event (on the tensor's device's stream) tells the reader when it is there
            t = t.to("cpu", non_blocking=True)
            ev = torch.cuda.Event()
            ev.record(torch.cuda.current_stream(x.device))
            return ("cuda", t, ev)
        if kind != "cpu":  # MPS, XLA...: a plain (waiting) copy
            return ("torch", t.cpu())
        return ("torch", t.clone())
    if hasattr(x, "copy") and hasattr(x, "dtype"):  # numpy
        return ("np", x.copy())
    try:
        return ("list", list(x))
    except TypeError:
        return ("list", [x])


def materialise(h, np=None):
    """The snapshot from `to_host` as a numpy array (with `np`) or nested lists."""
    if h is None:
        return None
    kind, x = h[0], h[1]
    if kind == "cuda":
        h[2].synchronize()
    if kind in ("cuda", "torch"):
        if x.dtype.is_floating_point and x.element_size() < 4:
            x = x.float()  # half / bfloat16: not every numpy has them
        if np is not None:
            try:
                return x.numpy()
            except (RuntimeError, TypeError):
                pass
        return x.tolist()
    if kind == "np":
        return x if np is not None else x.tolist()
    if np is not None:
        try:
            return np.asarray(x, dtype=np.float64)
        except (ValueError, TypeError):
            pass
    return [v.tolist() if hasattr(v, "tolist") else v for v in x]


def _numpy():
    try:
        import numpy

        return numpy
    except ImportError:  # pragma: no cover - exercised by forcing use_numpy=False
        return None


# --- entry point -------------------------------------------------------------------------------

def compute(y_true, y_score=None, y_pred=None, *, threshold: float = 0.5, logits: bool = False,
            labels=None, use_numpy: bool | None = None) -> dict:
    """Metrics of one evaluation. `y_true`: class indices (0/1 for binary). `y_score`: a
    positive-class probability (or logit with `logits=True`) per sample, or an n x k matrix
    of class probabilities (or logits); or `y_pred`, predicted class indices. Inputs may be
    lists, numpy arrays, torch tensors or `to_host` snapshots.

    Returns {"kind", "n", "labels", "scalars", "roc", "pr", "confusion"}: `roc` is
    [fpr, tpr], `pr` is [recall, precision] (None without scores), `confusion` a k x k list
    (None above MAX_CLASSES). Raises PredictionError with a one-line reason for input that
    cannot be scored."""
    np = _numpy() if use_numpy in (None, True) else None
    if use_numpy and np is None:
        raise PredictionError("numpy is not importable")
    y_true = _load(y_true, np)
    y_score = _load(y_score, np)
    y_pred = _load(y_pred, np)
    if y_score is None and y_pred is None:
        raise PredictionError("give y_score (scores or probabilities) or y_pred (classes)")
    n = len(y_true)
    if n == 0:
        raise PredictionError("no predictions (empty y_true)")
    other = y_score if y_score is not None else y_pred
    if len(other) != n:
        raise PredictionError(f"y_true has {n} entries but "
                              f"{'y_score' if y_score is not None else 'y_pred'} {len(other)}")
    truth = _classes(y_true, "y_true", np)
    if y_score is not None:
        mat = _matrix(y_score, np)
        if mat is None:  # one score per sample: binary
            return _binary(truth, _scores(y_score, np, logits), threshold, labels, np)
        k = mat[1]
        if k == 1:
            return _binary(truth, _scores([r[0] for r in mat[0]] if np is None
                                          else mat[0][:, 0], np, logits), threshold, labels, np)
        probs = _softmax(mat[0], np) if logits else _finite_matrix(mat[0], np)
        if k == 2:
            col = probs[:, 1] if np is not None else [r[1] for r in probs]
            return _binary(truth, col, threshold, labels, np)
        return _multiclass(truth, probs, k, labels, np)
    pred = _classes(y_pred, "y_pred", np)
    k = max(_max(truth, np), _max(pred, np)) + 1
    if labels is not None:
        k = max(k, len(labels))
    if k <= 2:
        return _binary_from_pred(truth, pred, labels, np)
    return _finish("multiclass", n, k, labels, truth, pred, None, np)


# --- conversions -------------------------------------------------------------------------------

def _load(x, np):
    if x is None:
        return None
    if isinstance(x, tuple) and len(x) in (2, 3) and x[0] in ("cuda", "torch", "np", "list"):
        return materialise(x, np)
    if hasattr(x, "detach") and hasattr(x, "device"):
        return materialise(to_host(x), np)
    if np is not None:
        try:
            return np.asarray(x, dtype=np.float64)
        except (ValueError, TypeError) as e:
            raise PredictionError(f"not a list of numbers: {e}") from None
    if hasattr(x, "tolist"):
        return x.tolist()
    return list(x)


def _classes(y, name: str, np):
    """Integer class indices (0..), as an int64 array or a list of ints."""
    if np is not None:
        a = np.asarray(y, dtype=np.float64)
        if a.ndim != 1:
            raise PredictionError(f"{name} must be one class index per sample, "
                                  f"got shape {a.shape}")
        if not np.all(np.isfinite(a)):
            bad = int(np.count_nonzero(~np.isfinite(a)))
            raise PredictionError(f"{name} has {bad} NaN or infinite values")
        if np.any(a < 0) or np.any(a != np.floor(a)):
            raise PredictionError(f"{name} must hold class indices 0, 1, 2, ...")
        return a.astype(np.int64)
    if all(type(v) is int for v in y):  # the usual case, checked at C speed
        if y and min(y) < 0:
            raise PredictionError(f"{name} must hold class indices 0, 1, 2, ...")
        return list(y)
    out = []
    for v in y:
        if isinstance(v, (list, tuple)):
            raise PredictionError(f"{name} must be one class index per sample")
        f = float(v)
        if not math.isfinite(f):
            bad = sum(1 for u in y if not math.isfinite(float(u)))
            raise PredictionError(f"{name} has {bad} NaN or infinite values")
        if f < 0 or f != int(f):
            raise PredictionError(f"{name} must hold class indices 0, 1, 2, ...")
        out.append(int(f))
    return out


def _matrix(y, np):
    """(rows, k) when `y` is an n x k matrix, else None."""
    if np is not None:
        a = np.asarray(y, dtype=np.float64)
        if a.ndim == 1:
            return None
        if a.ndim != 2:
            raise PredictionError(f"y_score must be 1-D or n x k, got shape {a.shape}")
        return a, a.shape[1]
    if not y or not isinstance(y[0], (list, tuple)):
        return None
    k = len(y[0])
    rows = []
    for r in y:
        if not isinstance(r, (list, tuple)) or len(r) != k:
            raise PredictionError("y_score rows must all have the same length")
        rows.append([float(v) for v in r])
    return rows, k


def _nan_message(bad: int) -> str:
    return f"y_score has {bad} NaN or infinite values"


def _scores(y, np, logits: bool):
    if np is not None:
        s = np.asarray(y, dtype=np.float64)
        if not np.all(np.isfinite(s)):
            raise PredictionError(_nan_message(int(np.count_nonzero(~np.isfinite(s)))))
        return 1.0 / (1.0 + np.exp(-s)) if logits else s
    s = y if all(type(v) is float for v in y) else [float(v) for v in y]
    # a NaN or infinity makes the sum non-finite (checked at C speed); then count them
    bad = 0 if math.isfinite(sum(s)) else sum(1 for v in s if not math.isfinite(v))
    if bad:
        raise PredictionError(_nan_message(bad))
    return [_sigmoid(v) for v in s] if logits else s


def _sigmoid(v: float) -> float:
    if v >= 0:
        return 1.0 / (1.0 + math.exp(-v))
    e = math.exp(v)
    return e / (1.0 + e)


def _finite_matrix(rows, np):
    if np is not None:
        if not np.all(np.isfinite(rows)):
            raise PredictionError(_nan_message(int(np.count_nonzero(~np.isfinite(rows)))))
        return rows
    bad = 0 if math.isfinite(sum(map(sum, rows))) else sum(
        1 for r in rows for v in r if not math.isfinite(v))
    if bad:
        raise PredictionError(_nan_message(bad))
    return rows


def _softmax(rows, np):
    rows = _finite_matrix(rows, np)
    if np is not None:
        e = np.exp(rows - rows.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)
    out = []
    for r in rows:
        m = max(r)
        e = [math.exp(v - m) for v in r]
        t = sum(e)
        out.append([v / t for v in e])
    return out


def _max(a, np) -> int:
    return int(a.max()) if np is not None else max(a)


# --- binary ------------------------------------------------------------------------------------

def _binary(truth, scores, threshold: float, labels, np) -> dict:
    if _max(truth, np) > 1:
        raise PredictionError("binary scores need y_true of 0 and 1 (for several classes "
                              "give an n x k matrix of scores)")
    if np is not None:
        pred = (scores >= threshold).astype(np.int64)
        fps, tps = _clf_curve_np(truth, scores, np)
    else:
        pred = [1 if s >= threshold else 0 for s in scores]
        fps, tps = _clf_curve_py(truth, scores)
    out = _binary_from_pred(truth, pred, labels, np)
    P, N = int(tps[-1]), int(fps[-1])
    sc = out["scalars"]
    if P and N:
        fpr, tpr = _prepend(_div(fps, N, np), 0.0, np), _prepend(_div(tps, P, np), 0.0, np)
        sc["roc_auc"] = _trapezoid(fpr, tpr, np)
        out["roc"] = _thin(fpr, tpr, np)
    if P:
        rec, prec = _div(tps, P, np), _precision(tps, fps, np)
        sc["average_precision"] = _ap(rec, prec, np)
        out["pr"] = _thin(_prepend(rec, 0.0, np), _prepend(prec, 1.0, np), np)
    return out


def _div(a, d, np):
    return a / d if np is not None else [v / d for v in a]


def _prepend(a, v, np):
    return np.r_[v, a] if np is not None else [v] + a


def _precision(tps, fps, np):
    if np is not None:
        return tps / (tps + fps)
    return [t / (t + f) for t, f in zip(tps, fps)]


def _ap(rec, prec, np) -> float:
    """scikit-learn's average precision: sum of (R_i - R_{i-1}) P_i, highest score first."""
    if np is not None:
        return float(np.sum(np.diff(np.r_[0.0, rec]) * prec))
    ap, last = 0.0, 0.0
    for r, p in zip(rec, prec):
        ap += (r - last) * p
        last = r
    return ap


def _clf_curve_np(truth, scores, np):
    """Cumulative false and true positives at each distinct score, highest first (as lists)."""
    order = np.argsort(-scores)  # ties are grouped below: their order does not matter
    s = scores[order]
    y = truth[order]
    idx = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tps = np.cumsum(y)[idx]
    fps = 1 + idx - tps
    return fps.astype(np.float64), tps.astype(np.float64)


def _clf_curve_py(truth, scores):
    order = sorted(range(len(scores)), key=scores.__getitem__, reverse=True)
    s = sorted(scores, reverse=True)  # the same values in the same order, at C speed
    cum = list(itertools.accumulate([truth[i] for i in order]))
    # the last position of each run of equal scores
    idx = [i for i, (a, b) in enumerate(zip(s, s[1:])) if a != b]
    idx.append(len(s) - 1)
    tps = [cum[i] for i in idx]
    fps = [i + 1 - t for i, t in zip(idx, tps)]
    return fps, tps


def _binary_from_pred(truth, pred, labels, np) -> dict:
    out = _finish("binary", len(truth), 2, labels, truth, pred, None, np)
    cm = out["confusion"]
    tn, fp, fn, tp = cm[0][0], cm[0][1], cm[1][0], cm[1][1]
    out["scalars"] = {
        "accuracy": (tp + tn) / len(truth),
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / (tp + fn) if tp + fn else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
    }
    return out


# --- several classes ---------------------------------------------------------------------------

def _multiclass(truth, probs, k: int, labels, np) -> dict:
    if _max(truth, np) >= k:
        raise PredictionError(f"y_true has class {_max(truth, np)} but y_score only {k} columns")
    if np is not None:
        pred = np.argmax(probs, axis=1)
    else:
        pred = [max(range(k), key=r.__getitem__) for r in probs]
    aucs, rocs, prs = [], [], []
    for j in range(k):
        if np is not None:
            yj = (truth == j).astype(np.int64)
            fps, tps = _clf_curve_np(yj, probs[:, j], np)
        else:
            yj = [1 if t == j else 0 for t in truth]
            fps, tps = _clf_curve_py(yj, [r[j] for r in probs])
        P, N = int(tps[-1]), int(fps[-1])
        if not (P and N):
            continue
        fpr, tpr = _prepend(_div(fps, N, np), 0.0, np), _prepend(_div(tps, P, np), 0.0, np)
        aucs.append(_trapezoid(fpr, tpr, np))
        rocs.append(_thin(fpr, tpr, np, 4 * MAX_CURVE))
        prs.append(_thin(_div(tps, P, np), _precision(tps, fps, np), np, 4 * MAX_CURVE))
    return _finish("multiclass", len(truth), k, labels, truth, pred,
                   (aucs, rocs, prs), np)


def _finish(kind, n, k, labels, truth, pred, curves, np) -> dict:
    cm = _confusion(truth, pred, k, np)
    names = _label_names(labels, k)
    out = {"kind": kind, "n": n, "labels": names, "scalars": {}, "roc": None, "pr": None,
           "confusion": cm if k <= MAX_CLASSES else None}
    if kind == "binary":
        return out
    rows = [sum(r) for r in cm]
    cols = [sum(cm[i][j] for i in range(k)) for j in range(k)]
    present = [j for j in range(k) if rows[j] or cols[j]]
    prec = {j: cm[j][j] / cols[j] if cols[j] else 0.0 for j in present}
    rec = {j: cm[j][j] / rows[j] if rows[j] else 0.0 for j in present}
    f1 = {j: 2 * cm[j][j] / (rows[j] + cols[j]) for j in present}
    m = len(present)
    sc = out["scalars"]
    sc["accuracy"] = sum(cm[j][j] for j in range(k)) / n
    sc["precision_macro"] = sum(prec.values()) / m
    sc["recall_macro"] = sum(rec.values()) / m
    sc["f1_macro"] = sum(f1.values()) / m
    if curves is not None:
        aucs, rocs, prs = curves
        if aucs:
            sc["roc_auc_macro"] = sum(aucs) / len(aucs)
            out["roc"] = _mean_roc(rocs)
            out["pr"] = _mean_pr(prs)
    if k <= MAX_PER_CLASS:
        for j in present:
            sc[f"f1/{names[j]}"] = f1[j]
    return out


def _confusion(truth, pred, k: int, np) -> list[list[int]]:
    if np is not None:
        flat = np.bincount(np.asarray(truth, dtype=np.int64) * k
                           + np.asarray(pred, dtype=np.int64), minlength=k * k)
        return flat.reshape(k, k).tolist()
    cm = [[0] * k for _ in range(k)]
    for t, p in zip(truth, pred):
        cm[t][p] += 1
    return cm


def _label_names(labels, k: int) -> list[str]:
    names = [str(x) for x in labels][:k] if labels is not None else []
    names += [str(i) for i in range(len(names), k)]
    clean = []
    for s in names:
        s = "".join(c if c >= " " and c != "\x7f" else "_" for c in s)[:64] or "_"
        clean.append(s)
    return clean


# --- curves ------------------------------------------------------------------------------------

def _trapezoid(x, y, np) -> float:
    if np is not None:
        return float(np.sum(np.diff(x) * (y[1:] + y[:-1])) / 2.0)
    return sum(map(operator.mul, map(operator.sub, x[1:], x),
                   map(operator.add, y[1:], y))) / 2.0


def _thin(x, y, np=None, n: int = MAX_CURVE) -> list[list[float]]:
    """At most `n` points of the polyline (x, y), spread evenly along its length, keeping
    both ends; points in the middle of a straight run are dropped first (for long curves
    after a first spread-out pick of 8n points, which keeps this linear and cheap)."""
    if len(x) > 8 * n:
        x, y = _spread(x, y, 8 * n, np)
    if np is not None and len(x) > 2:
        dx, dy = np.diff(x), np.diff(y)
        turn = np.abs(dx[:-1] * dy[1:] - dy[:-1] * dx[1:]) > 1e-15
        keep = np.r_[True, turn | (dx[:-1] * dx[1:] + dy[:-1] * dy[1:] < 0), True]
        x, y = x[keep], y[keep]
    elif len(x) > 2:  # as scikit-learn's drop_intermediate
        kx, ky = [x[0]], [y[0]]
        for i in range(1, len(x) - 1):
            ax, ay, bx, by = x[i] - x[i - 1], y[i] - y[i - 1], x[i + 1] - x[i], y[i + 1] - y[i]
            if abs(ax * by - ay * bx) > 1e-15 or ax * bx + ay * by < 0:
                kx.append(x[i])
                ky.append(y[i])
        kx.append(x[-1])
        ky.append(y[-1])
        x, y = kx, ky
    if len(x) > n:
        x, y = _spread(x, y, n, np)
    if np is not None:
        return [np.round(np.asarray(x, dtype=np.float64), 6).tolist(),
                np.round(np.asarray(y, dtype=np.float64), 6).tolist()]
    return [[round(float(v), 6) for v in x], [round(float(v), 6) for v in y]]


def _spread(x, y, n: int, np):
    """About `n` points of (x, y) evenly spaced along the curve's length, both ends kept."""
    if np is not None:
        x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        dist = np.r_[0.0, np.cumsum(np.hypot(np.diff(x), np.diff(y)))]
        pick = np.unique(np.r_[0, np.minimum(len(x) - 1, np.searchsorted(
            dist, dist[-1] * np.arange(n) / (n - 1))), len(x) - 1])
        return x[pick], y[pick]
    x, y = list(x), list(y)
    dist = list(itertools.accumulate(
        map(math.hypot, map(operator.sub, x[1:], x), map(operator.sub, y[1:], y)),
        initial=0.0))
    total = dist[-1]
    pick = sorted({min(len(x) - 1, bisect.bisect_left(dist, total * i / (n - 1)))
                   for i in range(n)} | {0, len(x) - 1})
    return [x[i] for i in pick], [y[i] for i in pick]


def _mean_roc(rocs) -> list[list[float]]:
    grid = [i / (MAX_CURVE - 1) for i in range(MAX_CURVE)]
    tpr = [0.0] * MAX_CURVE
    for fpr, t in rocs:
        for g, v in enumerate(grid):
            j = bisect.bisect_right(fpr, v) - 1  # the highest tpr reached at fpr <= v
            tpr[g] += t[j]
    return _thin(grid, [v / len(rocs) for v in tpr])


def _mean_pr(prs) -> list[list[float]]:
    grid = [i / (MAX_CURVE - 1) for i in range(MAX_CURVE)]
    prec = [0.0] * MAX_CURVE
    for rec, p in prs:
        best = p[:]  # interpolated precision: the best precision at this recall or beyond
        for i in range(len(best) - 2, -1, -1):
            best[i] = max(best[i], best[i + 1])
        for g, v in enumerate(grid):
            j = bisect.bisect_left(rec, v)
            prec[g] += best[j] if j < len(best) else 0.0
    return _thin(grid, [v / len(prs) for v in prec])
