"""Decoding the part of TensorBoard's `Event` protobuf a monitor needs, by hand.

Only scalars (`simple_value`, and TF2 tensors with plugin `scalars`), histograms
(`HistogramProto`, and TF2 `histograms` tensors) and `SessionLog.START` are decoded; every
other field is skipped by its wire type. This is the general path; `tb_scan` recognises the
common one-scalar layouts without it. Compiled protobufs are not needed: see
benchmarks/read_tfevents.py for why (speed, and a 30 ms-1.2 s import).
"""

from __future__ import annotations

import struct

import numpy as np

_F32 = struct.Struct("<f").unpack_from
_F64 = struct.Struct("<d").unpack_from
# tensor{dtype: DT_FLOAT, tensor_shape{}, tensor_content: <4 bytes>}: how TF2 writes a scalar
TENSOR_F32 = bytes.fromhex("420a080112002204")
META_SCALARS = bytes.fromhex("4a0b0a090a07") + b"scalars"
SESSION_START = 1
_DTYPES = {
    1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8,
    9: np.int64, 10: np.bool_, 17: np.uint16, 19: np.float16, 22: np.uint32, 23: np.uint64,
}  # fmt: skip
_BFLOAT16 = 14


# -- protobuf wire format ----------------------------------------------------------------
def varint(b: bytes, i: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        x = b[i]
        i += 1
        result |= (x & 0x7F) << shift
        if x < 128:
            return result, i
        shift += 7


def _signed(v: int) -> int:
    return v - (1 << 64) if v >= 1 << 63 else v


def fields(b: bytes):
    """(field number, wire type, value) of each field; value is an int or bytes."""
    i, n = 0, len(b)
    while i < n:
        key, i = varint(b, i)
        wire = key & 7
        if wire == 0:
            v, i = varint(b, i)
        elif wire == 2:
            ln, i = varint(b, i)
            v, i = b[i : i + ln], i + ln
        elif wire == 1:
            v, i = b[i : i + 8], i + 8
        elif wire == 5:
            v, i = b[i : i + 4], i + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield key >> 3, wire, v
    if i > n:
        raise ValueError("truncated protobuf message")


def _packed(parts: list, wire: int, fmt: str) -> np.ndarray:
    """A repeated numeric field, packed (wire 2) or not."""
    out = []
    for w, v in parts:
        if w == 2 and fmt in "fd":
            out.append(np.frombuffer(v, "<" + fmt))
        elif w == 2:  # packed varints
            vals, i = [], 0
            while i < len(v):
                x, i = varint(v, i)
                vals.append(_signed(x))
            out.append(np.array(vals, dtype=np.int64))
        elif w in (1, 5):
            out.append(np.frombuffer(v, "<" + fmt))
        else:
            out.append(np.array([_signed(v)], dtype=np.int64))
    return np.concatenate(out) if out else np.zeros(0)


# -- messages ----------------------------------------------------------------------------
def parse_event(data: bytes):
    """(wall_time, step, summary bytes or None, SessionLog status or 0)."""
    wall, step, summary, status = 0.0, 0, None, 0
    for f, w, v in fields(data):
        if f == 1 and w == 1:
            wall = _F64(v)[0]
        elif f == 2 and w == 0:
            step = _signed(v)
        elif f == 5 and w == 2:
            summary = v
        elif f == 7 and w == 2:
            for g, gw, gv in fields(v):
                if g == 1 and gw == 0:
                    status = gv
    return wall, step, summary, status


def parse_values(summary: bytes):
    """(tag, simple_value or None, plugin name, tensor bytes, histo bytes) per value."""
    for f, w, value in fields(summary):
        if f != 1 or w != 2:
            continue
        tag, simple, plugin, tensor, histo = b"", None, "", None, None
        for g, gw, v in fields(value):
            if g == 1 and gw == 2:
                tag = v
            elif g == 2 and gw == 5:
                simple = _F32(v)[0]
            elif g == 8 and gw == 2:
                tensor = v
            elif g == 5 and gw == 2:
                histo = v
            elif g == 9 and gw == 2:
                plugin = plugin_data(v)[0] or plugin
        yield tag, simple, plugin, tensor, histo


def plugin_data(metadata: bytes) -> tuple[str, bytes]:
    """(plugin name, content) of a SummaryMetadata's plugin_data; ("", b"") without one."""
    plugin, content = "", b""
    for h, hw, hv in fields(metadata):
        if h == 1 and hw == 2:  # plugin_data
            for k, kw, kv in fields(hv):
                if k == 1 and kw == 2:
                    plugin = kv.decode("utf-8", "replace")
                elif k == 2 and kw == 2:
                    content = kv
    return plugin, content


def tensor_array(t: bytes) -> np.ndarray | None:
    """A numeric `TensorProto` as an ndarray, or None for strings and unknown dtypes."""
    dtype, dims, content = 0, [], None
    vals: dict[int, list] = {}
    for f, w, v in fields(t):
        if f == 1 and w == 0:
            dtype = v
        elif f == 2 and w == 2:
            for g, gw, gv in fields(v):
                if g == 2 and gw == 2:
                    dims.append(
                        next((x for k, kw, x in fields(gv) if k == 1 and kw == 0), 0)
                    )
        elif f == 4 and w == 2:
            content = v
        elif f in (5, 6, 7, 10, 11, 13):
            vals.setdefault(f, []).append((w, v))
    np_type = np.uint16 if dtype == _BFLOAT16 else _DTYPES.get(dtype)
    if np_type is None:
        return None
    size = int(np.prod(dims)) if dims else 1
    if content is not None:
        arr = np.frombuffer(content, np.dtype(np_type).newbyteorder("<"))
    elif 5 in vals:
        arr = _packed(vals[5], 2, "f")
    elif 6 in vals:
        arr = _packed(vals[6], 2, "d")
    elif 13 in vals:
        arr = _packed(vals[13], 2, "i").astype(np.uint16).view(np.float16)
    else:
        key = next((k for k in (7, 10, 11) if k in vals), None)
        arr = _packed(vals[key], 2, "i") if key else np.zeros(0)
    if dtype == _BFLOAT16:
        arr = (arr.astype(np.uint32) << 16).view(np.float32)
    if arr.size == size:
        return arr.reshape(dims)
    if arr.size == 0:
        return np.zeros(dims)
    if arr.size < size:  # TensorFlow repeats the last value to fill the shape
        arr = np.concatenate([arr, np.repeat(arr[-1:], size - arr.size)])
    return arr[:size].reshape(dims)


def histogram_proto(h: bytes) -> dict:
    out: dict = {"min": 0.0, "max": 0.0, "num": 0.0, "sum": 0.0, "sum_squares": 0.0}
    names = {1: "min", 2: "max", 3: "num", 4: "sum", 5: "sum_squares"}
    limits, counts = [], []
    for f, w, v in fields(h):
        if f in names and w == 1:
            out[names[f]] = _F64(v)[0]
        elif f == 6:
            limits.append((w, v))
        elif f == 7:
            counts.append((w, v))
    out["bucket_limit"] = _packed(limits, 2, "d").astype(np.float64)
    out["bucket"] = _packed(counts, 2, "d").astype(np.float64)
    return out


def histogram_tensor(arr: np.ndarray) -> dict | None:
    """TF2 `histograms` tensor: k rows of [left edge, right edge, count]."""
    if arr.ndim != 2 or arr.shape[1] != 3 or not len(arr):
        return None
    arr = arr.astype(np.float64)
    left, right, count = arr[:, 0], arr[:, 1], arr[:, 2]
    mid = (left + right) / 2
    return {
        "min": float(left[0]), "max": float(right[-1]), "num": float(count.sum()),
        "sum": float((count * mid).sum()), "sum_squares": float((count * mid * mid).sum()),
        "bucket_limit": right.copy(), "bucket": count.copy(), "layout": "rows",
    }  # fmt: skip
