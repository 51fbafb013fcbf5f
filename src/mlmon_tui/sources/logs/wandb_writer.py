"""A small writer of W&B-style `.wandb` run files, for the demo, tests and benchmarks.

Writes what `wandb_stream` reads, in the layout wandb itself uses
(`<dir>/wandb/offline-run-<date>-<id>/run-<id>.wandb`, a `latest-run` link): the file
header, a run record (id, display name, project, config), one history record per `log`
(`_step`, `_timestamp`, `_runtime` and the metrics, nested dicts as nested keys, values as
JSON with NaN/Infinity as wandb writes them), config updates and an exit record. Fragments
follow LevelDB's log format with 32 KiB blocks. Tests check its files with wandb's own
protobuf classes. It does not need the wandb package.
"""

from __future__ import annotations

import json
import struct
import time
import zlib
from pathlib import Path

from mlmon_tui.sources.logs import wandb_stream as ws
from mlmon_tui.sources.logs.tb_writer import _field, _varint

_HDR = struct.Struct("<IHB")


def _item(path: tuple[str, ...], value) -> bytes:
    keys = b"".join(_field(2, k.encode()) for k in path)
    return _field(1, keys + _field(16, json.dumps(value, default=float).encode()))


def _items(obj: dict, prefix: tuple[str, ...] = ()) -> bytes:
    out = []
    for k, v in obj.items():
        if isinstance(v, dict) and v:
            out.append(_items(v, prefix + (str(k),)))
        else:
            out.append(_item(prefix + (str(k),), v))
    return b"".join(out)


def _config(conf: dict) -> bytes:
    return b"".join(
        _field(1, _field(1, str(k).encode()) + _field(16, json.dumps(v).encode()))
        for k, v in conf.items())


def run_dir(base: str | Path, run_id: str, when: float | None = None) -> Path:
    """`<base>/wandb/offline-run-<date>_<time>-<id>`, as wandb names an offline run."""
    stamp = time.strftime("%Y%m%d_%H%M%S", time.localtime(when or time.time()))
    return Path(base) / "wandb" / f"offline-run-{stamp}-{run_id}"


class RunWriter:
    """Appends records to a `.wandb` file. `sync=False` leaves flushing to `flush()`."""

    def __init__(self, path: str | Path, run_id: str, name: str = "", *, project: str = "demo",
                 config: dict | None = None, sync: bool = True) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.path, "xb")
        self._sync = sync
        self._num = 0
        self._step = 0
        self._start = time.time()
        self._f.write(ws.FILE_HEADER)
        self._offset = ws.HEADER
        run = _field(1, run_id.encode()) + _field(3, project.encode())
        if config:
            run += _field(4, _config(config))
        if name:
            run += _field(8, name.encode())
        self._write(17, run)

    @classmethod
    def create(cls, base: str | Path, run_id: str, name: str = "", *, when: float | None = None,
               **kw) -> RunWriter:
        """A new run under `<base>/wandb/` (its folder dated `when`, else now), with wandb's
        `latest-run` link pointing at it."""
        d = run_dir(base, run_id, when)
        w = cls(d / f"run-{run_id}.wandb", run_id, name, **kw)
        link = d.parent / "latest-run"
        try:
            if link.is_symlink():
                link.unlink()
            link.symlink_to(d.name)
        except OSError:
            pass
        return w

    def log(self, metrics: dict, step: int | None = None, wall: float | None = None) -> None:
        """One history row, as `wandb.log(metrics, step=step)` records it."""
        if step is not None:
            self._step = step
        wall = time.time() if wall is None else wall
        row = {"_step": self._step, "_timestamp": wall, "_runtime": wall - self._start}
        self._write(2, _items({**metrics, **row}))
        self._step += 1

    def config(self, conf: dict) -> None:
        self._write(5, _config(conf))

    def finish(self, exit_code: int = 0) -> None:
        self._write(18, b"\x08" + _varint(exit_code) if exit_code else b"")
        self.close()

    def flush(self) -> None:
        if not self._f.closed:
            self._f.flush()

    def close(self) -> None:
        if not self._f.closed:
            self._f.close()

    # -- framing ---------------------------------------------------------------------
    def _write(self, field: int, body: bytes) -> None:
        self._num += 1
        rec = b"\x08" + _varint(self._num) + _field(field, body)
        self._f.write(self._frame(rec))
        if self._sync:
            self._f.flush()

    def _frame(self, data: bytes) -> bytes:
        out = []
        first = True
        while True:
            left = ws.BLOCK - self._offset % ws.BLOCK
            if left < ws.HEADER:
                out.append(b"\x00" * left)
                self._offset += left
                continue
            room = left - ws.HEADER
            piece, data = data[:room], data[room:]
            typ = (ws.FULL if first else ws.LAST) if not data else (
                ws.FIRST if first else ws.MIDDLE)
            out.append(_HDR.pack(zlib.crc32(piece, zlib.crc32(bytes([typ]))), len(piece), typ))
            out.append(piece)
            self._offset += ws.HEADER + len(piece)
            first = False
            if not data:
                return b"".join(out)

    def __enter__(self) -> RunWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.finish()

