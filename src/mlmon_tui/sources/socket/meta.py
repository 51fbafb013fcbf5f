"""Reader for `mlmon-socket-meta.json`, the socket server's per-run metadata file.

It turns the file into `Update.meta` for its run: `hparams`, the client's `meta` (merged at
the top level, e.g. `max_steps`), `host`, `pids` (process ids sending to the run, for
per-process gauges) and `dropped_by_client`. The file is small and replaced atomically, so
each poll re-reads it when its size or modification time changed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from mlmon_tui.sources.base import Problem, Update
from mlmon_tui.sources.logs.registry import run_name
from mlmon_tui.sources.socket.protocol import META_FILE


def probe(path: Path, head: bytes) -> int:
    return 100 if Path(path).name == META_FILE else 0


class SocketMetaSource:
    kind = "socket"

    def __init__(self, path: Path, root: Path):
        self.path = str(path)
        self.run = run_name(Path(path), Path(root))
        self._seen: tuple[int, int] | None = None
        self._reported = False

    def poll(self) -> Update:
        try:
            st = os.stat(self.path)
        except OSError:
            return Update()
        key = (st.st_size, st.st_mtime_ns)
        if key == self._seen:
            return Update()
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as e:
            if self._reported:
                return Update()
            self._reported = True
            return Update(problems=[Problem(self.path, f"unreadable socket metadata: {e}")])
        self._seen, self._reported = key, False
        meta = {k: data[k] for k in ("hparams", "host", "pids", "dropped_by_client")
                if k in data}
        if isinstance(data.get("meta"), dict):
            meta.update(data["meta"])
        return Update(meta={self.run: meta})

    def close(self) -> None:
        pass


def open_source(path: Path, root: Path) -> SocketMetaSource:
    return SocketMetaSource(path, root)
