"""Training-step cost of `integrations.torch.watch` on a small CPU MLP, with peers.

Measured as CPU time of the training process per step (all its threads, the client's sender
included; the monitor runs in another process), which other load on the machine disturbs far
less than wall time. Variants, interleaved in rounds so noise hits all alike:
  plain            no monitoring
  watch every=10   our hooks, norms on every 10th pass
  watch every=1    our hooks, norms on every pass
  naive per-param  after backward, `p.grad.norm().item()` for each parameter (a common way)
  clip_grad_norm_  `torch.nn.utils.clip_grad_norm_(params, inf)` each step (global norm only)
Each monitored variant sends to a real socket server via the real client.

    PYTHONPATH=src python benchmarks/torch_watch.py [--quick]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

from mlmon_tui.client import Monitor  # noqa: E402
from mlmon_tui.integrations.torch import watch  # noqa: E402
from mlmon_tui.sources.socket.server import SocketServer  # noqa: E402


def serve(logdir, addr_q, stop, done) -> None:
    srv = SocketServer(logdir).start()
    addr_q.put(srv.address)
    stop.wait()
    time.sleep(0.3)
    srv.stop()
    done.put(srv.stats["messages"])


def make():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.ReLU(),
                                torch.nn.Linear(512, 512), torch.nn.ReLU(),
                                torch.nn.Linear(512, 512), torch.nn.ReLU(),
                                torch.nn.Linear(512, 10))
    return model, torch.optim.SGD(model.parameters(), lr=1e-3)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    quick = ap.parse_args().quick
    rounds, steps = (5, 40) if quick else (15, 100)
    torch.set_num_threads(1)
    x, y = torch.randn(64, 256), torch.randint(0, 10, (64,))
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        # the monitor runs in its own process, as it does in real use
        addr_q, stop, done = ctx.Queue(), ctx.Event(), ctx.Queue()
        server = ctx.Process(target=serve, args=(Path(tmp) / "logs", addr_q, stop, done))
        server.start()
        mon = Monitor(run="bench", address=addr_q.get(timeout=60), buffer=100_000)
        variants = {}
        for name in ("plain", "watch every=10", "watch every=1", "naive per-param",
                     "clip_grad_norm_"):
            model, opt = make()
            if name.startswith("watch"):
                watch(model, mon, every=int(name.split("=")[1]))
            variants[name] = (model, opt)

        def step(name, i):
            model, opt = variants[name]
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x), y).backward()
            if name == "naive per-param":
                mon.log(i, {f"grad_norm/{n}": p.grad.norm().item()
                            for n, p in model.named_parameters()})
            elif name == "clip_grad_norm_":
                mon.log(i, grad_norm=torch.nn.utils.clip_grad_norm_(model.parameters(),
                                                                    float("inf")).item())
            opt.step()

        times = {name: [] for name in variants}
        for name in variants:  # warm-up
            for i in range(10):
                step(name, i)
        for _ in range(rounds):
            for name in variants:
                mon.flush(5)  # the previous variant's messages are not billed to this one
                t0 = time.process_time()
                for i in range(steps):
                    step(name, i)
                mon.flush(5)  # ... but this one's sending is
                times[name].append((time.process_time() - t0) / steps * 1000)
        mon.flush(10)
        mon.close()
        stop.set()
        received = done.get(timeout=30)
        server.join(10)
    print(f"MLP 256-512-512-512-10, batch 64, CPU 1 thread, {rounds} rounds x {steps} steps; "
          f"messages received {received}")
    print("  overhead = median over rounds of (variant / plain in the same round) - 1")
    for name, ts in times.items():
        ratio = statistics.median(t / p for t, p in zip(ts, times["plain"]))
        print(f"  {name:16s} {statistics.median(ts):7.3f} CPU ms/step (min {min(ts):6.3f})  "
              f"{100 * (ratio - 1):+6.1f} % vs plain")


if __name__ == "__main__":
    main()
