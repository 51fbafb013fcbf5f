"""Activation statistics of several layers at once, in numpy (the CPU path of `watch`).

A hook copies an evenly strided sample of its layer's output (`cpu_sample`: at most SAMPLE
values, float32, a copy, so the output itself is not kept) and, when the forward pass ends,
`batch_stats` reduces all layers' samples together: each statistic is one numpy call over
the joined samples (`ufunc.reduceat` per layer) instead of one per layer, which on small
layers is most of the cost. Per layer it gives [mean, std, zero fraction, saturated fraction
(-1: n/a), min, max, BINS whole counts adding up to the full size].
"""

from __future__ import annotations

import numpy as np

BINS = 32
SAMPLE = 1 << 12  # at most this many values per layer output are looked at (and binned)
NEAR = 0.02  # a value within 2 % of the output range from a bound counts as saturated
NUMPY_DTYPES = ("torch.float32", "torch.float64", "torch.float16")


def stride(n: int, most: int) -> int:
    """An odd stride that takes at most `most` of `n` values: odd, so that it does not fall
    in step with power-of-two channel or spatial sizes."""
    s = n // most + 1
    return s + (s % 2 == 0)


def cpu_sample(out) -> tuple[np.ndarray, int] | None:
    """(a float32 copy of the strided sample, the output's size) of a CPU tensor numpy can
    read; None otherwise."""
    if out.device.type != "cpu" or str(out.dtype) not in NUMPY_DTYPES:
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
    n_layers = len(samples)
    lens = np.array([s.size for s in samples], dtype=np.intp)
    full = np.array(fulls, dtype=np.int64)
    x = np.concatenate(samples) if n_layers > 1 else samples[0]
    starts = np.zeros(n_layers, dtype=np.intp)
    np.cumsum(lens[:-1], out=starts[1:])
    mean = np.add.reduceat(x, starts, dtype=np.float64) / lens
    d = x - np.repeat(mean.astype(np.float32), lens)
    std = np.sqrt(np.add.reduceat(np.square(d, out=d), starts, dtype=np.float64) / lens)
    zero = (lens - np.add.reduceat(x != 0, starts, dtype=np.intp)) / lens
    sat = np.full(n_layers, -1.0)
    has = [i for i, b in enumerate(bounds) if b is not None]
    if has:
        mid = np.zeros(n_layers, dtype=np.float32)
        reach = np.full(n_layers, np.inf, dtype=np.float32)
        for i in has:
            lo, hi = bounds[i]
            mid[i], reach[i] = (lo + hi) / 2, (hi - lo) / 2 - NEAR * (hi - lo)
        np.subtract(x, np.repeat(mid, lens), out=d)
        out = np.add.reduceat(np.abs(d, out=d) >= np.repeat(reach, lens), starts,
                              dtype=np.intp) / lens
        sat[has] = out[has]
    mn = np.minimum.reduceat(x, starts).astype(np.float64)
    mx = np.maximum.reduceat(x, starts).astype(np.float64)
    width = mx - mn
    ok = np.isfinite(width) & (width > 0)
    scale = np.where(ok, BINS / np.where(ok, width, 1.0), 0.0).astype(np.float32)
    np.subtract(x, np.repeat(mn.astype(np.float32), lens), out=d)
    d *= np.repeat(scale, lens)
    if ok.all():
        np.minimum(d, BINS - 1, out=d)  # the max itself lands on BINS
    else:  # NaN to 0 (layers with NaN or inf have scale 0, and are not binned)
        np.fmax(d, 0, out=d)
        np.fmin(d, BINS - 1, out=d)
    idx = d.astype(np.int32)
    idx += np.repeat(np.arange(0, n_layers * BINS, BINS, dtype=np.int32), lens)
    counts = np.bincount(idx, minlength=n_layers * BINS).reshape(n_layers, BINS)
    # scaled to the full size, rounded cumulatively so that each layer's sum stays exact
    cum = np.cumsum(counts, axis=1) * full[:, None]
    cum += (lens // 2)[:, None]
    cum //= lens[:, None]
    counts = cum.copy()
    counts[:, 1:] -= cum[:, :-1]
    counts[~ok] = 0  # one value, or NaN / inf: everything in the first bucket
    counts[~ok, 0] = full[~ok]
    head = np.stack([mean, std, zero, sat, mn, mx], axis=1).tolist()
    return [h + c for h, c in zip(head, counts.tolist())]
