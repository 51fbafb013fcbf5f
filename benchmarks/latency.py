"""Write-to-screen latency: a writer appends one TensorBoard event at a time (at irregular
moments) and this script times how long until the new step number is on the screen: the
monitor runs in a tmux pane (160x48) and the screen is read with `capture-pane` every few
milliseconds (a step that changes one digit is sent as that one cell, so the terminal's
bytes alone cannot tell). With inotify (default) and with `--poll`, in the same run.

    PYTHONPATH=src python benchmarks/latency.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import random
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from tmux_util import new_session  # noqa: E402

from mlmon_tui.sources.logs.tfevents import EventWriter  # noqa: E402

SESSION = "mlmon-latency"


def screen() -> str:
    return subprocess.run(["tmux", "capture-pane", "-p", "-t", SESSION],
                          capture_output=True, text=True).stdout


def measure(extra: list[str], n: int) -> list[float]:
    root = Path(tempfile.mkdtemp(prefix="mlmon-latency-"))
    (root / "run").mkdir()
    w = EventWriter(root / "run" / "events.out.tfevents.latency")
    for s in range(100):
        w.add_scalar("train/loss", 1.0 / (s + 1), s)
    w.flush()
    src = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "src"))
    cmd = shlex.join([sys.executable, "-m", "mlmon_tui", str(root), "--no-listen", "--no-gpu",
                      *extra])
    new_session(SESSION, 160, 48, cmd, env=dict(os.environ, PYTHONPATH=src))
    lat = []
    try:
        end = time.monotonic() + 20
        while " 99 " not in screen() and time.monotonic() < end:  # the first frame
            time.sleep(0.1)
        time.sleep(1.0)
        rng = random.Random(0)
        for k in range(n):
            step = 700_000 + k * 1111  # a number that appears nowhere else (shown as 700k..)
            time.sleep(rng.uniform(0.3, 1.7))
            shown = f" {step / 1e3:.0f}k"  # right-aligned in the runs list
            w.add_scalar("train/loss", 0.5, step)
            w.flush()
            t0 = time.monotonic()
            while time.monotonic() - t0 < 5:
                if shown in screen():
                    lat.append(time.monotonic() - t0)
                    break
                time.sleep(0.003)
            else:
                lat.append(float("inf"))
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
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
    if shutil.which("tmux") is None:
        print("tmux is not installed: the screen cannot be read, nothing measured")
        return 1
    print(f"{n} events, one at a time, irregular gaps of 0.3-1.7 s; time until the step is on screen")
    for name, extra in (("inotify", []), ("--poll", ["--poll"])):
        lat = measure(extra, n)
        print(f"  {name:8s} median {1000 * pct(lat, 0.5):6.0f} ms   p95 {1000 * pct(lat, 0.95):6.0f} ms"
              f"   max {1000 * max(lat):6.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
