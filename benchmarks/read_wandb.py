"""Reading W&B `.wandb` run files: our hand decoder against wandb's own protobuf classes.

wandb 0.31 has no Python reader of its run files any more (the old `datastore` moved into
the Go `wandb-core`), so the peer is what a Python user of the SDK would write: the plain
LevelDB-log scan wandb's datastore used, `wandb_internal_pb2.Record.FromString` (upb, in C)
per record, and `json.loads` per history value. Files come from `wandb_writer` (wandb's
layout, framing and item encoding; 5 metrics a row plus `_step`, `_timestamp`, `_runtime`).

Measured, in the same run:
  1. first read of a whole history: rows/s, ours and the peer's, and the ratio;
  2. tailing: after the first read, a poll that finds 100 new rows, on a 10k-row and a
     1M-row history (median of 20 polls); the ratio 1M/10k should be ~1. The peer has no
     incremental read: its cost per poll is a whole re-read, shown beside.

    PYTHONPATH=src python benchmarks/read_wandb.py [--quick]   (--quick: 200k instead of 1M)
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import struct
import tempfile
import time
import zlib
from pathlib import Path

from mlmon_tui.sources.logs.wandb import WandbSource
from mlmon_tui.sources.logs.wandb_writer import RunWriter

TAGS = ("loss", "acc", "lr", "grad_norm", "val/loss")


def row(i: int) -> dict:
    return {"loss": 1 / (i + 1), "acc": i * 1e-6, "lr": 3e-4 * math.cos(i * 1e-5),
            "grad_norm": 1.0 + (i % 7) * 0.1, "val": {"loss": 0.5 + (i % 13) * 0.01}}


def write(path: Path, rows: int) -> RunWriter:
    w = RunWriter(path, path.stem[4:], "bench", config={"lr": 3e-4}, sync=False)
    for i in range(rows):
        w.log(row(i), step=i, wall=1.7e9 + i)
    w.flush()
    return w


def peer_read(path: Path) -> int:
    """Every numeric history point, the way wandb's SDK classes would read them."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    i, frag, points = 7, b"", 0
    while i + 7 <= len(data):
        left = 32768 - i % 32768
        if left < 7:
            i += left
            continue
        crc, n, t = struct.unpack_from("<IHB", data, i)
        body = data[i + 7 : i + 7 + n]
        if len(body) < n or zlib.crc32(body, zlib.crc32(bytes([t]))) != crc:
            break
        i += 7 + n
        if t == 2 or t == 3:
            frag = body if t == 2 else frag + body
            continue
        rec = pb.Record.FromString(body if t == 1 else frag + body)
        if rec.HasField("history"):
            for it in rec.history.item:
                name = "/".join(it.nested_key) or it.key
                if name in ("_step", "_timestamp", "_runtime"):
                    continue
                v = json.loads(it.value_json)
                if type(v) in (int, float):
                    points += 1
    return points


def first_read(path: Path) -> tuple[float, int]:
    t = time.process_time()
    src = WandbSource(path, path.parent)
    up = src.poll()
    took = time.process_time() - t
    src.close()
    return took, sum(len(b) for b in up.scalars)


def tail_cost(rows: int, tmp: Path) -> tuple[float, float]:
    """(median CPU seconds of a poll finding 100 new rows, seconds of the first read)."""
    path = tmp / f"run-t{rows}.wandb"
    w = write(path, rows)
    src = WandbSource(path, tmp)
    t = time.process_time()
    src.poll()
    first = time.process_time() - t
    times = []
    for k in range(20):
        for i in range(rows + 100 * k, rows + 100 * (k + 1)):
            w.log(row(i), step=i, wall=1.7e9 + i)
        w.flush()
        t = time.process_time()
        up = src.poll()
        times.append(time.process_time() - t)
        assert sum(len(b) for b in up.scalars) == 100 * len(TAGS)
    w.close()
    src.close()
    return statistics.median(times), first


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    big = 200_000 if args.quick else 1_000_000
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        path = tmp / "run-first.wandb"
        write(path, 50_000).close()
        ours_s, n = first_read(path)
        t = time.process_time()
        peer_n = peer_read(path)
        peer_s = time.process_time() - t
        assert n == peer_n == 50_000 * len(TAGS), (n, peer_n)
        print(f"first read, 50k rows x {len(TAGS)} metrics ({path.stat().st_size / 1e6:.1f} MB)")
        print(f"  ours  {50_000 / ours_s:9.0f} rows/s  ({ours_s:.2f} s CPU)")
        print(f"  wandb protobuf classes (upb) {50_000 / peer_s:9.0f} rows/s  ({peer_s:.2f} s CPU)")
        print(f"  ours / peer speed: {peer_s / ours_s:.2f}x")
        small, first_small = tail_cost(10_000, tmp)
        large, first_large = tail_cost(big, tmp)
        print("poll finding 100 new rows (median of 20, CPU time), after a first read of the history")
        print(f"  10k-row history: {small * 1e3:.2f} ms   (first read {first_small:.1f} s CPU)")
        print(f"  {big // 1000}k-row history: {large * 1e3:.2f} ms   "
              f"(first read {first_large:.1f} s CPU)")
        print(f"  ratio {big // 1000}k / 10k: {large / small:.2f}")
        t = time.process_time()
        peer_read(tmp / "run-t10000.wandb")
        reread = time.process_time() - t
        est = reread * big / 10_000
        print(f"  peer (no incremental read): a re-read costs {reread:.2f} s CPU at 10k rows "
              f"({reread / small:.0f}x our poll), ~{est:.0f} s at {big // 1000}k "
              f"(~{est / large:.0f}x; scaled from the 10k re-read)")


if __name__ == "__main__":
    main()
