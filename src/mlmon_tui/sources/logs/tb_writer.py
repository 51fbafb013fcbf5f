"""A small TensorBoard event-file writer (scalars and histograms), for the demo and tests.

Encodes the few `Event` fields it needs by hand, as `tb_decode` reads them, so writing
needs neither TensorBoard's nor tensorboardX's packages (importing tensorboardX alone takes
over a second). Tests check its files with TensorBoard's own EventAccumulator.
"""

from __future__ import annotations

import socket
import struct
import time
from pathlib import Path

import numpy as np

from mlmon_tui.sources.logs.tfrecord import frame

_F64 = struct.Struct("<d").pack
_F32 = struct.Struct("<f").pack


def _varint(v: int) -> bytes:
    v &= (1 << 64) - 1
    out = bytearray()
    while v > 127:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _event(wall: float, step: int, summary_value: bytes) -> bytes:
    head = b"\x09" + _F64(wall) + (b"\x10" + _varint(step) if step else b"")
    return head + _field(5, _field(1, summary_value))


def event_file_name(directory: Path, suffix: str = "") -> Path:
    """A fresh name as TensorFlow and PyTorch choose it."""
    now = time.time()
    return (
        Path(directory)
        / f"events.out.tfevents.{int(now)}.{socket.gethostname()}{suffix}"
    )


class EventWriter:
    """Appends events to `path` (created with its `brain.Event:2` header if new).

    `tensor_form=True` writes scalars as TF2's `tf.summary.scalar` does: a 0-d float tensor,
    with the `scalars` plugin metadata on the first event of each tag only.
    """

    def __init__(self, path: str | Path, tensor_form: bool = False) -> None:
        self.path = Path(path)
        self.tensor_form = tensor_form
        self._seen: set[str] = set()
        self._f = open(self.path, "ab")  # noqa: SIM115 (open until close())
        if self._f.tell() == 0:
            self._write(b"\x09" + _F64(time.time()) + _field(3, b"brain.Event:2"))

    def _write(self, data: bytes) -> None:
        self._f.write(frame(data))

    def add_scalar(
        self, tag: str, value: float, step: int, wall: float | None = None
    ) -> None:
        wall = time.time() if wall is None else wall
        name = _field(1, tag.encode())
        if not self.tensor_form:
            self._write(_event(wall, step, name + b"\x15" + _F32(value)))
            return
        tensor = _field(8, b"\x08\x01\x12\x00\x22\x04" + _F32(value))
        meta = b""
        if tag not in self._seen:
            self._seen.add(tag)
            meta = _field(9, _field(1, _field(1, b"scalars")))
        self._write(_event(wall, step, name + tensor + meta))

    def add_histogram(
        self, tag: str, values, step: int, bins: int = 30, wall: float | None = None
    ) -> None:
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        values = values[np.isfinite(values)]
        if not len(values):
            values = np.zeros(1)
        counts, edges = np.histogram(values, bins=bins)
        histo = b"".join(
            (
                b"\x09" + _F64(values.min()), b"\x11" + _F64(values.max()),
                b"\x19" + _F64(len(values)), b"\x21" + _F64(values.sum()),
                b"\x29" + _F64(float(np.dot(values, values))),
                _field(6, edges[1:].astype("<f8").tobytes()),
                _field(7, counts.astype("<f8").tobytes()),
            )
        )  # fmt: skip
        wall = time.time() if wall is None else wall
        self._write(_event(wall, step, _field(1, tag.encode()) + _field(5, histo)))

    def add_session_start(self, step: int, wall: float | None = None) -> None:
        """A `SessionLog.START`: TensorBoard drops the points at or after `step`."""
        wall = time.time() if wall is None else wall
        head = b"\x09" + _F64(wall) + (b"\x10" + _varint(step) if step else b"")
        self._write(head + _field(7, b"\x08\x01"))

    def flush(self) -> None:
        self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    def __enter__(self) -> EventWriter:  # noqa: PYI034
        return self

    def __exit__(self, *exc) -> None:
        self.close()
