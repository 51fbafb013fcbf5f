"""Activation statistics of several layers at once, in numpy (the CPU path of `watch`).

A hook copies an evenly strided sample of its layer's output (`cpu_sample`: at most SAMPLE
values, float32, a copy, so the output itself is not kept) and, when the forward pass ends,
`batch_stats` reduces all layers' samples together: each statistic is one numpy call over
the joined samples (`ufunc.reduceat` per layer) instead of one per layer, which on small
layers is most of the cost. Per layer it gives [mean, std, zero fraction, saturated fraction
(-1: n/a), min, max, BINS whole counts adding up to the full size].
"""

from __future__ import annotations

import math

import numpy as np

BINS = 32
SAMPLE = 1 << 12  # at most this many values per layer output are looked at (and binned)
NEAR = 0.02  # a value within 2 % of the output range from a bound counts as saturated
NUMPY_DTYPES = ("torch.float32", "torch.float64", "torch.float16")
_NUMPY_OK: dict = {}  # dtype -> whether numpy reads it


def stride(n: int, most: int) -> int:
    """An odd stride that takes at most `most` of `n` values: odd, so that it does not fall
    in step with power-of-two channel or spatial sizes."""
    s = n // most + 1
    return s + (s % 2 == 0)


def cpu_sample(out) -> tuple[np.ndarray, int] | None:
    """(a float32 copy of the strided sample, the output's size) of a CPU tensor numpy can
    read; None otherwise."""
    ok = _NUMPY_OK.get(out.dtype)
    if ok is None:  # str() of a dtype is slow: once per dtype
        ok = _NUMPY_OK[out.dtype] = str(out.dtype) in NUMPY_DTYPES
    if not ok or not out.is_cpu:
        return None
    x = out.detach().numpy().reshape(-1)
    full = x.size
    if full > SAMPLE:
        x = x[::stride(full, SAMPLE)]
    return np.array(x, dtype=np.float32), full  # always a copy


def batch_stats(samples: list[np.ndarray], fulls: list[int],
                bounds: list[tuple[float, float] | None]) -> list[list]:
    """Per layer [mean, std, zero, saturated, min, max, *counts]; see the module docstring."""
    with np.errstate(all="ignore"):  # inf or NaN in an output: say so in the numbers only
        return _batch(samples, fulls, bounds)


def _batch(samples, fulls, bounds) -> list[list]:
    # On a logging pass every distinct numpy call is a cold one (the training step between
    # two of them pushes numpy's code and data out of the caches: some 20-50 us each, 5-10x
    # a warm call), so: few calls over all values, and the per-layer arithmetic on a few
    # numbers each in plain Python
    n = len(samples)
    lens = [s.size for s in samples]
    starts, at = [], 0
    for m in lens:
        starts.append(at)
        at += m
    x = np.concatenate(samples) if n > 1 else samples[0]
    st = np.array(starts, dtype=np.intp)
    # float32 sums: numpy adds a segment pairwise (relative errors near 1e-7; float64 buffers
    # cost 60 us a pass more)
    sums = np.add.reduceat(x, st).tolist()
    mns = np.minimum.reduceat(x, st).tolist()
    mxs = np.maximum.reduceat(x, st).tolist()
    nonzero = np.add.reduceat(x != 0, st, dtype=np.intp).tolist()
    mean = [s / m for s, m in zip(sums, lens)]
    ok, scale, mid, reach = [], [], [], []
    for i, (lo, hi) in enumerate(zip(mns, mxs)):
        w = hi - lo
        ok.append(math.isfinite(w) and w > 0)
        scale.append(BINS / w if ok[i] else 0.0)
        b = bounds[i]
        mid.append(0.0 if b is None else (b[0] + b[1]) / 2)
        reach.append(math.inf if b is None else (b[1] - b[0]) / 2 - NEAR * (b[1] - b[0]))
    has = any(b is not None for b in bounds)
    # per-layer numbers repeated for each of the layer's values: one call, rows in float32
    rows = [mean, mns, scale, [float(i * BINS) for i in range(n)]] + ([mid, reach] if has else [])
    per = np.repeat(np.array(rows, dtype=np.float32), lens, axis=1)
    d = x - per[0]
    sq = np.add.reduceat(np.square(d, out=d), st).tolist()
    sat = [-1.0] * n
    if has:
        np.subtract(x, per[4], out=d)
        got = np.add.reduceat(np.abs(d, out=d) >= per[5], st, dtype=np.intp).tolist()
        sat = [g / m if b is not None else -1.0 for g, m, b in zip(got, lens, bounds)]
    np.subtract(x, per[1], out=d)
    d *= per[2]
    if all(ok):
        np.minimum(d, BINS - 1, out=d)  # the max itself lands on BINS
    else:  # NaN to 0 (layers with NaN or inf have scale 0, and are not binned)
        np.fmax(d, 0, out=d)
        np.fmin(d, BINS - 1, out=d)
    np.floor(d, out=d)  # whole numbers, so that adding the offsets below is exact
    d += per[3]  # each layer's buckets after the previous layer's
    counts = np.bincount(d.astype(np.intp), minlength=n * BINS).tolist()
    out = []
    for i, m in enumerate(lens):
        full = fulls[i]
        if not ok[i]:  # one value, or NaN / inf: everything in the first bucket
            c = [full] + [0] * (BINS - 1)
        elif m == full:
            c = counts[i * BINS:(i + 1) * BINS]
        else:  # scaled to the full size, rounded cumulatively so that the sum stays exact
            c, cum, prev, half = [], 0, 0, m // 2
            for v in counts[i * BINS:(i + 1) * BINS]:
                cum += v
                r = (cum * full + half) // m
                c.append(r - prev)
                prev = r
        out.append([mean[i], math.sqrt(sq[i] / m), (m - nonzero[i]) / m, sat[i],
                    mns[i], mxs[i]] + c)
    return out
