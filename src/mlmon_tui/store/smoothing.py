"""Debiased exponential moving average, computed as TensorBoard's scalar dashboard does.

TensorBoard (vz_line_chart2 `resmoothDataset`), per point in order:

    last = 0; numAccum = 0
    isConstant = every value equals the first
    for each value v:
        if isConstant or v is not finite: smoothed = v          # passed through
        else:
            last = last * w + (1 - w) * v; numAccum += 1
            smoothed = last / (1 - w ** numAccum)                # debias

The recurrence `y[k] = w * y[k-1] + x[k]` is solved without a Python loop over points:
the finite values are cut into blocks of `_BLOCK`; all blocks advance together, one numpy
operation per position inside a block (64 operations, whatever the length); then the
block ends (a recurrence of the same form with factor `w ** _BLOCK`) are solved
recursively and carried into each block. No negative powers and no matrix products: the
result is as accurate as a plain loop, and no BLAS threads are involved (a 64-wide matrix
product on a busy 2-core machine was 9x slower with OpenBLAS's default threads).
"""

from __future__ import annotations

import math

import numpy as np

_BLOCK = 64
_FEW = 4  # appended points up to this many are smoothed in plain Python
_NEGLIGIBLE = 1e-20  # a power of the factor below this is dropped (float64 keeps 1e-16)


def linear_scan(x: np.ndarray, a: float) -> np.ndarray:
    """y[k] = a * y[k-1] + x[k] with y[-1] = 0, for 0 <= a < 1, without a per-point loop."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n == 0 or a == 0.0:
        return x.copy()
    b = min(_BLOCK, n)
    nb = -(-n // b)
    # row i holds the i-th point of every block: each row step is one vector operation
    # over all blocks at once, and every block is solved as if it started from 0
    local = np.zeros((b, nb))
    full = n // b
    local[:, :full] = x[: full * b].reshape(full, b).T
    local[: n - full * b, full:] = x[full * b :, None]
    for i in range(1, b):
        local[i] += a * local[i - 1]
    if nb > 1:
        with np.errstate(under="ignore"):
            ab = a**b
            ends = linear_scan(local[-1], ab) if ab > _NEGLIGIBLE else local[-1]
            carry_w = np.power(a, np.arange(1, b + 1), dtype=np.float64)  # a ** (i + 1)
        carry_w[carry_w < _NEGLIGIBLE] = 0.0  # denormals are slow and add nothing
        local[:, 1:] += carry_w[:, None] * ends[None, :-1]
    return local.T.reshape(-1)[:n]


def ema_debiased(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's debiased EMA of `values` with smoothing `weight` in [0, 1).

    Non-finite values are returned unchanged and do not enter the average; a constant
    series (and weight 0) is returned unchanged. Always returns a new float64 array.
    """
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0 or weight <= 0.0:
        return v.copy()
    w = min(float(weight), 0.999999)
    # TensorBoard compares with ==, so a series of NaNs (NaN != NaN) is not "constant".
    if np.all(v == v[0]):
        return v.copy()
    finite = np.isfinite(v)
    all_finite = bool(finite.all())
    x = v if all_finite else v[finite]
    if not len(x):
        return v.copy()
    last = linear_scan((1.0 - w) * x, w)
    # 1 - w ** numAccum is exactly 1.0 in float64 once w ** numAccum < 2 ** -54; only the
    # head needs the power (computing it everywhere costs more than the scan, in denormals).
    head = min(len(x), int(np.ceil(-38.0 / np.log(w))) + 1)
    last[:head] /= 1.0 - np.power(w, np.arange(1, head + 1, dtype=np.float64))
    if all_finite:
        return last
    out = v.copy()
    out[finite] = last
    return out


class IncrementalEma:
    """`ema_debiased` of a series that grows at the end, extended instead of recomputed.

    `update(values, appended)`: pass `appended=True` when `values` is the previous call's
    array with points added at the end (the caller checks; anything else recomputes).
    Returns a view valid until the next call. Results equal `ema_debiased(values, weight)`.
    """

    def __init__(self, weight: float) -> None:
        self.weight = float(weight)
        self._buf = np.empty(0)
        self._n = 0
        self._last = 0.0  # the un-debiased accumulator after the previous call
        self._num = 0  # finite points seen
        self._const: float | None = None  # the value when every point so far is equal
        self.generation = 0  # counts recomputations (earlier results may have changed)

    def update(self, values: np.ndarray, appended: bool) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        w = min(self.weight, 0.999999)
        n = len(v)
        if w <= 0.0:
            return v
        if not appended or n < self._n or w <= 0.0 or self._n == 0:
            return self._reset(v)
        new = v[self._n :]
        if self._const is not None:
            if np.all(new == self._const):
                return self._store(new)
            return self._reset(v)  # the series just stopped being constant
        if len(new) <= _FEW:
            return self._store_few(new.tolist(), w)
        finite = np.isfinite(new)
        x = new[finite]
        out = new.copy()
        if len(x):
            last = linear_scan((1.0 - w) * x, w)
            last += self._last * np.power(w, np.arange(1, len(x) + 1, dtype=np.float64))
            num = self._num + np.arange(1, len(x) + 1)
            head = int(np.searchsorted(num, int(np.ceil(-38.0 / np.log(w))) + 1, side="right"))
            self._last = float(last[-1])
            self._num += len(x)
            if head:
                last[:head] /= 1.0 - np.power(w, num[:head].astype(np.float64))
            out[finite] = last
        return self._store(out)

    def _store_few(self, new: list[float], w: float) -> np.ndarray:
        """A few new points (the live case): the same recurrence in plain Python, where a
        numpy call costs more than a point. Same operations, in the same order, as the
        vector path for one point; for several, `linear_scan`'s sums in another order (the
        last bits may differ, as between any two float summation orders)."""
        last, num = self._last, self._num
        out = []
        threshold = int(math.ceil(-38.0 / math.log(w)))
        for x in new:
            if not math.isfinite(x):
                out.append(x)
                continue
            last = (1.0 - w) * x + last * w
            num += 1
            out.append(last / (1.0 - w ** float(num)) if num <= threshold + 1 else last)
        self._last, self._num = last, num
        return self._store(np.asarray(out, dtype=np.float64))

    def _reset(self, v: np.ndarray) -> np.ndarray:
        self.generation += 1
        w = min(self.weight, 0.999999)
        self._n = 0
        self._last, self._num = 0.0, 0
        self._const = float(v[0]) if len(v) and np.all(v == v[0]) else None
        out = ema_debiased(v, self.weight)
        if self._const is None and w > 0 and len(v):
            finite = np.isfinite(v)
            num = int(finite.sum())
            if num:  # the accumulator is the debiased value times the debias factor
                self._last = float(out[finite][-1]) * (1.0 - w**num)
                self._num = num
        return self._store(out)

    def _store(self, part: np.ndarray) -> np.ndarray:
        need = self._n + len(part)
        if need > len(self._buf):
            buf = np.empty(max(need + need // 4, len(self._buf) * 2, 1024))
            buf[: self._n] = self._buf[: self._n]
            self._buf = buf
        self._buf[self._n : need] = part
        self._n = need
        return self._buf[:need]
