"""What the readers of binary logs read by byte offset share (TensorBoard event files, W&B
run files): one file descriptor kept across polls, a replaced file (a new inode under the same
name) or a truncated one read again from the start after a reset, and problems said once."""

from __future__ import annotations

import os
from pathlib import Path

from mlmon_tui.sources.base import Problem, Update


class BinaryTail:
    path: str  # the file, as the watcher names it
    _path: Path
    _offset: int  # where the next read starts

    def _init_tail(self) -> None:
        self._fd: int | None = None
        self._ident: tuple[int, int] | None = None
        self._said: set[str] = set()

    def _start(self) -> None:
        """Forget everything read: the next poll reads the file from byte 0."""
        raise NotImplementedError

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _say(self, up: Update, message: str, severity: str = "warning") -> None:
        if message not in self._said:
            self._said.add(message)
            up.problems.append(Problem(self.path, message, severity))

    def _reset(self, up: Update) -> None:
        if self.path not in up.resets:
            up.resets.append(self.path)
        self._start()

    def _open(self, up: Update) -> os.stat_result | None:
        """Stat the file, (re)open it when it is new or was replaced, reset when it shrank.
        None when there is nothing to read now (gone, or it cannot be opened: said once)."""
        try:
            st = os.stat(self._path)
        except OSError:
            return None  # gone: the watcher decides what that means
        ident = (st.st_dev, st.st_ino)
        if self._fd is None or ident != self._ident:
            if self._fd is not None:  # replaced by a new file of the same name
                self.close()
                self._reset(up)
            try:
                self._fd = os.open(self._path, os.O_RDONLY)
            except OSError as exc:
                self._say(up, f"cannot open: {exc.strerror}", "error")
                return None
            self._ident = ident
        elif st.st_size < self._offset:  # truncated
            self._reset(up)
        return st
