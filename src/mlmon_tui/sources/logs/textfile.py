"""Incremental reading of a growing text file, one block of complete lines at a time.

`TextTail.poll()` costs one `stat` when nothing changed. When the file grew it reads only
the new bytes, up to the last newline: a half-written last line waits for its newline.
A file that shrank, was replaced (new inode) or was rewritten in place (its first bytes or
the bytes just before our offset changed, as Lightning's CSVLogger does when a new metric key
appears) is read again from the start and the chunk says `reset`, so the reader can drop
what it emitted before. A line longer than `max_line` is skipped and reported, so a file
with no newline at all never grows memory past one read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlmon_tui.sources.base import Problem
from mlmon_tui.sources.logs.registry import run_name

MAX_LINE = 1 << 20  # 1 MiB: longer lines are skipped and reported
MAX_READ = 32 << 20  # most bytes one poll reads; the rest comes with `more`
HEAD_SIG = 512  # first bytes remembered to notice an in-place rewrite
TAIL_SIG = 64  # bytes before the offset remembered for the same reason


@dataclass(slots=True)
class Chunk:
    data: bytes = b""  # complete lines, each ending in b"\n" (may be empty)
    start: bool = False  # `data` begins at byte 0 of the file (a header line comes first)
    reset: bool = False  # the file was truncated, rewritten or replaced since the last read
    problem: str | None = None  # one line for a person; the tail goes on regardless
    mtime: float = 0.0  # the file's mtime (Unix seconds) when it was read
    more: bool = False  # more complete lines wait beyond the read cap: poll again


class TextSource:
    """Base of the text-log sources: the file's tail, the run it feeds, each problem said
    once; closing needs nothing (the tail opens the file only while it reads)."""

    def __init__(self, path: Path, root: Path) -> None:
        self.path = str(path)
        self.run = run_name(path, root)
        self._tail = TextTail(path)
        self._warned: set[str] = set()

    def close(self) -> None:
        pass

    def _problem(self, update, message: str) -> None:
        if message not in self._warned:
            self._warned.add(message)
            update.problems.append(Problem(self.path, message))


class TextTail:
    def __init__(self, path: Path | str, max_line: int = MAX_LINE, max_read: int = MAX_READ):
        self.path = str(path)
        self.max_line = max_line
        self.max_read = max(max_read, max_line + 1)
        self.offset = 0  # bytes consumed (always just after a newline, or 0)
        self._ident: tuple[int, int] | None = None
        self._size = -1
        self._mtime_ns = -1
        self._head = b""
        self._tail = b""
        self._skipping = False  # inside an over-long line: drop bytes up to its newline
        self._reported: set[str] = set()

    def _problem(self, chunk: Chunk, message: str) -> Chunk:
        if message not in self._reported:
            self._reported.add(message)
            chunk.problem = message
        return chunk

    def _rewritten(self, f) -> bool:
        """True if the bytes we already consumed are no longer what the file holds."""
        if self._head:
            f.seek(0)
            if f.read(len(self._head)) != self._head:
                return True
        if self._tail:
            f.seek(self.offset - len(self._tail))
            if f.read(len(self._tail)) != self._tail:
                return True
        return False

    def _restart(self) -> None:
        self.offset = 0
        self._head = b""
        self._tail = b""
        self._skipping = False

    def poll(self) -> Chunk:
        chunk = Chunk()
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return chunk  # gone for now; if it comes back its new inode means a reset
        except OSError as e:
            return self._problem(chunk, f"cannot read: {e.strerror or e}")
        ident = (st.st_dev, st.st_ino)
        if ident == self._ident and st.st_size == self._size and st.st_mtime_ns == self._mtime_ns:
            return chunk
        chunk.mtime = st.st_mtime
        reset = self._ident is not None and (ident != self._ident or st.st_size < self.offset)
        try:
            f = open(self.path, "rb")
        except OSError as e:
            return self._problem(chunk, f"cannot read: {e.strerror or e}")
        with f:
            try:
                if not reset and self.offset and self._rewritten(f):
                    reset = True
                if reset:
                    self._restart()
                chunk.reset = reset and self._ident is not None
                self._ident = ident
                self._mtime_ns = st.st_mtime_ns
                want = st.st_size - self.offset
                f.seek(self.offset)
                data = f.read(min(want, self.max_read)) if want > 0 else b""
            except OSError as e:
                return self._problem(chunk, f"cannot read: {e.strerror or e}")
        self._size = st.st_size if len(data) >= want else -1
        chunk.more = len(data) < want
        start = self.offset
        if self._skipping:
            nl = data.find(b"\n")
            self._tail = b""
            if nl < 0:
                self.offset += len(data)
                return chunk
            self._skipping = False
            self.offset += nl + 1
            data = data[nl + 1 :]
            start = self.offset
        end = data.rfind(b"\n") + 1
        if len(data) - end > self.max_line:  # the last line is past the cap: skip it, once said
            self._skipping = True
            self._problem(chunk, f"a line longer than {_size_text(self.max_line)} at byte "
                          f"{start + end} was skipped")
            self._tail = b""
            self._size = -1
            self.offset = start + len(data)
        elif end == 0:
            return chunk  # a half-written line: wait for its newline
        else:
            self.offset = start + end
        if end == 0:
            return chunk
        data = data[:end]
        if len(self._head) < HEAD_SIG and start == len(self._head):
            self._head += data[: HEAD_SIG - len(self._head)]
        if not self._skipping:
            self._tail = (self._tail + data)[-TAIL_SIG:]
        chunk.data = data
        chunk.start = start == 0
        return chunk


def _size_text(n: int) -> str:
    return f"{n >> 20} MiB" if n >= 1 << 20 else f"{n} bytes"
