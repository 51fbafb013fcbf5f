"""The one small interface every reader follows (and the records it produces).

A reader turns one input (a file, a socket) into `Update`s, incrementally: it remembers
where it stopped and each `poll()` returns only what is new since the last one.
"""

from __future__ import annotations

from typing import Protocol

from mlmon_tui.records.metrics import HistogramPoint, Problem, ScalarBatch, Update

__all__ = ["HistogramPoint", "Problem", "ScalarBatch", "Sink", "Source", "Update", "read_once"]


class Source(Protocol):
    """A reader of one input. `kind` names the format ("tfevents", "csv", ...)."""

    kind: str
    path: str  # the file it reads
    run: str  # the run its points belong to (a reader may emit other runs, e.g. MLflow)

    def poll(self) -> Update:
        """Read what is new since the last call. Never raises for bad input: problems go
        into `Update.problems`. A half-written record at the end waits for the next poll."""
        ...

    def close(self) -> None: ...


class Sink(Protocol):
    """Where the watcher hands what its readers found (the app wires in the store)."""

    def apply(self, update: Update, kind: str = "") -> set[tuple[str, str]]:
        """Apply one update; return the (run, tag) keys whose points changed."""
        ...

    def add_problem(self, p: Problem) -> None: ...


def read_once(source: Source) -> Update:
    """Everything `source` has now, as one update; the source is closed after."""
    try:
        return source.poll()
    finally:
        source.close()
