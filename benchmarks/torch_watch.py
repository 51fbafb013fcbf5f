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
  acts every=10 @REV  the same with the integration and client as they were at git
                   revision REV (`--before REV`), loaded from `git show` as separate modules:
                   before and after measured in the same rounds
Each monitored variant sends to a real socket server via the real client. On a GPU
(`--device cuda`) time is wall time after a synchronize, as CPU time says little there.
Overhead is the median over rounds of (variant / plain in the same round) - 1; the spread
printed is the interquartile range of those per-round figures.

`--per-step N` profiles instead: N cycles of 10 steps, two unmonitored models ("plain",
"plain again"), acts every=10 (and @REV) interleaved cycle by cycle, each first in turn; for
each position in the cycle (the 10th logs) the median extra CPU time of the training thread
over the mean of the two plain ones, and the client's sender thread's CPU per cycle; the
second plain model's own figures show the noise. `--instances K` makes K models of each
variant and averages their figures (a model's memory placement shifts all its steps alike).

    PYTHONPATH=src python benchmarks/torch_watch.py [--quick] [--model mlp|cnn|both]
        [--rounds N] [--steps N] [--variants NAME ...] [--before REV] [--per-step N]
        [--instances K]
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import torch  # noqa: E402

from mlmon_tui.client import Monitor  # noqa: E402
from mlmon_tui.integrations.torch import watch  # noqa: E402
from mlmon_tui.sources.socket.server import SocketServer  # noqa: E402


@contextlib.contextmanager
def monitor_server():
    """A real socket server in a process of its own, as the monitor runs in real use: a dict
    with its "address" while it runs, and the "messages" it received once it has stopped."""
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory() as tmp:
        addr_q, stop, done = ctx.Queue(), ctx.Event(), ctx.Queue()
        server = ctx.Process(target=serve, args=(Path(tmp) / "logs", addr_q, stop, done))
        server.start()
        srv = {"address": addr_q.get(timeout=60)}
        try:
            yield srv
        finally:
            stop.set()
            srv["messages"] = done.get(timeout=30)
            server.join(10)


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


def load_before(rev: str):
    """`watch` and `Monitor` as they were at git revision `rev`: the client and the torch
    integration's modules from `git show`, imported under other module names."""
    root = Path(__file__).resolve().parents[1]
    mods = {}
    renames = {"mlmon_tui.client": "_before_client",
               "mlmon_tui.integrations.activation_numpy": "_before_activation_numpy",
               "mlmon_tui.integrations.torch_ratios": "_before_torch_ratios",
               "mlmon_tui.integrations.torch_activations": "_before_torch_activations"}
    for rel, name in (("client.py", "_before_client"),
                      ("integrations/activation_numpy.py", "_before_activation_numpy"),
                      ("integrations/torch_ratios.py", "_before_torch_ratios"),
                      ("integrations/torch_activations.py", "_before_torch_activations"),
                      ("integrations/torch.py", "_before_torch")):
        got = subprocess.run(["git", "-C", str(root), "show", f"{rev}:src/mlmon_tui/{rel}"],
                             capture_output=True, text=True)
        if got.returncode:  # a module that did not exist yet
            continue
        src = got.stdout
        for old, new in renames.items():
            src = src.replace(old + " ", new + " ").replace(old + "\n", new + "\n")
        spec = importlib.util.spec_from_loader(name, loader=None)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        exec(compile(src, f"{rev}:{rel}", "exec"), mod.__dict__)
        mods[name] = mod
    return mods["_before_torch"].watch, mods["_before_client"].Monitor


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--model", choices=("mlp", "cnn", "both"), default="both")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--steps", type=int)
    ap.add_argument("--variants", nargs="+", choices=VARIANTS, metavar="NAME",
                    help="measure only these (and plain): " + ", ".join(VARIANTS))
    ap.add_argument("--before", metavar="REV",
                    help="also measure acts every=10 with the code of git revision REV")
    ap.add_argument("--per-step", type=int, metavar="CYCLES",
                    help="profile each step of the every=10 cycle instead (CPU only)")
    ap.add_argument("--instances", type=int, default=1, metavar="K",
                    help="--per-step: K models of each variant, figures averaged over them "
                         "(each model carries the luck of its memory placement)")
    a = ap.parse_args()
    if a.before:  # a bad revision: one clear line before anything starts
        try:
            load_before(a.before)
        except subprocess.CalledProcessError as e:
            raise SystemExit(f"--before {a.before}: {e.stderr.strip().splitlines()[-1]}")
    names = [v for v in VARIANTS if a.variants is None or v == "plain" or v in a.variants]
    for key in (("mlp", "cnn") if a.model == "both" else (a.model,)):
        if a.per_step:
            per_step(key, a.per_step, a.before, max(1, a.instances))
        else:
            run(key, a.quick, torch.device(a.device), names, a.rounds, a.steps, a.before)


def per_step(key: str, cycles: int, before=None, instances: int = 1) -> None:
    title, make, shape = MODELS[key]
    torch.set_num_threads(1)
    x, y = torch.randn(*shape), torch.randint(0, 10, (shape[0],))
    with monitor_server() as srv:
        address = srv["address"]
        variants = {}
        names = ("plain", "plain again", "acts every=10") + (
            (f"acts every=10 @{before}",) if before else ())
        for k, name in ((k, n) for k in range(instances) for n in names):
            model = make()
            opt = torch.optim.SGD(model.parameters(), lr=1e-3)
            mon = None
            if "@" in name:
                old_watch, old_monitor = load_before(before)
                mon = old_monitor(run="bench-before", address=address, buffer=100_000)
                old_watch(model, mon, every=10, activations=True)
            elif not name.startswith("plain"):
                mon = Monitor(run="bench", address=address, buffer=100_000)
                watch(model, mon, every=10, activations=True)
            variants[name, k] = (model, opt, mon)

        def step(model, opt):
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

        for model, opt, mon in variants.values():  # warm-up, and the cycle starts at pass 1
            for _ in range(20):
                step(model, opt)
            if mon is not None:
                mon.flush(5)
        main = {n: [[] for _ in range(10)] for n in variants}
        sender = {n: [] for n in variants}
        order = list(variants.items())
        for c in range(cycles):  # each variant first in turn: no place in the order favoured
            for name, (model, opt, mon) in order[c % len(order):] + order[:c % len(order)]:
                clock = None
                if mon is not None:
                    cid = time.pthread_getcpuclockid(mon._thread.ident)
                    clock, s0 = (lambda: time.clock_gettime(cid)), time.clock_gettime(cid)
                for i in range(10):
                    t0 = time.thread_time()
                    step(model, opt)
                    main[name][i].append(time.thread_time() - t0)
                if mon is not None:
                    mon.flush(5)
                    sender[name].append(clock() - s0)
        for _, _, mon in variants.values():
            if mon is not None:
                mon.close()
    # per variant and position: the mean over its models of each model's median
    def med(name):
        return [statistics.mean(statistics.median(main[name, k][i]) for k in range(instances))
                * 1e6 for i in range(10)]

    # the baseline is the mean of two unmonitored models: one model alone carries the luck of
    # its memory placement (about +-1 % here); half their difference shows what is left
    base = [(a + b) / 2 for a, b in zip(med("plain"), med("plain again"))]
    many = f", {instances} models of each" if instances > 1 else ""
    print(f"{title}, CPU 1 thread, {cycles} cycles of 10 steps interleaved{many}; training "
          "thread CPU per step, median per position in the cycle (the 10th logs), in us")
    print(f"  {'plain (mean of two)':22s}" + "".join(f"{b:7.0f}" for b in base))
    print("  (\"plain again\" is the second unmonitored model: its figures show the noise)")
    for name in names[1:]:
        m = med(name)
        extra = sum(v - b for v, b in zip(m, base))
        snd = statistics.mean(statistics.median(sender[name, k]) if sender[name, k] else 0.0
                              for k in range(instances)) * 1e6
        print(f"  {name:22s}" + "".join(f"{v - b:+7.0f}" for v, b in zip(m, base)))
        print(f"  {'':22s}training thread {extra:+.0f} us a cycle, sender thread {snd:.0f} us: "
              f"{100 * (extra + snd) / sum(base):+.1f} % of plain's {sum(base) / 1000:.1f} ms")


def run(key: str, quick: bool, device, names=VARIANTS, rounds=None, steps=None,
        before=None) -> None:
    title, make, shape = MODELS[key]
    rounds = rounds or (5 if quick else 15)
    steps = steps or (40 if quick else 100)
    torch.set_num_threads(1)
    x, y = torch.randn(*shape, device=device), torch.randint(0, 10, (shape[0],), device=device)
    gpu = device.type == "cuda"
    clock = time.perf_counter if gpu else time.process_time
    with monitor_server() as srv:
        address = srv["address"]
        mon = Monitor(run="bench", address=address, buffer=100_000)
        monitors = [mon]
        variants, counter = {}, [0]
        if before:
            names = [*names, f"acts every=10 @{before}"]
        for name in names:
            model = make().to(device)
            opt = torch.optim.SGD(model.parameters(), lr=1e-3)
            if "@" in name:
                old_watch, old_monitor = load_before(before)
                monitors.append(old_monitor(run="bench-before", address=address, buffer=100_000))
                old_watch(model, monitors[-1], every=10, activations=True)
            elif name.startswith(("watch", "acts")):
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
                for m in monitors:  # the previous variant's messages are not billed to this one
                    m.flush(5)
                if gpu:
                    torch.cuda.synchronize()
                t0 = clock()
                for i in range(steps):
                    step(name, i)
                if gpu:
                    torch.cuda.synchronize()
                for m in monitors:  # ... but this one's sending is
                    m.flush(5)
                times[name].append((clock() - t0) / steps * 1000)
        for m in monitors:
            m.flush(10)
            m.close()
    received = srv["messages"]
    where = torch.cuda.get_device_name(device) if gpu else "CPU 1 thread"
    unit = "wall ms/step" if gpu else "CPU ms/step"
    print(f"{title}, {where}, {rounds} rounds x {steps} steps; messages received {received}")
    print("  overhead = median over rounds of (variant / plain in the same round) - 1 "
          "[interquartile range over rounds]")
    for name, ts in times.items():
        ratios = [100 * (t / p - 1) for t, p in zip(ts, times["plain"])]
        q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
        print(f"  {name:22s} {statistics.median(ts):7.3f} {unit} (min {min(ts):6.3f})  "
              f"{statistics.median(ratios):+6.1f} % vs plain [{q1:+.1f} .. {q3:+.1f}]")


if __name__ == "__main__":
    main()
