"""The `.wandb` run file: a LevelDB-log-style record stream of W&B's `Record` protobufs.

Layout (what wandb's writer produces, checked against wandb 0.31's files):
    file   := header block*              header: b":W&B" | uint16 0xBEE1 | uint8 version 0
    block  := 32 KiB of fragments; fewer than 7 bytes left at a block's end are zero padding
    fragment := uint32 crc | uint16 length | uint8 type | data[length]   (little-endian)
        crc = zlib.crc32(data) seeded with the type byte (plain CRC-32, not masked)
        type: FULL (1) or FIRST (2), MIDDLE (3)..., LAST (4) of one record split over blocks
Each record is one `wandb_internal.Record`; only the fields a monitor needs are decoded
here, by hand, in the way `tb_decode` reads TensorBoard events. Field numbers come from
wandb's `wandb_internal.proto`.

`Deframer.feed` is incremental: it returns the complete records of a buffer and how many
bytes it used, stopping before a record that is still being written (a crashed run's partial
last block simply waits, never an error).
"""

from __future__ import annotations

import json
import struct
import zlib

from mlmon_tui.sources.logs.tb_decode import varint

BLOCK = 32768
HEADER = 7  # the file header and each fragment header are both 7 bytes
IDENT = b":W&B"
MAGIC = 0xBEE1
VERSION = 0
FILE_HEADER = struct.pack("<4sHB", IDENT, MAGIC, VERSION)
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4
_HDR = struct.Struct("<IHB")
_SEED = [zlib.crc32(bytes([t])) for t in range(5)]
_F64 = struct.Struct("<d").unpack_from
_OBJECT = (0x7B, 0x5B)  # "{", "["

# Record fields (wandb_internal.proto); the record_type oneof values we read
R_HISTORY, R_SUMMARY, R_CONFIG, R_RUN, R_EXIT = 2, 3, 5, 17, 18


def header_ok(head: bytes) -> bool:
    return head[:4] == IDENT and len(head) >= HEADER and head[:HEADER] == FILE_HEADER


class Deframer:
    """Joins fragments into records. `bad` lists file offsets of fragments skipped for a
    checksum mismatch or a broken fragment sequence (reading resumes at the next block)."""

    def __init__(self) -> None:
        self.bad: list[int] = []

    def feed(self, buf: bytes, base: int) -> tuple[list[bytes], int]:
        """Records complete in `buf` (which starts at file offset `base`, a fragment
        boundary) and the bytes used: up to the start of the first incomplete record."""
        out: list[bytes] = []
        n = len(buf)
        pos = used = 0
        frags: list[bytes] | None = None
        unpack = _HDR.unpack_from
        crc32 = zlib.crc32
        while True:
            left = BLOCK - (base + pos) % BLOCK
            if left < HEADER:  # the block's zero trailer
                if pos + left > n:
                    break
                pos += left
                if frags is None:
                    used = pos
                continue
            if pos + HEADER > n:
                break
            crc, ln, typ = unpack(buf, pos)
            end = pos + HEADER + ln
            if typ == 0 and ln == 0 and crc == 0:
                # zeros: space reserved ahead of a write, or a torn write. At the end of
                # what is there: wait. Followed by data: skip to the next block.
                stop = min(n, pos + left)
                if stop == n and buf.count(0, pos, stop) == stop - pos:
                    break
                self.bad.append(base + pos)
                pos, frags = pos + left, None
                used = pos
                continue
            if typ > LAST or ln > left - HEADER:
                self.bad.append(base + pos)
                pos, frags = pos + left, None
                used = pos
                continue
            if end > n:
                break
            data = buf[pos + HEADER : end]
            if crc32(data, _SEED[typ]) != crc:
                self.bad.append(base + pos)
                pos, frags = pos + left, None  # resynchronise at the next block
                used = pos
                continue
            pos = end
            if typ == FULL:
                if frags is not None:
                    self.bad.append(base + pos)
                    frags = None
                out.append(data)
            elif typ == FIRST:
                frags = [data]
            elif frags is None:  # a MIDDLE or LAST without its FIRST
                self.bad.append(base + pos)
            elif typ == MIDDLE:
                frags.append(data)
            else:
                frags.append(data)
                out.append(b"".join(frags))
                frags = None
            if frags is None:
                used = pos
        return out, used


# -- protobuf ----------------------------------------------------------------------------
def skip(b: bytes, i: int, wire: int) -> int:
    if wire == 0:
        return varint(b, i)[1]
    if wire == 2:
        ln, i = varint(b, i)
        return i + ln
    if wire == 1:
        return i + 8
    if wire == 5:
        return i + 4
    raise ValueError(f"unsupported protobuf wire type {wire}")


def record_type(data: bytes) -> tuple[int, bytes | None]:
    """The `record_type` oneof of a Record: (field number, its bytes), or (0, None)."""
    i, n = 0, len(data)
    if n > 2 and data[0] == 0x08:  # the usual layout: num, then the record type
        i = 1
        while data[i] & 0x80:
            i += 1
        i += 1
        if i < n and data[i] == 0x12:
            ln, j = varint(data, i + 1)
            return R_HISTORY, data[j : j + ln]
    while i < n:
        key, i = varint(data, i)
        f, wire = key >> 3, key & 7
        if wire == 2 and f in (R_HISTORY, R_SUMMARY, R_CONFIG, R_RUN, R_EXIT):
            ln, i = varint(data, i)
            return f, data[i : i + ln]
        i = skip(data, i, wire)
    return 0, None


def number(text: bytes) -> float | None:
    """A JSON number (or W&B's NaN / Infinity / -Infinity tokens) as a float; None for
    strings, booleans, null, lists and objects (media, histograms, tables)."""
    try:
        return float(text)
    except ValueError:
        return None


def _item(b: bytes, i: int, end: int) -> tuple[str, bytes, float | None, int]:
    """One HistoryItem / SummaryItem / ConfigItem in b[i:end]: (name, value_json bytes,
    typed value, where its key parts end). The name joins `key` or `nested_key` parts with
    `/`; `typed` is HistoryItem's `integer` or `number` when set, else None."""
    parts: list[str] = []
    value = b""
    typed = None
    keys_end = -1
    while i < end:
        k = b[i]
        i += 1
        if k == 0x12 or k == 0x0A:  # nested_key (2), key (1)
            ln, i = varint(b, i)
            parts.append(b[i : i + ln].decode("utf-8", "replace"))
            i += ln
            continue
        if keys_end < 0:
            keys_end = i - 1
        if k == 0x82 and b[i] == 0x01:  # value_json (16)
            ln, i = varint(b, i + 1)
            value = b[i : i + ln]
            i += ln
        elif k == 0x31:  # number (6), double
            typed = _F64(b, i)[0]
            i += 8
        elif k == 0x28:  # integer (5), sint64
            z, i = varint(b, i)
            typed = float((z >> 1) ^ -(z & 1))
        else:
            if k & 0x80:  # a multi-byte field key
                k, i = varint(b, i - 1)
            i = skip(b, i, k & 7)
    return "/".join(parts), value, typed, keys_end


def items(b: bytes, field: int = 1):
    """(name, value_json bytes, typed value) of each item in field `field` of a message."""
    i, n = 0, len(b)
    want = (field << 3) | 2
    while i < n:
        key, i = varint(b, i)
        if key != want:
            i = skip(b, i, key & 7)
            continue
        ln, i = varint(b, i)
        name, value, typed, _ = _item(b, i, i + ln)
        i += ln
        yield name, value, typed


def numeric_items(b: bytes, names: dict, others: list | None = None,
                  ) -> tuple[list[tuple[str, float]], int | None]:
    """The numeric items of a HistoryRecord or SummaryRecord (field 1) as (name, value),
    and HistoryRecord's `step.num` (field 2) when set. With `others`, JSON objects and
    lists, and the string "histogram" (W&B's histograms, media) go there as (name, bytes).

    `names` caches the key bytes of items already seen -> their name: rows of one run
    repeat the same keys, so the usual item costs a `find`, a dict look-up and a `float`.
    """
    out = []
    step = None
    i, n = 0, len(b)
    find = b.find
    while i < n:
        k = b[i]
        if k == 0x0A:
            ln = b[i + 1]
            if ln < 128:  # the usual item: key parts, then a short value_json
                start, end = i + 2, i + 2 + ln
                j = find(b"\x82\x01", start, end)
                if j > 0:
                    name = names.get(b[start:j])
                    if name is not None and j + 3 + b[j + 2] == end:
                        try:
                            out.append((name, float(b[j + 3 : end])))
                        except ValueError:
                            if others is not None and (b[j + 3] in _OBJECT or b[
                                    j + 3 : end] == b'"histogram"'):
                                others.append((name, b[j + 3 : end]))
                        i = end
                        continue
            ln, i = varint(b, i + 1)
            end = i + ln
            name, value, typed, keys_end = _item(b, i, end)
            if keys_end > 0 and value and b[keys_end] == 0x82:
                names[b[i:keys_end]] = name
            v = typed if typed is not None else number(value)
            if v is not None:
                out.append((name, v))
            elif others is not None and (value[:1] in (b"{", b"[") or value == b'"histogram"'):
                others.append((name, value))
            i = end
        elif k == 0x12:  # HistoryRecord.step: a HistoryStep{num (1)}
            ln, i = varint(b, i + 1)
            if ln and b[i] == 0x08:
                step = varint(b, i + 1)[0]
            i += ln
        else:
            key, i = varint(b, i)
            i = skip(b, i, key & 7)
    return out, step


def config(b: bytes) -> dict:
    """A ConfigRecord's updates as {key: value}, values parsed from JSON (W&B's config.yaml
    holds the same values under `value`)."""
    out = {}
    for name, value, _ in items(b):
        try:
            out[name] = json.loads(value) if value else None
        except ValueError:
            out[name] = value.decode("utf-8", "replace")
    return out


def run(b: bytes) -> dict:
    """A RunRecord's id (1), display name (8), project (3), config (4), resumed (18)."""
    out: dict = {}
    i, n = 0, len(b)
    while i < n:
        key, i = varint(b, i)
        f, wire = key >> 3, key & 7
        if wire == 2 and f in (1, 3, 4, 8):
            ln, i = varint(b, i)
            v = b[i : i + ln]
            i += ln
            if f == 4:
                out["config"] = config(v)
            else:
                out[{1: "id", 3: "project", 8: "name"}[f]] = v.decode("utf-8", "replace")
        elif wire == 0 and f == 18:
            v, i = varint(b, i)
            out["resumed"] = bool(v)
        else:
            i = skip(b, i, wire)
    return out


def exit_code(b: bytes) -> int:
    i, n = 0, len(b)
    while i < n:
        key, i = varint(b, i)
        if key == 0x08:
            v, i = varint(b, i)
            return v - (1 << 64) if v >= 1 << 63 else v
        i = skip(b, i, key & 7)
    return 0
