"""Scanning the records of one event file into pending points, fast.

Almost every record a trainer writes is one scalar: Event{wall_time, step,
summary{value{tag, simple_value | 0-d float tensor [+ scalars metadata]}}}. For a given tag
the bytes between the step and the value never change, so they serve as a dict key (a
"template"): a record costs its CRC, a slice, a dict lookup and two list appends, and wall
times and values are gathered with numpy at the end. Anything else goes through the general
decoder (`tb_decode`). TensorBoard's orphan rule is applied within the file as it goes.
A large region (a first load) is offered to `tb_bulk` first, which decodes the clean prefix
of it with numpy and leaves the rest to the loop below.
"""

from __future__ import annotations

import struct

import numpy as np
from google_crc32c import value as _crc

from mlmon_tui.sources.logs import tb_bulk
from mlmon_tui.sources.logs import tb_decode as tbd
from mlmon_tui.sources.logs import tb_plugins
from mlmon_tui.sources.logs.tfrecord import header_ok

_U64 = struct.Struct("<Q").unpack_from
_U32 = struct.Struct("<I").unpack_from
_F32 = struct.Struct("<f").unpack_from
_F64 = struct.Struct("<d").unpack_from
_MASK = 0xA282EAD8
_M32 = 0xFFFFFFFF
_TF32, _META = tbd.TENSOR_F32, tbd.META_SCALARS
_NOT_A_TEMPLATE = ()


def _gather(a: np.ndarray, idx: np.ndarray, width: int, dtype: str) -> np.ndarray:
    return a[idx[:, None] + np.arange(width)].view(dtype).reshape(-1)


class Decoder:
    """State of one file between polls: templates, plugins by tag, the orphan rule's most
    recent step, and points not handed out yet."""

    def __init__(self) -> None:
        self.plugins: dict[bytes, str] = {}  # tag -> plugin named by its first metadata
        self.last_step = -(1 << 63)  # step of the most recent summary
        self.emitted_max: int | None = None  # highest step already handed out
        self._tmpl: tuple[dict, dict, dict] = (
            {},
            {},
            {},
        )  # simple, tensor, tensor+metadata
        self._live: list[list] = []  # templates with points still as lists
        self._slow: dict[bytes, tuple[list, list, list, list]] = {}
        self._chunks: dict[bytes, list[tuple]] = {}  # tag -> [(step, wall, value, pos)]
        self.histograms: list[tuple[bytes, int, float, dict]] = []
        self.pr_curves: list[tuple[bytes, int, float, bytes]] = []  # see tb_prcurves
        self.meta: dict = {}  # run metadata from plugins (hparams), handed out by the source
        self.bad_crc: list[int] = []  # file offsets of records whose data CRC failed
        self.undecodable: list[int] = []  # CRC fine, protobuf not
        self.error: str | None = None  # set when the framing cannot be trusted any more
        self.restart_needed = (
            False  # a SessionLog.START orphaned points handed out earlier
        )
        self._buf: bytes = b""
        self._base = 0

    # -- the hot loop ----------------------------------------------------------------
    def feed(self, buf: bytes, base: int = 0) -> int:
        """Decode the complete records in `buf` (which starts at file offset `base`);
        returns how many bytes were consumed. Stops at a half-written record."""
        self._buf, self._base = buf, base
        pos, end = tb_bulk.feed(self, buf, base), len(buf)
        simple_t, tensor_t, meta_t = self._tmpl
        last = self.last_step
        while pos + 12 <= end:
            n = _U64(buf, pos)[0]
            stop = pos + 12 + n
            if stop + 4 > end:
                if not header_ok(buf, pos):
                    self.error = f"corrupt record length at byte {base + pos}"
                break
            data = buf[pos + 12 : stop]
            c = _crc(data)
            if (((c >> 15) | (c << 17)) + _MASK) & _M32 != _U32(buf, stop)[0]:
                if not header_ok(buf, pos):
                    self.error = f"corrupt record length at byte {base + pos}"
                    break
                self.bad_crc.append(base + pos)
                pos = stop + 4
                continue
            rec, pos = pos, stop + 4
            e = None
            if n > 16 and data[0] == 9:
                k = data[9]
                if k == 16:
                    step, i = data[10], 11
                    if step > 127:  # varint inline up to 2**21, then the general one
                        b = data[11]
                        if b < 128:
                            step, i = (step & 127) | (b << 7), 12
                        elif data[12] < 128:
                            step, i = (
                                (step & 127) | ((b & 127) << 7) | (data[12] << 14),
                                13,
                            )
                        else:
                            step, i = tbd.varint(data, 10)
                            step = step - (1 << 64) if step >= 1 << 63 else step
                else:
                    step, i = 0, 9
                if data[n - 5] == 0x15:
                    key = data[i : n - 5]
                    e = simple_t.get(key)
                    if e is None:
                        e = self._template(0, key, data, i, n)
                elif data[n - 12 : n - 4] == _TF32:
                    key = data[i : n - 4]
                    e = tensor_t.get(key)
                    if e is None:
                        e = self._template(1, key, data, i, n)
                elif data[n - 13 :] == _META:
                    key = data[i : n - 17]
                    e = meta_t.get(key)
                    if e is None:
                        e = self._template(2, key, data, i, n)
            if e:
                if step < last:
                    self.last_step = last
                    self._purge(step, (e[2],))
                else:
                    last = step
                e[0](step)
                e[1](rec)
                continue
            self.last_step = last
            try:
                self._slow_record(data, rec)
            except Exception:  # noqa: BLE001 (CRC fine, protobuf not: skip it, read on)
                self.undecodable.append(base + rec)
            last = self.last_step
        self.last_step = last
        self._settle()
        self._buf = b""
        return pos

    def _template(self, kind: int, key: bytes, data: bytes, i: int, n: int):
        """Check the layout of a record the first time its key is seen."""
        ok = (
            i + 6 < n and data[i] == 42 and data[i + 1] == n - i - 2 and data[i + 2] == 10
            and data[i + 3] == n - i - 4 and data[i + 4] == 10 and data[i + 5] < 128
        )  # fmt: skip
        tail = (5, 12, 25)[kind]
        if kind == 2:
            ok = ok and data[n - 25 : n - 17] == _TF32
        if not ok or i + 6 + data[i + 5] != n - tail:
            self._tmpl[kind][key] = _NOT_A_TEMPLATE
            return None
        tag = data[i + 6 : n - tail]
        if kind == 2:
            self.plugins.setdefault(tag, "scalars")
        elif kind == 1 and self.plugins.get(tag) != "scalars":
            return None  # not (yet) known as a scalar: the general path decides
        steps, poss = [], []
        e = (steps.append, poss.append, tag, (4, 4, 17)[kind], steps, poss)
        self._tmpl[kind][key] = e
        self._live.append(e)
        return e

    # -- the general path ------------------------------------------------------------
    def _slow_record(self, data: bytes, rec: int) -> None:
        wall, step, summary, status = tbd.parse_event(data)
        if status == tbd.SESSION_START:
            self._purge(step, None)
        if summary is not None:
            self._slow_apply(wall, step, list(tbd.parse_values(summary)), rec, summary)

    def _slow_apply(self, wall: float, step: int, values: list | None, rec: int,
                    summary: bytes | None = None) -> None:
        """The points of one decoded event (`tb_bulk` hands its odd records here too);
        `summary`, the event's encoded Summary, is read again for plugin metadata."""
        if values is None:
            return
        if summary is not None and any(v[2] in tb_plugins.META_PLUGINS for v in values):
            tb_plugins.read_meta(summary, self.meta)
        if step < self.last_step:
            self._purge(step, [v[0] for v in values])
        else:
            self.last_step = step
        for tag, simple, plugin, tensor, histo in values:
            if plugin:
                self.plugins.setdefault(tag, plugin)
            if simple is not None:
                self._add(tag, step, wall, simple, rec)
            elif histo is not None:
                self.histograms.append((tag, step, wall, tbd.histogram_proto(histo)))
            elif tensor is not None:
                kind = plugin or self.plugins.get(tag)
                if kind == "pr_curves":
                    self.pr_curves.append((tag, step, wall, tensor))
                    continue
                if kind not in ("scalars", "histograms"):
                    continue
                arr = tbd.tensor_array(tensor)
                if arr is None:
                    continue
                if kind == "scalars" and arr.size == 1 and arr.dtype.kind in "fiub":
                    self._add(tag, step, wall, float(arr.reshape(-1)[0]), rec)
                elif (
                    kind == "histograms"
                    and (h := tbd.histogram_tensor(arr)) is not None
                ):
                    self.histograms.append((tag, step, wall, h))

    def _add(self, tag: bytes, step: int, wall: float, value: float, rec: int) -> None:
        e = self._slow.get(tag)
        if e is None:
            e = self._slow[tag] = ([], [], [], [])
        for col, v in zip(e, (step, wall, value, rec)):
            col.append(v)

    # -- pending points --------------------------------------------------------------
    def _settle(self) -> None:
        """Turn the points collected as lists into arrays while the buffer is at hand."""
        a = None
        if any(len(e[5]) >= 32 for e in self._live):
            a = np.frombuffer(self._buf, np.uint8)
        for steps_append, poss_append, tag, delta, steps, poss in self._live:
            if not poss:
                continue
            base = self._base
            if (
                len(poss) < 32
            ):  # a poll while tailing: plain lists, arrays once in take()
                buf = self._buf
                wall = [_F64(buf, q + 13)[0] for q in poss]
                value = [
                    _F32(buf, q + 8 + _U64(buf, q)[0] + 4 - delta)[0] for q in poss
                ]
                chunk = (steps[:], wall, value, [q + base for q in poss])
            else:
                p = np.array(poss, dtype=np.int64)
                n = _gather(a, p, 8, "<u8").astype(np.int64)
                wall = _gather(a, p + 13, 8, "<f8")
                value = _gather(a, p + 12 + n - delta, 4, "<f4").astype(np.float64)
                chunk = (np.array(steps, dtype=np.int64), wall, value, p + base)
            self._chunks.setdefault(tag, []).append(chunk)
            steps.clear()
            poss.clear()
        for tag, (steps, walls, values, poss) in self._slow.items():
            if steps:
                chunk = (steps, walls, values, [q + self._base for q in poss])
                self._chunks.setdefault(tag, []).append(chunk)
        self._slow = {}

    def _purge(self, step: int, tags) -> None:
        """Drop pending points at or after `step` (of `tags`, or of every tag)."""
        self._settle()
        for tag in list(self._chunks) if tags is None else tags:
            chunks = self._chunks.get(tag)
            if chunks:
                keep = [np.asarray(c[0]) < step for c in chunks]
                self._chunks[tag] = [
                    tuple(np.asarray(col)[k] for col in c) for c, k in zip(chunks, keep)
                ]
        self.histograms = [
            h
            for h in self.histograms
            if h[1] < step or (tags is not None and h[0] not in tags)
        ]
        if tags is None and self.emitted_max is not None and self.emitted_max >= step:
            self.restart_needed = True

    def take(self):
        """Pending points as {tag: (step int64, wall, value)} and histograms; clears them."""
        out = {}
        for tag, chunks in self._chunks.items():
            if len(chunks) == 1:
                step, wall, value, _ = chunks[0]
            else:
                step, wall, value, pos = (np.concatenate(col) for col in zip(*chunks))
                # each chunk is in file order: sort only when they interleave
                at = [c[3] for c in chunks if len(c[3])]
                if any(b[0] < a[-1] for a, b in zip(at, at[1:])):
                    order = np.argsort(pos, kind="stable")
                    step, wall, value = step[order], wall[order], value[order]
            if not len(step):
                continue
            step = np.asarray(step, dtype=np.int64)
            wall = np.asarray(wall, dtype=np.float64)
            value = np.asarray(value, dtype=np.float64)
            out[tag.decode("utf-8", "replace")] = (step, wall, value)
            top = int(step.max())
            self.emitted_max = (
                top if self.emitted_max is None else max(self.emitted_max, top)
            )
        hists = [
            (t.decode("utf-8", "replace"), s, w, h) for t, s, w, h in self.histograms
        ]
        self._chunks, self.histograms = {}, []
        return out, hists
