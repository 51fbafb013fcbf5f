"""Histogram percentiles exactly as TensorBoard's Distributions tab computes them.

TensorBoard first turns a `HistogramProto` into rows of (left, right, count)
(`tensorboard.data_compat`: empty buckets at both ends dropped, `min` as the first left edge
and `max` as the last right edge, all cast to float32), then interpolates the cumulative
weight at nine basis points (`tensorboard.plugins.distribution.compressor.compress_histogram`).
A TF2 `histograms` tensor (and what the metrics socket sends) already is such rows and is
used as written. Both steps are reproduced here, with numpy only.
"""

from __future__ import annotations

import math

import numpy as np

from mlmon_tui.records.metrics import HistogramPoint

BASIS_POINTS = (0, 668, 1587, 3085, 5000, 6915, 8413, 9332, 10000)
COLUMNS = tuple(f"p{b}" for b in BASIS_POINTS)


def buckets_of(h: HistogramPoint) -> np.ndarray:
    """(k, 3) rows of (left, right, count), as TensorBoard would hand them to the compressor."""
    counts = np.asarray(h.bucket, dtype=np.float64)
    limits = np.asarray(h.bucket_limit, dtype=np.float64)
    if getattr(h, "layout", "proto") == "rows":
        if not len(counts):
            return np.zeros((0, 3))
        lefts = np.concatenate(([h.min], limits[:-1]))
        return np.stack([lefts, limits, counts], axis=1)
    nz = np.flatnonzero(counts > 0)
    if not len(nz):
        return np.zeros((0, 3), dtype=np.float32)
    start, end = int(nz[0]), int(nz[-1])
    inner = list(limits[start:end])
    with np.errstate(over="ignore"):  # +-DBL_MAX inner edges become +-inf, as there
        return np.array([[h.min] + inner, inner + [h.max], list(counts[start:end + 1])],
                        dtype=np.float32).T


def compress(buckets: np.ndarray, bps=BASIS_POINTS) -> list[float]:
    """The value at each basis point of (left, right, count) rows (TensorBoard's compressor)."""
    buckets = np.asarray(buckets)
    if not buckets.size:
        return [0.0] * len(bps)
    minmin, maxmax = buckets[0][0], buckets[-1][1]
    counts = buckets[:, 2]
    right = list(buckets[:, 1])
    weights = (counts * bps[-1] / (counts.sum() or 1.0)).cumsum()
    out: list[float] = []
    with np.errstate(all="ignore"):
        _fill(out, bps, weights, right, minmin, maxmax)
    out.extend(float(maxmax) for _ in range(len(bps) - len(out)))
    return out


def _fill(out, bps, weights, right, minmin, maxmax) -> None:
    j = 0
    while j < len(bps):
        i = int(np.searchsorted(weights, bps[j], side="right"))
        while i < len(weights):
            cum, prev = weights[i], (weights[i - 1] if i > 0 else 0.0)
            if cum == prev:
                i += 1
                continue
            lhs = minmin if (not i or not prev) else max(right[i - 1], minmin)
            rhs = min(right[i], maxmax)
            out.append(float(lhs + (bps[j] - prev) * float(rhs - lhs) / (cum - prev)))
            j += 1
            break
        else:
            break


def percentiles(h: HistogramPoint) -> list[float]:
    return compress(buckets_of(h))


def summary(h: HistogramPoint) -> dict:
    """count, min, max, mean (None where it cannot be derived: bucket rows carry no sum)
    and the nine percentiles."""
    b = buckets_of(h)
    count = float(h.num) if h.num else float(np.asarray(h.bucket, dtype=np.float64).sum())
    # a HistogramProto carries the exact sum; bucket rows (TF2 tensors, the socket) do not
    exact = getattr(h, "layout", "proto") == "proto"
    mean = h.sum / count if exact and count and math.isfinite(h.sum) else None
    lo, hi = (float(h.min), float(h.max)) if len(b) else (None, None)
    return {"count": count, "min": lo, "max": hi, "mean": mean, "percentiles": compress(b)}


class PercentileCache:
    """Steps and percentiles of every (run, tag) in a store's histograms, computed once per
    histogram: a tag that grows costs only its new points."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str], tuple[int, int, list[int], list[list[float]]]] = {}

    def get(self, store, key: tuple[str, str]) -> tuple[np.ndarray, np.ndarray]:
        points = list(store.histograms.get(key, ()))
        first = id(points[0]) if points else 0
        n0, f0, steps, pct = self._cache.get(key, (0, 0, [], []))
        if f0 != first or n0 > len(points):  # trimmed or replaced: start again
            n0, steps, pct = 0, [], []
        for h in points[n0:]:
            steps.append(h.step)
            pct.append(percentiles(h))
        self._cache[key] = (len(points), first, steps, pct)
        order = np.argsort(np.asarray(steps, dtype=np.int64), kind="stable")
        return (np.asarray(steps, dtype=np.int64)[order],
                np.asarray(pct, dtype=np.float64).reshape(-1, 9)[order])
