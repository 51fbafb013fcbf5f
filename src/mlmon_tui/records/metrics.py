"""What every reader produces: points, histograms, problems, run metadata.

Neutral ground: readers, the store, the analysis and the widgets may all import these.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(slots=True)
class ScalarBatch:
    """New points of one (run, tag), in the order they were written.

    `step` is int64, `wall` (Unix seconds) and `value` float64, all the same length.
    `source` identifies the file (or socket) the points came from, so that a reader whose
    file was truncated or replaced can have its points dropped and read again.
    With `purge_orphans`, a batch whose first step is below the series' last step drops the
    points at or after that step first: TensorBoard's rule for restarted runs.
    """

    run: str
    tag: str
    step: np.ndarray
    wall: np.ndarray
    value: np.ndarray
    source: str = ""
    purge_orphans: bool = False

    def __len__(self) -> int:
        return len(self.step)


@dataclass(slots=True)
class HistogramPoint:
    """One histogram summary (TensorBoard `HistogramProto`), for the gradient checks and the
    Distributions view. `layout` "proto": buckets as a `HistogramProto` holds them (outer
    limits may be +-DBL_MAX); "rows": contiguous (left, right, count) rows as a TF2 tensor or
    the socket gives them, `min` the first left edge and `max` the last right edge."""

    run: str
    tag: str
    step: int
    wall: float
    min: float
    max: float
    num: float
    sum: float
    sum_squares: float
    bucket_limit: np.ndarray
    bucket: np.ndarray
    source: str = ""
    layout: str = "proto"


@dataclass(slots=True)
class Problem:
    """Something a person should know about an input; one line, said once."""

    path: str
    message: str
    severity: str = "warning"  # "warning" or "error"


@dataclass
class Update:
    """What one poll found. `resets` lists sources whose earlier points must be dropped
    (file truncated, rewritten or replaced) before this update's batches are applied."""

    scalars: list[ScalarBatch] = field(default_factory=list)
    histograms: list[HistogramPoint] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    resets: list[str] = field(default_factory=list)
    # run name -> metadata (hyper-parameters, max_steps, num_train_epochs, pid, ...)
    meta: dict[str, dict] = field(default_factory=dict)
    # curves and confusion matrices (records.classification.ClassificationPoint)
    classifications: list = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.scalars or self.histograms or self.problems or self.resets or self.meta
                    or self.classifications)

    def extend(self, other: "Update") -> None:
        self.scalars.extend(other.scalars)
        self.histograms.extend(other.histograms)
        self.problems.extend(other.problems)
        self.resets.extend(other.resets)
        self.classifications.extend(other.classifications)
        for run, meta in other.meta.items():
            self.meta.setdefault(run, {}).update(meta)
