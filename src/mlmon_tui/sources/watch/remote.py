"""Sources that are not files under a root (an MLflow tracking server), polled on a thread
of their own; and the command line's targets sorted into files and such sources.

`sqlite:///path` (SQLAlchemy's form, as MLflow's tracking URI writes it) is a file: the
watcher reads it like any `mlflow.db`. `http(s)://...` is an MLflow tracking server.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from mlmon_tui.sources.base import Problem, Sink, Source, Update

INTERVAL = 0.5  # seconds between two polls of a server


def is_url(text: str) -> bool:
    return str(text).startswith(("http://", "https://"))


def resolve_target(text: str) -> str:
    """`sqlite:///rel/mlflow.db` -> `rel/mlflow.db`, `sqlite:////abs/mlflow.db` -> the
    absolute path (SQLAlchemy's rule; a relative form that does not exist but whose absolute
    reading does is taken as meant absolute). Anything else is returned as it is."""
    text = str(text)
    if not text.startswith("sqlite:///"):
        return text
    rest = text[len("sqlite:///"):].split("?", 1)[0]
    if rest.startswith("/") or os.path.exists(rest) or not os.path.exists("/" + rest):
        return rest
    return "/" + rest


def split_targets(paths: list[str]) -> tuple[list[str], list[Source]]:
    """(file paths for the watcher, sources to poll) from the command line's targets."""
    files, remote = [], []
    for p in paths:
        if is_url(p):
            from mlmon_tui.sources.logs.mlflow_server import MlflowServerSource

            remote.append(MlflowServerSource(p))
        else:
            files.append(resolve_target(p))
    return files, remote


class RemotePoller:
    def __init__(self, sources: list[Source], sink: Sink, *, interval: float = INTERVAL,
                 on_change: Callable[[set], None] | None = None) -> None:
        self.sources = sources
        self.sink = sink
        self.interval = interval
        self.on_change = on_change
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> RemotePoller:
        self._thread = threading.Thread(target=self._run, name="mlmon-remote", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        for s in self.sources:
            s.close()

    def load_once(self) -> None:
        self.poll_all()

    def poll_all(self) -> set:
        changed: set = set()
        for s in self.sources:
            try:
                update = s.poll()
            except Exception as e:  # a reader bug must not stop the others
                update = Update(problems=[Problem(s.path, f"reader failed: {e!r}", "error")])
            if update:
                changed |= self.sink.apply(update, kind=s.kind)
        if changed and self.on_change is not None:
            self.on_change(changed)
        return changed

    def _run(self) -> None:
        while not self._stop.is_set():
            t0 = time.monotonic()
            self.poll_all()
            self._stop.wait(max(0.05, self.interval - (time.monotonic() - t0)))


def missing_targets(paths: list[str]) -> list[str]:
    """The command line's targets that name no file or folder (URLs are not checked here:
    a server that does not answer is reported by its reader)."""
    return [p for p in paths if not is_url(p) and not os.path.exists(resolve_target(p))]


def load_targets(paths: list[str], sink: Sink) -> None:
    """Read every target once into `sink`: files and folders (and `sqlite:///` URIs) as the
    watcher reads them, MLflow tracking servers with one poll each."""
    from mlmon_tui.sources.watch.watcher import Watcher

    files, remote = split_targets(paths)
    if files:
        Watcher(files, sink).load_once()
    if remote:
        poller = RemotePoller(remote, sink)
        try:
            poller.load_once()
        finally:
            poller.stop()
