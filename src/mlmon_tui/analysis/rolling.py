"""Rolling robust level of a series: median and MAD of the `window` points before each block
of `block` points.

Blocks are aligned to the point index, so the reference of a point never depends on how the
points arrived (one at a time or a million at once), and each point costs O(window / block)
amortised: one median over `window` values per block.
"""

from __future__ import annotations

import warnings

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

MAD_TO_SIGMA = 1.4826


class BlockStats:
    __slots__ = ("window", "block", "_med", "_mad", "_n")

    def __init__(self, window: int, block: int) -> None:
        self.window, self.block = window, block
        self._med = np.empty(64)  # per block: median of the window before it (NaN: too early)
        self._mad = np.empty(64)
        self._n = 0  # blocks computed

    @property
    def med(self) -> np.ndarray:
        return self._med[: self._n]

    @property
    def mad(self) -> np.ndarray:
        return self._mad[: self._n]

    def __len__(self) -> int:
        return self._n

    def extend(self, values: np.ndarray) -> None:
        """Compute the reference of every block that has started within `values` (the whole
        series so far; non-finite entries are left out of the medians)."""
        n = len(values)
        nb = -(-n // self.block)  # blocks with at least one point
        if nb <= self._n:
            return
        starts = np.arange(self._n, nb) * self.block
        med = np.full(len(starts), np.nan)
        mad = np.full(len(starts), np.nan)
        ok = starts >= self.window
        if ok.any():
            lo = int(starts[ok][0]) - self.window
            seg = values[lo : int(starts[-1])]
            seg = np.where(np.isfinite(seg), seg, np.nan)  # a copy of the needed stretch only
            windows = sliding_window_view(seg, self.window)[starts[ok] - self.window - lo]
            if np.isnan(windows).any():
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows stay NaN
                    m = np.nanmedian(windows, axis=1)
                    mad[ok] = np.nanmedian(np.abs(windows - m[:, None]), axis=1)
            else:
                m = np.median(windows, axis=1)
                mad[ok] = np.median(np.abs(windows - m[:, None]), axis=1)
            med[ok] = m
        if nb > len(self._med):
            cap = max(nb, len(self._med) * 2)
            self._med = np.resize(self._med, cap)
            self._mad = np.resize(self._mad, cap)
        self._med[self._n : nb] = med
        self._mad[self._n : nb] = mad
        self._n = nb

    def at(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Reference (median, MAD) for point indices `idx`."""
        b = idx // self.block
        return self.med[b], self.mad[b]

    def center(self, b: int) -> int:
        """Index of the point at the middle of block b's window."""
        return b * self.block - self.window // 2
