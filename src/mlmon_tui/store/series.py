"""One (run, tag) series at full resolution: step, wall time, value and source columns.

Points are kept sorted by step (stable: equal steps keep their arrival order). Columns grow
geometrically by 1.25x so appends are amortised O(1) while slack stays near 12 %:
8 + 8 + 8 + 2 bytes a point, about 29 bytes with the slack.
"""

from __future__ import annotations

import numpy as np

_DTYPES = (np.int64, np.float64, np.float64, np.uint16)
FEW_POINTS = 8  # appends of up to this many points take the plain Python path


class Series:
    __slots__ = ("_cols", "_n", "version", "rewrites", "n_nan", "n_inf", "_min", "_max")

    def __init__(self) -> None:
        self._cols = [np.empty(0, dtype=d) for d in _DTYPES]
        self._n = 0
        self.version = 0  # counts every change
        self.rewrites = 0  # counts changes other than points added at the end
        self.n_nan = 0
        self.n_inf = 0
        self._min = np.inf
        self._max = -np.inf

    # -- columns (views, valid until the next change) -------------------------------
    @property
    def step(self) -> np.ndarray:
        return self._cols[0][: self._n]

    @property
    def wall(self) -> np.ndarray:
        return self._cols[1][: self._n]

    @property
    def value(self) -> np.ndarray:
        return self._cols[2][: self._n]

    @property
    def src(self) -> np.ndarray:
        return self._cols[3][: self._n]

    def __len__(self) -> int:
        return self._n

    @property
    def nbytes(self) -> int:
        return sum(c.nbytes for c in self._cols)

    # -- summary ---------------------------------------------------------------------
    @property
    def last_step(self) -> int | None:
        return int(self._cols[0][self._n - 1]) if self._n else None

    @property
    def last_wall(self) -> float | None:
        return float(self._cols[1][self._n - 1]) if self._n else None

    @property
    def last_value(self) -> float | None:
        return float(self._cols[2][self._n - 1]) if self._n else None

    @property
    def min(self) -> float | None:
        """Smallest finite value, or None when there is none."""
        return float(self._min) if np.isfinite(self._min) else None

    @property
    def max(self) -> float | None:
        return float(self._max) if np.isfinite(self._max) else None

    # -- changes ---------------------------------------------------------------------
    def append(self, step, wall, value, src: int = 0, purge_orphans: bool = False) -> None:
        step = np.asarray(step, dtype=np.int64)
        if not len(step):
            return
        if len(step) <= FEW_POINTS and self._append_few(step, wall, value, src):
            return
        wall = np.asarray(wall, dtype=np.float64)
        value = np.asarray(value, dtype=np.float64)
        if purge_orphans and self._n and step[0] <= self._cols[0][self._n - 1]:
            # TensorBoard: an event whose step went back orphans every point at or after it.
            if step[0] < self._cols[0][self._n - 1]:
                self._keep(self.step < step[0])
        n, k = self._n, len(step)
        in_order = (n == 0 or step[0] >= self._cols[0][n - 1]) and (
            k == 1 or bool(np.all(step[1:] >= step[:-1]))
        )
        self._reserve(n + k)
        for col, new in zip(self._cols, (step, wall, value, src)):
            col[n : n + k] = new
        self._n = n + k
        if not in_order:
            order = np.argsort(self.step, kind="stable")
            for col in self._cols:
                col[: self._n] = col[: self._n][order]
            self.rewrites += 1
        self._account(value)
        self.version += 1

    def _append_few(self, step: np.ndarray, wall, value, src: int) -> bool:
        """`append` of a few points at the end, in order (the live case), with plain Python
        bookkeeping: a numpy reduction costs more than a point here. False: not that case."""
        st = step.tolist()
        n = self._n
        if n and st[0] < self._cols[0][n - 1]:
            return False
        for a, b in zip(st, st[1:]):
            if b < a:
                return False
        k = len(st)
        vals = np.asarray(value, dtype=np.float64).tolist()
        self._reserve(n + k)
        cols = self._cols
        cols[0][n : n + k] = st
        cols[1][n : n + k] = np.asarray(wall, dtype=np.float64)
        cols[2][n : n + k] = vals
        cols[3][n : n + k] = src
        self._n = n + k
        lo, hi = self._min, self._max
        for v in vals:
            if v - v == 0.0:  # finite
                if v < lo:
                    lo = v
                if v > hi:
                    hi = v
            elif v != v:
                self.n_nan += 1
            else:
                self.n_inf += 1
        self._min, self._max = lo, hi
        self.version += 1
        return True

    def drop_source(self, src: int) -> int:
        """Drop every point that came from `src`; returns how many were dropped."""
        keep = self.src != src
        dropped = self._n - int(keep.sum())
        if dropped:
            self._keep(keep)
        return dropped

    def truncate_from(self, step: int) -> None:
        """Drop points at or after `step`."""
        self._keep(self.step < step)

    # -- internals -------------------------------------------------------------------
    def _keep(self, mask: np.ndarray) -> None:
        m = int(mask.sum())
        for col in self._cols:
            col[:m] = col[: self._n][mask]
        self._n = m
        self._recount()
        self.version += 1
        self.rewrites += 1

    def _reserve(self, need: int) -> None:
        cap = len(self._cols[0])
        if need <= cap:
            return
        cap = max(need, cap + cap // 4 + 256)
        for i, col in enumerate(self._cols):
            new = np.empty(cap, dtype=col.dtype)
            new[: self._n] = col[: self._n]
            self._cols[i] = new

    def _account(self, value: np.ndarray) -> None:
        finite = np.isfinite(value)
        if finite.all():
            if len(value):
                self._min = min(self._min, value.min())
                self._max = max(self._max, value.max())
            return
        nan = np.isnan(value)
        self.n_nan += int(nan.sum())
        self.n_inf += int((~finite & ~nan).sum())
        if finite.any():
            self._min = min(self._min, value[finite].min())
            self._max = max(self._max, value[finite].max())

    def _recount(self) -> None:
        self.n_nan = self.n_inf = 0
        self._min, self._max = np.inf, -np.inf
        self._account(self.value)
