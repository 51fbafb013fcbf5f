"""Writing event files for tests with an encoder independent of the reader under test:
tensorboardX's compiled protobufs and its own record framing (masked CRC32C)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from tensorboardX.proto.event_pb2 import Event, SessionLog
from tensorboardX.proto.summary_pb2 import HistogramProto, Summary, SummaryMetadata
from tensorboardX.proto.tensor_pb2 import TensorProto
from tensorboardX.proto.tensor_shape_pb2 import TensorShapeProto
from tensorboardX.record_writer import masked_crc32c

DT_FLOAT, DT_DOUBLE, DT_INT32, DT_HALF, DT_STRING = 1, 2, 3, 19, 7


def frame(data: bytes) -> bytes:
    header = struct.pack("<Q", len(data))
    return (
        header + struct.pack("<I", masked_crc32c(header)) + data
        + struct.pack("<I", masked_crc32c(data))
    )  # fmt: skip


def version_event(wall: float = 1.0) -> Event:
    return Event(wall_time=wall, file_version="brain.Event:2")


def simple(tag: str, value: float, step: int, wall: float | None = None) -> Event:
    wall = 1000.0 + step if wall is None else wall
    return Event(
        wall_time=wall, step=step,
        summary=Summary(value=[Summary.Value(tag=tag, simple_value=value)]),
    )  # fmt: skip


def _shape(dims) -> TensorShapeProto:
    return TensorShapeProto(dim=[TensorShapeProto.Dim(size=d) for d in dims])


def tensor(value, dtype: int = DT_FLOAT, form: str = "content", dims=()) -> TensorProto:
    """A TensorProto holding `value` as TensorFlow writes it: in `tensor_content` bytes or
    in the typed repeated field (`float_val`, `double_val`, `half_val`, `int_val`)."""
    np_type = {DT_FLOAT: "<f4", DT_DOUBLE: "<f8", DT_INT32: "<i4", DT_HALF: "<f2"}[
        dtype
    ]
    arr = np.asarray(value, dtype=np_type).reshape(dims)
    t = TensorProto(dtype=dtype, tensor_shape=_shape(dims))
    if form == "content":
        t.tensor_content = arr.tobytes()
    elif dtype == DT_FLOAT:
        t.float_val.extend(arr.reshape(-1).tolist())
    elif dtype == DT_DOUBLE:
        t.double_val.extend(arr.reshape(-1).tolist())
    elif dtype == DT_HALF:
        t.half_val.extend(arr.reshape(-1).view("<u2").tolist())
    else:
        t.int_val.extend(arr.reshape(-1).tolist())
    return t


def tf2(
    tag: str, t: TensorProto, step: int, plugin: str | None, wall: float | None = None
):
    """An event like `tf.summary.*` in TF2: the plugin metadata only when `plugin` is given
    (TF2 writes it on the first event of each tag)."""
    value = Summary.Value(tag=tag, tensor=t)
    if plugin:
        value.metadata.CopyFrom(SummaryMetadata(plugin_data=SummaryMetadata.PluginData(
            plugin_name=plugin)))  # fmt: skip
    wall = 1000.0 + step if wall is None else wall
    return Event(wall_time=wall, step=step, summary=Summary(value=[value]))


def histo(tag: str, values, step: int) -> Event:
    values = np.asarray(values, dtype=np.float64)
    counts, edges = np.histogram(values, bins=10)
    h = HistogramProto(
        min=values.min(), max=values.max(), num=len(values), sum=values.sum(),
        sum_squares=float((values**2).sum()), bucket_limit=edges[1:].tolist(),
        bucket=counts.astype(float).tolist(),
    )  # fmt: skip
    return Event(
        wall_time=1000.0 + step,
        step=step,
        summary=Summary(value=[Summary.Value(tag=tag, histo=h)]),
    )


def session_start(step: int) -> Event:
    return Event(
        wall_time=1000.0 + step,
        step=step,
        session_log=SessionLog(status=SessionLog.START),
    )


def records(events) -> list[bytes]:
    return [frame(e.SerializeToString()) for e in events]


def write(path: Path, events, mode: str = "wb") -> list[bytes]:
    recs = records(events)
    with open(path, mode) as f:
        f.write(b"".join(recs))
    return recs
