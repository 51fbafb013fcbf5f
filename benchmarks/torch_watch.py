"""Training-step cost of `integrations.torch.watch` on a small MLP and a small CNN, with peers.

Measured as CPU time of the training process per step (all its threads, the client's sender
included; the monitor runs in another process), which other load on the machine disturbs far
less than wall time. Variants, interleaved in rounds so noise hits all alike:
  plain            no monitoring
  watch every=10   our hooks, norms on every 10th pass
  watch every=1    our hooks, norms on every pass
  naive per-param  after backward, `p.grad.norm().item()` for each parameter (a common way)
  clip_grad_norm_  `torch.nn.utils.clip_grad_norm_(params, inf)` each step (global norm only)
  acts every=10    watch(activations=True, every=10): activation statistics, histograms and
                   update ratios of every leaf module on every 10th step
  acts every=1     the same on every step
  naive act hooks  forward hooks taking mean/std/zero fraction with `.item()` on every step
Each monitored variant sends to a real socket server via the real client. On a GPU
(`--device cuda`) time is wall time after a synchronize, as CPU time says little there.

    PYTHONPATH=src python benchmarks/torch_watch.py [--quick] [--model mlp|cnn|both]
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


def make_mlp():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.ReLU(),
                               torch.nn.Linear(512, 512), torch.nn.ReLU(),
                               torch.nn.Linear(512, 512), torch.nn.ReLU(),
                               torch.nn.Linear(512, 10))


def make_cnn():
    torch.manual_seed(0)
    nn = torch.nn
    return nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(32 * 8 * 8, 64), nn.Tanh(), nn.Linear(64, 10))


MODELS = {
    "mlp": ("MLP 256-512-512-512-10, batch 64", make_mlp, (64, 256)),
    "cnn": ("CNN 2 conv + 2 linear on 3x32x32, batch 32", make_cnn, (32, 3, 32, 32)),
}
VARIANTS = ("plain", "watch every=10", "watch every=1", "naive per-param", "clip_grad_norm_",
            "acts every=10", "acts every=1", "naive act hooks")


def naive_act_hooks(model, mon, counter):
    for name, m in model.named_modules():
        if name and not any(True for _ in m.children()):
            def hook(_m, _i, out, name=name):
                mon.log(counter[0], {f"act/{name}/mean": out.mean().item(),
                                     f"act/{name}/std": out.std().item(),
                                     f"act/{name}/zero_frac": (out == 0).float().mean().item()})
            m.register_forward_hook(hook)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--model", choices=("mlp", "cnn", "both"), default="both")
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    for key in (("mlp", "cnn") if a.model == "both" else (a.model,)):
        run(key, a.quick, torch.device(a.device))


def run(key: str, quick: bool, device) -> None:
    title, make, shape = MODELS[key]
    rounds, steps = (5, 40) if quick else (15, 100)
    torch.set_num_threads(1)
    x, y = torch.randn(*shape, device=device), torch.randint(0, 10, (shape[0],), device=device)
    gpu = device.type == "cuda"
    clock = time.perf_counter if gpu else time.process_time
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        # the monitor runs in its own process, as it does in real use
        addr_q, stop, done = ctx.Queue(), ctx.Event(), ctx.Queue()
        server = ctx.Process(target=serve, args=(Path(tmp) / "logs", addr_q, stop, done))
        server.start()
        mon = Monitor(run="bench", address=addr_q.get(timeout=60), buffer=100_000)
        variants, counter = {}, [0]
        for name in VARIANTS:
            model = make().to(device)
            opt = torch.optim.SGD(model.parameters(), lr=1e-3)
            if name.startswith(("watch", "acts")):
                watch(model, mon, every=int(name.split("=")[1]),
                      activations=name.startswith("acts"))
            elif name == "naive act hooks":
                naive_act_hooks(model, mon, counter)
            variants[name] = (model, opt)

        def step(name, i):
            counter[0] = i
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
                if gpu:
                    torch.cuda.synchronize()
                t0 = clock()
                for i in range(steps):
                    step(name, i)
                if gpu:
                    torch.cuda.synchronize()
                mon.flush(5)  # ... but this one's sending is
                times[name].append((clock() - t0) / steps * 1000)
        mon.flush(10)
        mon.close()
        stop.set()
        received = done.get(timeout=30)
        server.join(10)
    where = torch.cuda.get_device_name(device) if gpu else "CPU 1 thread"
    unit = "wall ms/step" if gpu else "CPU ms/step"
    print(f"{title}, {where}, {rounds} rounds x {steps} steps; messages received {received}")
    print("  overhead = median over rounds of (variant / plain in the same round) - 1")
    for name, ts in times.items():
        ratio = statistics.median(t / p for t, p in zip(ts, times["plain"]))
        print(f"  {name:16s} {statistics.median(ts):7.3f} {unit} (min {min(ts):6.3f})  "
              f"{100 * (ratio - 1):+6.1f} % vs plain")


if __name__ == "__main__":
    main()
