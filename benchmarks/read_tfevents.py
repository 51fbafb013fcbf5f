"""Reading TensorBoard scalars: our reader against TensorBoard's Rust data server,
EventAccumulator and tbparse, all on the same files, in the same run.

Corpora (each written twice: `simple_value` as PyTorch writes, and TF2 tensor form):
  A: 1 run x 20 tags x 10k steps     B: 20 runs x 10 tags x 1k steps   (--quick: 1/4)
Every reader reads every scalar of the same files; rates are per scalar per CPU second (the
box is shared: wall time is noisy), best of `--repeat`. The data server (`tensorboard-data-
server`, where it is installed) keeps every scalar (`--samples-per-plugin scalars=all`),
checks every CRC (`--checksum`, as we do) and is counted by its own process's CPU time and
peak RSS, from its start until its gRPC API serves every series to its last step. Also
measured: decoding the same records with compiled protobufs (the alternative to hand
decoding), and tailing 100 new events/s on top of a 200k-event file, where the fair peer is
EventAccumulator's incremental `Reload()` (tbparse can only re-read the whole file).

    PYTHONPATH=src python benchmarks/read_tfevents.py [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dataserver  # noqa: E402

from mlmon_tui.sources.logs.tfevents import TfEventsSource
from mlmon_tui.sources.logs.tb_writer import _field, _varint
from mlmon_tui.sources.logs.tfrecord import frame, masked_crc

warnings.filterwarnings("ignore")
SRC = Path(__file__).resolve().parent.parent / "src"
_D, _F, _Q, _I = (struct.Struct(f).pack for f in ("<d", "<f", "<Q", "<I"))


def write_run(path: Path, tags: int, steps: int, tensor: bool) -> int:
    """One event file as PyTorch (`simple_value`) or TF2 (tensor, metadata on a tag's first
    event only) writes it, steps outer and tags inner. Built from per-tag byte templates:
    the generic writer is too slow for tens of millions of records."""
    names = [f"metric/{k:02d}".encode() for k in range(tags)]
    rng = np.random.default_rng(len(names) * steps)
    values = rng.random((steps, tags), dtype=np.float32).tolist()
    meta = _field(9, _field(1, _field(1, b"scalars")))
    out = [frame(b"\x09" + _D(1.6e9) + _field(3, b"brain.Event:2"))]
    for s in range(steps):
        head = _D(1.6e9 + s * 0.5)
        st = b"\x10" + _varint(s) if s else b""
        for k, name in enumerate(names):
            tag = _field(1, name)
            if tensor:
                v = tag + _field(8, b"\x08\x01\x12\x00\x22\x04" + _F(values[s][k]))
                v += meta if s == 0 else b""
            else:
                v = tag + b"\x15" + _F(values[s][k])
            data = b"\x09" + head + st + _field(5, _field(1, v))
            ln = _Q(len(data))
            out.append(b"".join((ln, _I(masked_crc(ln)), data, _I(masked_crc(data)))))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(out))
    return steps * tags


def corpus(
    root: Path, runs: int, tags: int, steps: int, tensor: bool
) -> tuple[list[Path], int]:
    files, n = [], 0
    for r in range(runs):
        p = root / f"run{r:03d}" / "events.out.tfevents.1600000000.bench.1.0"
        n += write_run(p, tags, steps, tensor)
        files.append(p)
    return files, n


# -- readers -----------------------------------------------------------------------------
def ours(files: list[Path]) -> int:
    n = 0
    for f in files:
        src = TfEventsSource(f, f.parent.parent)
        n += sum(len(b) for b in src.poll().scalars)
        src.close()
    return n


def tbparse(root: Path, tensor: bool) -> int:
    from tbparse import SummaryReader

    r = SummaryReader(str(root), pivot=False)
    return len(r.tensors if tensor else r.scalars)


def accumulator(files: list[Path], tensor: bool) -> int:
    from tensorboard.backend.event_processing import event_accumulator as ea
    from tensorboard.util import tensor_util

    n = 0
    for f in files:
        acc = ea.EventAccumulator(
            str(f.parent), size_guidance={ea.SCALARS: 0, ea.TENSORS: 0}
        )
        acc.Reload()
        if tensor:
            for tag in acc.Tags()["tensors"]:
                n += len(
                    [
                        float(tensor_util.make_ndarray(e.tensor_proto))
                        for e in acc.Tensors(tag)
                    ]
                )
        else:
            for tag in acc.Tags()["scalars"]:
                n += len([e.value for e in acc.Scalars(tag)])
    return n


def protobuf(files: list[Path], tensor: bool) -> int:
    """The same framing and CRC as ours, decoding with TensorBoard's compiled protobufs."""
    from tensorboard.compat.proto.event_pb2 import Event

    n = 0
    for f in files:
        buf, pos, vals = f.read_bytes(), 0, []
        while pos + 12 <= len(buf):
            ln = struct.unpack_from("<Q", buf, pos)[0]
            data = buf[pos + 12 : pos + 12 + ln]
            assert masked_crc(data) == struct.unpack_from("<I", buf, pos + 12 + ln)[0]
            pos += 16 + ln
            ev = Event.FromString(data)
            if ev.HasField("summary"):
                for v in ev.summary.value:
                    x = (
                        struct.unpack("<f", v.tensor.tensor_content)[0]
                        if tensor
                        else v.simple_value
                    )
                    vals.append((ev.step, ev.wall_time, v.tag, x))
        n += len(vals)
    return n


def import_seconds(module: str) -> float:
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                check=True).stdout)  # fmt: skip


# -- tailing -----------------------------------------------------------------------------
def tailing(root: Path, seconds: float, base_steps: int) -> None:
    from tbparse import SummaryReader
    from tensorboard.backend.event_processing import event_accumulator as ea

    path = root / "tail" / "events.out.tfevents.1600000000.bench.1.0"
    base = write_run(path, 10, base_steps, False)
    src = TfEventsSource(path, root)
    src.poll()
    acc = ea.EventAccumulator(str(path.parent), size_guidance={ea.SCALARS: 0})
    acc.Reload()
    # the trainer: another process appending 100 events/s, flushed one by one
    code = (
        "import sys, time\nfrom mlmon_tui.sources.logs.tfevents import EventWriter\n"
        "w = EventWriter(sys.argv[1])\nstep = int(sys.argv[2])\nwhile True:\n"
        "    w.add_scalar(f'metric/{step % 10:02d}', 0.5, step); w.flush(); step += 1\n"
        "    time.sleep(0.01)\n"
    )
    trainer = subprocess.Popen([sys.executable, "-c", code, str(path), str(base_steps)],
                               env={**os.environ, "PYTHONPATH": str(SRC)})  # fmt: skip
    time.sleep(1.0)

    def phase(interval: float, with_acc: bool) -> tuple[float, float, float, int]:
        cpu_ours = cpu_acc = 0.0
        got = 0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            c = time.thread_time()
            got += sum(len(b) for b in src.poll().scalars)
            cpu_ours += time.thread_time() - c
            if with_acc:
                c = time.thread_time()
                acc.Reload()
                cpu_acc += time.thread_time() - c
            time.sleep(interval)
        return cpu_ours, cpu_acc, time.perf_counter() - t0, got

    try:
        ours_1, acc_1, wall_1, got_1 = phase(1.0, True)
        ours_10, _, wall_10, got_10 = phase(0.1, False)
    finally:
        trainer.kill()
        trainer.wait()
    t = time.process_time()
    _ = SummaryReader(str(path.parent), pivot=False).scalars
    reread = time.process_time() - t
    print(f"\nTailing ~100 events/s on a {base // 1000}k-event file, {seconds:.0f} s per line "
          f"({got_1} + {got_10} new points read):")  # fmt: skip
    print(f"  our reader, polled 1/s         {100 * ours_1 / wall_1:8.3f} % of a core")
    print(
        f"  our reader, polled 10/s        {100 * ours_10 / wall_10:8.3f} % of a core"
    )
    print(f"  EventAccumulator.Reload() 1/s  {100 * acc_1 / wall_1:8.3f} % of a core")
    print(
        f"  tbparse re-read 1/s            {100 * reread:8.1f} % of a core (one re-read: {reread:.2f} s)"
    )
    print(f"  headline, against the incremental peer: EventAccumulator costs "
          f"{acc_1 / max(ours_1, 1e-9):.1f}x ours at 1 poll/s (tbparse, which cannot tail, "
          f"{reread * wall_1 / max(ours_1, 1e-9):.0f}x)")  # fmt: skip


def timed_cpu(fn, *args, repeat: int) -> tuple[int, float]:
    """CPU seconds, best of `repeat` (the box is shared: wall time is noisy)."""
    best = float("inf")
    for _ in range(repeat):
        t = time.process_time()
        n = fn(*args)
        best = min(best, time.process_time() - t)
    return n, best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1/4 of the sizes, 3 s of tailing")
    ap.add_argument("--repeat", type=int, default=2, help="best of N for every reader")
    args = ap.parse_args()
    q = 4 if args.quick else 1
    plans = [  # name, runs, tags, steps
        ("A: 1 run x 20 tags", 1, 20, 10_000 // q),
        ("B: 20 runs x 10 tags", 20, 10, 1_000 // q),
    ]
    tmp = Path(tempfile.mkdtemp(prefix="tfevents-bench-"))
    print(f"import: tensorboard.compat.proto {import_seconds('tensorboard.compat.proto.event_pb2'):.3f} s,"
          f" tensorboardX.proto {import_seconds('tensorboardX.proto.event_pb2'):.3f} s, "
          f"our reader {import_seconds('mlmon_tui.sources.logs.tfevents'):.3f} s")  # fmt: skip
    has_ds = dataserver.binary() is not None
    if not has_ds:
        print("(tensorboard-data-server not installed: no data server column)")
    print(f"scalars per CPU second, best of {args.repeat}; ratios are ours / peer")
    print(f"{'corpus':32} {'scalars':>8} {'ours':>9} {'server':>9} {'EA':>8} {'tbparse':>8} "
          f"{'protobuf':>9} {'vs server':>9} {'vs EA':>6} {'vs tbp':>6} {'server MB':>9}")  # fmt: skip
    try:
        for name, runs, tags, steps in plans:
            for tensor in (False, True):
                form = "tensor" if tensor else "simple_value"
                root = tmp / "c"
                files, n = corpus(root, runs, tags, steps, tensor)
                got, t_ours = timed_cpu(ours, files, repeat=args.repeat)
                assert got == n, (got, n)
                rates = {"ours": n / t_ours}
                for label, fn, arg in (("tbparse", tbparse, root), ("EA", accumulator, files),
                                       ("protobuf", protobuf, files)):  # fmt: skip
                    got, t = timed_cpu(fn, arg, tensor, repeat=args.repeat)
                    assert got == n, (label, got, n)
                    rates[label] = n / t
                ds_mb = float("nan")
                rates["server"] = float("nan")
                if has_ds:
                    best = None
                    for _ in range(args.repeat):
                        r = dataserver.load(root, steps - 1, runs * tags)
                        assert r["points"] == n, r
                        best = r if best is None or r["cpu"] < best["cpu"] else best
                    rates["server"] = n / best["cpu"]
                    ds_mb = best["rss"] / 1e6
                r0 = rates["ours"]
                print(f"{name + ', ' + form:32} {n:8d} {r0:9.0f} {rates['server']:9.0f} "
                      f"{rates['EA']:8.0f} {rates['tbparse']:8.0f} {rates['protobuf']:9.0f} "
                      f"{r0 / rates['server']:8.2f}x {r0 / rates['EA']:5.1f}x "
                      f"{r0 / rates['tbparse']:5.1f}x {ds_mb:9.0f}", flush=True)  # fmt: skip
                shutil.rmtree(root)
        tailing(tmp, 3.0 if args.quick else 10.0, 20_000)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
