"""Curves and confusion matrices per (run, split, step), beside the scalar series.

An evaluation logged again at the same step replaces the earlier one. Per (run, split) the
first evaluation and the latest `MAX_PER_SPLIT` are kept; confusion matrices (up to 100 x 100
counts each) only for the first and the latest `KEEP_CONFUSION` evaluations.
"""

from __future__ import annotations

import bisect

from mlmon_tui.records.classification import ClassificationPoint

MAX_PER_SPLIT = 1000
KEEP_CONFUSION = 100


class ClassificationStore:
    def __init__(self) -> None:
        # (run, split) -> (sorted steps, {step: point})
        self._points: dict[tuple[str, str], tuple[list[int], dict[int, ClassificationPoint]]] = {}
        self.version = 0

    def apply(self, points: list[ClassificationPoint], resets: list[str]) -> set[str]:
        """Drop what came from the reset sources, add `points`; returns the runs changed."""
        runs: set[str] = set()
        for source in resets:
            for (run, split), (steps, by_step) in list(self._points.items()):
                gone = [s for s, p in by_step.items() if p.source == source]
                for s in gone:
                    del by_step[s]
                    steps.remove(s)
                    runs.add(run)
                if not steps:
                    del self._points[(run, split)]
        for p in points:
            steps, by_step = self._points.setdefault((p.run, p.split), ([], {}))
            if p.step not in by_step:
                bisect.insort(steps, p.step)
            by_step[p.step] = p
            if len(steps) > MAX_PER_SPLIT:
                del by_step[steps.pop(1)]
            if len(steps) > KEEP_CONFUSION + 1:
                by_step[steps[-KEEP_CONFUSION - 1]].confusion = None
            runs.add(p.run)
        if runs:
            self.version += 1
        return runs

    def splits(self, run: str) -> list[str]:
        return sorted(split for r, split in self._points if r == run)

    def runs(self) -> list[str]:
        return sorted({r for r, _ in self._points})

    def points(self, run: str, split: str) -> list[ClassificationPoint]:
        """The evaluations of (run, split), oldest step first."""
        entry = self._points.get((run, split))
        if entry is None:
            return []
        steps, by_step = entry
        return [by_step[s] for s in steps]

    def latest(self, run: str, split: str) -> ClassificationPoint | None:
        entry = self._points.get((run, split))
        return entry[1][entry[0][-1]] if entry and entry[0] else None
