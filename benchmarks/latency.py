"""Write-to-screen latency: a writer appends one TensorBoard event at a time (at irregular
moments) and this script, acting as the terminal, times how long until the new step number
is on the screen. With inotify (default) and with `--poll`, in the same run.

    PYTHONPATH=src python benchmarks/latency.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import random
import select
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ptyterm import spawn, stop  # noqa: E402

from mlmon_tui.sources.logs.tfevents import EventWriter  # noqa: E402


def drain(fd: int, seconds: float) -> bytes:
    out, end = bytearray(), time.monotonic() + seconds
    while time.monotonic() < end:
        if select.select([fd], [], [], 0.02)[0]:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    return bytes(out)


def measure(extra: list[str], n: int) -> list[float]:
    root = Path(tempfile.mkdtemp(prefix="mlmon-latency-"))
    (root / "run").mkdir()
    w = EventWriter(root / "run" / "events.out.tfevents.latency")
    for s in range(100):
        w.add_scalar("train/loss", 1.0 / (s + 1), s)
    w.flush()
    src = os.path.join(os.path.dirname(__file__), "..", "src")
    pid, fd = spawn([sys.executable, "-m", "mlmon_tui", str(root), "--no-listen", "--no-gpu",
                     *extra], env={"PYTHONPATH": src})
    lat = []
    try:
        drain(fd, 6.0)  # start-up and first frame
        rng = random.Random(0)
        for k in range(n):
            step = 700_000 + k * 1111  # a number that appears nowhere else (shown as 700k..)
            drain(fd, rng.uniform(0.3, 1.7))
            w.add_scalar("train/loss", 0.5, step)
            w.flush()
            t0 = time.monotonic()
            shown = f"{step}" if step < 100_000 else f"{step / 1e3:.0f}k"
            buf = b""
            while time.monotonic() - t0 < 5:
                if select.select([fd], [], [], 0.01)[0]:
                    buf += os.read(fd, 65536)
                    if shown.encode() in buf:
                        lat.append(time.monotonic() - t0)
                        break
            else:
                lat.append(float("inf"))
    finally:
        stop(pid, fd)
        w.close()
        shutil.rmtree(root, ignore_errors=True)
    return lat


def pct(v: list[float], q: float) -> float:
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))]


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    n = 10 if ap.parse_args().quick else 30
    print(f"{n} events, one at a time, irregular gaps of 0.3-1.7 s; time until the step is on screen")
    for name, extra in (("inotify", []), ("--poll", ["--poll"])):
        lat = measure(extra, n)
        print(f"  {name:8s} median {1000 * pct(lat, 0.5):6.0f} ms   p95 {1000 * pct(lat, 0.95):6.0f} ms"
              f"   max {1000 * max(lat):6.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
