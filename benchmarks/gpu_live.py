"""On a machine with an NVIDIA GPU: a real training process (PyTorch on the GPU, writing
TensorBoard events) watched by the real monitor, live, for a few seconds. Prints what the
gauges show (GPU utilisation, memory, power, the run's process and its GPU memory) and
writes an SVG of the screen.

    PYTHONPATH=src python benchmarks/gpu_live.py --seconds 8 --svg gpu.svg
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "src"))

TRAINER = textwrap.dedent("""
    import sys, time, torch
    from mlmon_tui.sources.logs.tfevents import EventWriter
    w = EventWriter(sys.argv[1] + "/events.out.tfevents.gpu")
    model = torch.nn.Sequential(torch.nn.Linear(4096, 4096), torch.nn.ReLU(),
                                torch.nn.Linear(4096, 4096)).cuda()
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    x = torch.randn(8192, 4096, device="cuda")
    step = 0
    end = time.time() + float(sys.argv[2])
    while time.time() < end:
        loss = model(x).pow(2).mean()
        opt.zero_grad(); loss.backward(); opt.step()
        if step % 10 == 0:
            torch.cuda.synchronize()
            w.add_scalar("train/loss", float(loss), step); w.flush()
        step += 1
    w.close()
""")


async def watch(root: Path, seconds: float, svg: str | None) -> None:
    from mlmon_tui.app.app import MonitorApp
    from mlmon_tui.panels.gauges import GaugesPanel

    app = MonitorApp([str(root)], listen=None)
    async with app.run_test(size=(160, 48)) as pilot:
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            await pilot.pause(0.5)
        app._update_gauges()
        await pilot.pause()
        panel = app._main.query_one(GaugesPanel)
        print("\n".join(panel.plain_lines()))
        snap = app.services.sampler.latest if app.services.sampler else None
        if snap is not None:
            print("gpu_status:", repr(snap.gpu_status))
            for g in snap.gpus:
                print("gpu:", g)
            for run, procs in snap.runs.items():
                for p in procs:
                    print("run", run, "->", p)
        print("runs:", app.store.runs(), "findings:", [f.line() for f in app.services.findings])
        if svg:
            Path(svg).write_text(app.export_screenshot(title="mlmon-tui on a GPU"))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--svg", default=None)
    a = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mlmon-gpu-"))
    run = root / "gpu-run"
    run.mkdir()
    src = os.path.join(os.path.dirname(__file__), "..", "src")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (src, os.environ.get("PYTHONPATH", "")) if p))
    trainer = subprocess.Popen([sys.executable, "-c", TRAINER, str(run), str(a.seconds + 15)],
                               env=env)
    try:
        time.sleep(6)  # CUDA start-up
        asyncio.run(watch(root, a.seconds, a.svg))
    finally:
        trainer.terminate()
        trainer.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
