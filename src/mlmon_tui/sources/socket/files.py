"""The files the socket server writes under the log dir: per-run JSONL data and metadata."""

from __future__ import annotations

import json
import os
from typing import Callable

from mlmon_tui.sources.socket import protocol as proto

MAX_OPEN_FILES = 128


class RunFiles:
    """Buffered appenders for `<root>/<run>/mlmon-socket.jsonl`, at most MAX_OPEN_FILES open.
    `count(name)` is called for each problem (bad_run_names, write_errors)."""

    def __init__(self, root_real: str, count: Callable[[str], None]):
        self.root_real = root_real
        self.count = count
        self.files: dict[str, object] = {}

    def writer(self, run: str):
        """The open file for `run`, or None (counted) if it cannot be had safely."""
        f = self.files.get(run)
        if f is not None:
            return f
        d = proto.run_dir(self.root_real, run)
        if d is None:
            self.count("bad_run_names")
            return None
        try:
            os.makedirs(d, exist_ok=True)
            if proto.run_dir(self.root_real, run) != d:  # raced with a symlink
                self.count("bad_run_names")
                return None
            fd = os.open(os.path.join(d, proto.DATA_FILE),
                         os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC,
                         0o644)
            f = os.fdopen(fd, "a", encoding="utf-8", buffering=1 << 16)
        except OSError:
            self.count("write_errors")
            return None
        if len(self.files) >= MAX_OPEN_FILES:
            self._close(self.files.pop(next(iter(self.files))))
        self.files[run] = f
        return f

    def write_meta(self, run: str, meta: dict) -> None:
        """Replace `<run>/mlmon-socket-meta.json` atomically with `meta`."""
        d = proto.run_dir(self.root_real, run)
        if d is None:
            return
        try:
            os.makedirs(d, exist_ok=True)
            tmp = os.path.join(d, "." + proto.META_FILE + ".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o644)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(meta, f, default=str)
            os.replace(tmp, os.path.join(d, proto.META_FILE))
        except (OSError, ValueError, TypeError):
            self.count("write_errors")

    def flush(self) -> None:
        for f in self.files.values():
            try:
                f.flush()
            except OSError:
                self.count("write_errors")

    def close(self) -> None:
        for f in self.files.values():
            self._close(f)
        self.files.clear()

    def _close(self, f) -> None:
        try:
            f.close()
        except OSError:
            self.count("write_errors")
