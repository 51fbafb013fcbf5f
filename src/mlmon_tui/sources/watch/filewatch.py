"""Writes to the files being read, seen by the watcher's own thread (Linux inotify).

watchdog watches the folders (new, moved and deleted files and folders), with its three
threads between the kernel and its handler. For a file a trainer appends to every second
that hop costs more than reading the new bytes, so writes are watched here instead: one
IN_MODIFY watch per file read (and per SQLite `-wal`/`-journal` beside it), on an inotify
instance of its own that the watcher's thread polls together with a wake-up pipe. A write
reaches the reader with no thread in between, and a burst of writes is one `read()`.

Without inotify (or past the kernel's watch limit) nothing here is used, or the file is
simply left to the watcher's sweep.
"""

from __future__ import annotations

import ctypes
import errno
import os
import select
import struct
from pathlib import Path

IN_MODIFY = 0x00000002
IN_IGNORED = 0x00008000  # the watch is gone (file deleted, or removed)
IN_Q_OVERFLOW = 0x00004000
IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC
_EVENT = struct.Struct("iIII")  # wd, mask, cookie, name length


class FileWatches:
    """IN_MODIFY watches on single files, and a wake-up that `set()` or a write ends.
    `wait`, `clear` and `set` stand in for a `threading.Event`; `take()` says which
    files were written since the last call."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._add = libc.inotify_add_watch
        self._add.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32)
        self._rm = libc.inotify_rm_watch
        self._rm.argtypes = (ctypes.c_int, ctypes.c_int)
        fd = libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))
        self.fd = fd
        self._r, self._w = os.pipe()
        for p in (self._r, self._w):
            os.set_blocking(p, False)
        self._poll = select.poll()
        self._poll.register(self.fd, select.POLLIN)
        self._poll.register(self._r, select.POLLIN)
        self._owner: dict[int, Path] = {}  # watch -> the file it stands for
        self._wd: dict[Path, int] = {}  # watched path -> watch
        self.failed = 0  # files not watched (watch limit, permissions): left to the sweep
        self._closed = False

    def add(self, path: Path, owner: Path | None = None) -> bool:
        """Watch `path` for writes, reported as writes to `owner` (default: itself). Again
        for a path already watched: its file may have been replaced by another."""
        if self._closed:
            return False
        wd = self._add(self.fd, os.fsencode(path), IN_MODIFY)
        if wd < 0:
            if ctypes.get_errno() != errno.ENOENT:
                self.failed += 1
            return False
        self._owner[wd] = owner if owner is not None else path
        self._wd[path] = wd
        return True

    def discard(self, path: Path) -> None:
        wd = self._wd.pop(path, None)
        if wd is not None and not self._closed:
            self._rm(self.fd, wd)  # its IN_IGNORED drops the owner

    def __contains__(self, path: Path) -> bool:
        return path in self._wd

    # -- the Event side ----------------------------------------------------------------
    def set(self) -> None:
        try:
            os.write(self._w, b"x")
        except (BlockingIOError, OSError):
            pass  # the pipe is full: a wake-up is pending anyway

    def wait(self, timeout: float | None = None) -> bool:
        try:
            return bool(self._poll.poll(None if timeout is None else int(timeout * 1000)))
        except InterruptedError:
            return False

    def clear(self) -> None:
        try:
            while os.read(self._r, 4096):
                pass
        except (BlockingIOError, OSError):
            pass

    # -- what was written ----------------------------------------------------------------
    def take(self) -> set[Path]:
        """The files written to since the last call (owners, not companions)."""
        out: set[Path] = set()
        overflowed = False  # events were lost: every file counts as written
        while True:
            try:
                buf = os.read(self.fd, 65536)
            except (BlockingIOError, OSError):
                break
            if not buf:
                break
            pos = 0
            while pos + 16 <= len(buf):
                wd, mask, _cookie, n = _EVENT.unpack_from(buf, pos)
                pos += 16 + n
                if mask & IN_Q_OVERFLOW:
                    overflowed = True
                    continue
                owner = self._owner.get(wd)
                if owner is None:
                    continue
                out.add(owner)
                if mask & IN_IGNORED:
                    del self._owner[wd]
                    for path in [p for p, w in self._wd.items() if w == wd]:
                        del self._wd[path]
        if overflowed:
            out.update(self._owner.values())
        return out

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for fd in (self.fd, self._r, self._w):
            try:
                os.close(fd)
            except OSError:
                pass
