"""Terminal bytes/s and CPU of the gauges panel, measured on a real pseudo-terminal.

A tiny app shows the gauges at 160x48, fed by the real sampler at 1 Hz (host figures from
psutil, eight GPUs replayed from the recorded eight-GPU answers at the pynvml function
boundary with utilisation, power and temperature wandering each second as on a busy box,
three tracked processes, a full minute of history). The app runs as a child on a pty; this script is the
terminal and counts every byte the app writes; CPU time comes from psutil. Compared in the
same run:
  ours   - `GaugesPanel` (default): each row redrawn only when it changed, and only up to
           the cells that changed (with `mlmon_tui.app.spans` installed, as the monitor
           does: partial updates start at the dirty span, not the widget's left edge);
  cells  - `GaugesPanel(cell_width=16)`: rows cut into 16-column child widgets, so a change
           resends only its cell (fewer bytes; more CPU, as every frame re-renders all
           the cells in the changed area);
  naive  - the same lines in a `Static`, `update()`d with the whole text each second;
  hidden - `GaugesPanel` hidden (`display = False`, as the app's `g` key does).

    PYTHONPATH=src python benchmarks/gauges_bytes.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ptyterm import spawn, stop  # noqa: E402

COLS, ROWS = 160, 48
HERE = Path(__file__).resolve().parent


def child_main(mode: str) -> None:
    sys.path.insert(0, str(HERE.parent / "tests"))
    import pytest
    from nvml_fake import FakeNvml
    from rich.text import Text
    from textual.app import App
    from textual.widgets import Static

    from mlmon_tui.panels.gauge_lines import build_lines
    from mlmon_tui.app import spans
    from mlmon_tui.panels.gauges import GaugesPanel
    from mlmon_tui.sources.system.procs import ProcessTracker
    from mlmon_tui.sources.system.sampler import Sampler

    import random

    import pynvml

    mp = pytest.MonkeyPatch()
    FakeNvml("eight_gpu").install(mp)
    # live GPUs move: utilisation, power and temperature wander around the recorded values
    rng = random.Random(0)
    util0, power0, temp0 = (pynvml.nvmlDeviceGetUtilizationRates, pynvml.nvmlDeviceGetPowerUsage,
                            pynvml.nvmlDeviceGetTemperature)

    def util(h):
        u = util0(h)
        return pynvml.c_nvmlUtilization_t(gpu=max(0, min(100, u.gpu + rng.randint(-15, 0))),
                                          memory=u.memory)

    mp.setattr(pynvml, "nvmlDeviceGetUtilizationRates", util)
    mp.setattr(pynvml, "nvmlDeviceGetPowerUsage", lambda h: power0(h) - rng.randint(0, 60000))
    mp.setattr(pynvml, "nvmlDeviceGetTemperature", lambda h, s: temp0(h, s) + rng.randint(0, 2))
    tmp = Path(tempfile.mkdtemp())
    writers = []
    for i in range(3):
        (tmp / f"run{i}").mkdir()
        log = tmp / f"run{i}" / "log.csv"
        writers.append(subprocess.Popen(["sh", "-c", f'exec 3>>"{log}"; exec sleep 600']))
    runs = {f"run{i}": [str(tmp / f"run{i}")] for i in range(3)}
    sampler = Sampler(interval=1.0, tracker=ProcessTracker(lambda: runs))
    for _ in range(60):  # a full history, as after the first minute
        sampler.sample_now()
        time.sleep(0.01)

    class Naive(Static):
        seq = None

        def show(self, snap) -> None:
            if snap is None or snap.seq == self.seq:
                return
            self.seq = snap.seq
            lines = build_lines(snap, self.size.width or COLS, compact=False)
            self.update(Text("\n").join(lines))

    class Bench(App):
        def compose(self):
            yield Naive() if mode == "naive" else GaugesPanel(cell_width=16 if mode == "cells" else 0)

        def on_mount(self) -> None:
            spans.install()
            sampler.start()
            if mode == "hidden":
                self.query_one(GaugesPanel).display = False
            self.set_interval(0.5, self.poll)

        def poll(self) -> None:
            if mode == "hidden":
                return  # a hidden panel is not fed
            w = self.query_one(Naive if mode == "naive" else GaugesPanel)  # type: ignore[arg-type]
            (w.show if mode == "naive" else w.update_snapshot)(sampler.latest)

    try:
        Bench().run()
    finally:
        sampler.stop()
        for w in writers:
            w.kill()
            w.wait()


def measure(mode: str, warm: float, steady: float) -> dict:
    import psutil

    pid, fd = spawn([sys.executable, __file__, "--child", mode], COLS, ROWS)
    proc = psutil.Process(pid)
    counts: list[tuple[float, int]] = []
    t0 = time.monotonic()
    w, s = t0 + warm, t0 + warm + steady
    cpu_w = None
    while True:
        now = time.monotonic()
        if cpu_w is None and now >= w:
            ct = proc.cpu_times()
            cpu_w = (now, ct.user + ct.system + ct.children_user + ct.children_system)
        if now >= s:
            ct = proc.cpu_times()
            cpu_s = (now, ct.user + ct.system + ct.children_user + ct.children_system)
            break
        if select.select([fd], [], [], 0.05)[0]:
            try:
                data = os.read(fd, 65536)
            except OSError:
                break
            counts.append((time.monotonic(), len(data)))
            if os.environ.get("GAUGES_BYTES_DUMP") and w + 1 <= counts[-1][0] < w + 3:
                with open(os.environ["GAUGES_BYTES_DUMP"] + "." + mode, "ab") as f:
                    f.write(data)
    stop(pid, fd, b"\x11")  # ctrl+q
    return {
        "first_paint": sum(n for t, n in counts if t < w),
        "steady_Bps": sum(n for t, n in counts if w <= t < s) / (s - w),
        "cpu": (cpu_s[1] - cpu_w[1]) / (cpu_s[0] - cpu_w[0]),
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2])
        return
    ap = argparse.ArgumentParser(description="terminal bytes and CPU of the gauges panel")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    warm, steady = (4, 8) if args.quick else (5, 30)
    print(f"gauges at {COLS}x{ROWS}: host + 8 GPUs + 3 tracked processes, sampled at 1 Hz; "
          f"steady {steady}s")
    res = {m: measure(m, warm, steady) for m in ("ours", "cells", "naive", "hidden")}
    for m, r in res.items():
        print(f"  {m:6s}: {r['steady_Bps'] / 1024:6.2f} KB/s  cpu {100 * r['cpu']:5.2f}% "
              f"(app + sampler thread)  first paint {r['first_paint'] / 1024:.1f} KB")
    o, n = res["ours"], res["naive"]
    print(f"  ratio naive/ours: bytes {n['steady_Bps'] / max(o['steady_Bps'], 1):.1f}x, "
          f"cpu {n['cpu'] / max(o['cpu'], 1e-6):.1f}x")


if __name__ == "__main__":
    main()
