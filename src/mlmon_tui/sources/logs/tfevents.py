"""TensorBoard event files (`events.out.tfevents.*`), read incrementally.

Each poll stats the file and, when it grew, reads the new region with one `pread`, decodes
the complete records (`tb_decode`) and keeps the byte offset of the first incomplete one.
A truncated, rewritten or replaced file is read again from the start after a reset.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlmon_tui.sources.logs import tb_prcurves
from mlmon_tui.sources.base import HistogramPoint, ScalarBatch, Update, read_once
from mlmon_tui.sources.logs.binfile import BinaryTail
from mlmon_tui.sources.logs.registry import run_name
from mlmon_tui.sources.logs.tb_plugins import hparams_child, merge_meta
from mlmon_tui.sources.logs.tb_scan import Decoder
from mlmon_tui.sources.logs.tb_writer import EventWriter, event_file_name  # noqa: F401 (API)
from mlmon_tui.sources.logs.tfrecord import header_ok

KIND = "tfevents"
CHUNK = 2 << 20  # bytes read at once (grows for a single larger record): big enough for bulk
# decoding, small enough that its temporaries are reused from the heap, not faulted in afresh
HEAD = 64  # bytes kept from the start of the file to notice it being rewritten in place
LFS_MAGIC = b"version https://git-lfs"


def probe(path: Path, head: bytes) -> int:
    if "tfevents" in Path(path).name:
        return 100
    return 50 if header_ok(head) else 0


def open_source(path: Path, root: Path) -> TfEventsSource:
    return TfEventsSource(path, root)


def read_all(path: str | Path) -> Update:
    """Everything in one file, as one update (run named '.')."""
    return read_once(TfEventsSource(Path(path), Path(path).parent))


class TfEventsSource(BinaryTail):
    kind = KIND

    def __init__(self, path: Path, root: Path) -> None:
        self._path = Path(path)
        self.path = str(path)
        self.run = run_name(self._path, Path(root))
        # add_hparams' `run/<time.time()>/` folder: its hparams go to the run, its points not
        self.run, self._meta_only = hparams_child(self._path, self.run)
        self._meta: dict = {}
        self._init_tail()
        self._start()

    def _start(self) -> None:
        self._offset = 0
        self._head = b""
        self._dec = Decoder()
        self._stopped = False
        self._reported_bad = 0
        self._reported_undecodable = 0

    def poll(self) -> Update:
        up = Update()
        st = self._open(up)
        if st is None:
            return up
        size = st.st_size
        if size == 0:
            self._say(up, "empty event file (0 bytes); waiting for data")
            return up
        if self._stopped or size == self._offset:
            return up
        try:
            if self._head and os.pread(self._fd, len(self._head), 0) != self._head:
                self._reset(up)  # rewritten in place with a larger size
            self._read(size, up)
            if (
                self._dec.restart_needed
            ):  # a SessionLog.START orphaned points handed out
                self._reset(up)
                self._read(size, up)
        except OSError as exc:  # e.g. a network file system hiccup: try again next poll
            self._say(up, f"read error: {exc.strerror or exc}")
        self._emit(up)
        return up

    def _read(self, size: int, up: Update) -> None:
        chunk = CHUNK
        while self._offset < size and not self._stopped:
            want = min(size - self._offset, chunk)
            buf = os.pread(self._fd, want, self._offset)
            if self._offset == 0:
                self._head = buf[:HEAD]
                if buf.startswith(LFS_MAGIC):
                    self._stop(
                        up, "a Git LFS pointer, not event data (run `git lfs pull`)"
                    )
                    return
            used = self._dec.feed(buf, self._offset)
            self._offset += used
            if self._dec.error:
                if self._offset == 0:
                    self._stop(
                        up, "not a TensorBoard event file (no valid record at byte 0)"
                    )
                else:
                    self._stop(
                        up,
                        f"stopped reading: {self._dec.error}; later records are lost",
                    )
                return
            if used == 0:
                if want < chunk or len(buf) < want:
                    return  # a half-written record at the end: read it next poll
                chunk *= 4  # one record larger than the chunk
            if self._dec.restart_needed:
                return

    def _stop(self, up: Update, message: str) -> None:
        self._stopped = True
        self._say(up, message, "error")

    def _emit(self, up: Update) -> None:
        dec = self._dec
        bad = dec.bad_crc[self._reported_bad :]
        if bad:
            self._reported_bad = len(dec.bad_crc)
            many = (
                f"{len(bad)} corrupt records, the first"
                if len(bad) > 1
                else "a corrupt record"
            )
            self._say(up, f"skipped {many} at byte {bad[0]} (checksum mismatch)")
        odd = dec.undecodable[self._reported_undecodable :]
        if odd:
            self._reported_undecodable = len(dec.undecodable)
            self._say(
                up,
                f"skipped {len(odd)} undecodable event(s), the first at byte {odd[0]}",
            )
        scalars, hists = dec.take()
        if dec.meta:  # what this file said so far, whole (the store replaces each key)
            up.meta.setdefault(self.run, {}).update(merge_meta(self._meta, dec.meta))
            dec.meta = {}
        if self._meta_only:
            scalars, hists = {}, []
        for tag, (step, wall, value) in scalars.items():
            up.scalars.append(
                ScalarBatch(
                    self.run,
                    tag,
                    step,
                    wall,
                    value,
                    source=self.path,
                    purge_orphans=True,
                )
            )
        if dec.pr_curves:
            tb_prcurves.emit(dec, self.run, self.path, up)
        for tag, step, wall, h in hists:
            up.histograms.append(
                HistogramPoint(self.run, tag, step, wall, source=self.path, **h)
            )
