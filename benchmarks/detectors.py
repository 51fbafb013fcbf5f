"""Cost of the health analysis per new point, all detectors together, fed incrementally.

    PYTHONPATH=src python benchmarks/detectors.py [--quick] [--points N]

Feeds N points (default 1,000,000: 10 runs x train/loss, train/grad_norm, lr every step and
val/loss every 100 steps) into a Store in chunks of 100 points per series, running
`HealthMonitor.update` after each chunk. Peers measured in the same run:
  - store: `Store.apply` of the same chunks (the ingest the monitor rides on);
  - from scratch: a fresh monitor over the whole store after each chunk (what a
    non-incremental analysis pays), on a prefix of the data so it finishes.
Times are CPU seconds of this process (time.process_time), so other load on the machine does
not inflate them.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mlmon_tui.analysis.monitor import HealthMonitor
from mlmon_tui.sources.base import ScalarBatch, Update
from mlmon_tui.store import Store

CHUNK = 100
RUNS = 10


def make_updates(total: int, seed: int = 0) -> list[Update]:
    rng = np.random.default_rng(seed)
    per_run = total // (RUNS * 3.01)
    n = int(per_run)
    updates = []
    data = []
    for r in range(RUNS):
        t = np.arange(n)
        loss = (0.3 + 2.0 * (1 + t / 500) ** -0.7) * np.exp(0.05 * rng.standard_normal(n))
        loss[rng.integers(0, n, 5)] *= 6  # a few spikes
        if r == 3:
            loss[n // 2 :] = np.nan
        g = np.exp(0.2 * rng.standard_normal(n))
        lr = np.full(n, 3e-4)
        wall = 1.7e9 + np.cumsum(rng.lognormal(0, 0.2, n))
        data.append((f"run{r}", t.astype(np.int64), wall, loss, g, lr))
    for start in range(0, n, CHUNK):
        for run, t, wall, loss, g, lr in data:
            sl = slice(start, start + CHUNK)
            up = Update(scalars=[ScalarBatch(run, tag, t[sl], wall[sl], v[sl], source="e")
                                 for tag, v in (("train/loss", loss), ("train/grad_norm", g),
                                                ("lr", lr))])
            vi = t[sl][t[sl] % 100 == 99]
            if len(vi):
                up.scalars.append(ScalarBatch(run, "val/loss", vi, wall[vi], loss[vi] * 1.1,
                                              source="e"))
            updates.append(up)
    return updates


def points(up: Update) -> int:
    return sum(len(b) for b in up.scalars)


def bench_incremental(updates):
    store, mon = Store(), HealthMonitor()
    t_store = t_mon = 0.0
    for up in updates:
        t0 = time.process_time()
        changed = store.apply(up)
        t1 = time.process_time()
        mon.update(store, changed, now=float(up.scalars[0].wall[-1]))
        t_mon += time.process_time() - t1
        t_store += t1 - t0
    return t_store, t_mon, mon


def bench_from_scratch(updates):
    store = Store()
    t = 0.0
    for up in updates:
        store.apply(up)
        t0 = time.process_time()
        HealthMonitor().update(store, None, now=float(up.scalars[0].wall[-1]))
        t += time.process_time() - t0
    return t


def bench_live(runs: int = 10, history: int = 2000, updates: int = 300) -> float:
    """A live monitor: 10 runs x 10 tags (losses, accuracies, grad norm, lr, validation at
    every step: the worst case for the pair check), one new point per series per update,
    after `history` points. Returns CPU seconds per update."""
    rng = np.random.default_rng(1)
    tags = ["train/loss", "train/grad_norm", "lr", "train/acc", "val/loss", "val/acc",
            "aux_loss", "gpu_mem", "throughput", "epoch"]

    def batch(r, tag, s0, k):
        st = np.arange(s0, s0 + k)
        v = np.exp(0.05 * rng.standard_normal(k)) * (1 + 1 / (1 + st / 100))
        return ScalarBatch(f"run{r}", tag, st, 1.7e9 + st.astype(float), v, source="e")

    store, mon = Store(), HealthMonitor()
    first = Update(scalars=[batch(r, t, 0, history) for r in range(runs) for t in tags])
    mon.update(store, store.apply(first), now=1.7e9 + history)
    total = 0.0
    for i in range(updates):
        s = history + i
        ch = store.apply(Update(scalars=[batch(r, t, s, 1) for r in range(runs) for t in tags]))
        t0 = time.process_time()
        mon.update(store, ch, now=1.7e9 + s + 0.5)
        total += time.process_time() - t0
    return total / updates


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--quick", action="store_true", help="100k points, shorter peer")
    args = ap.parse_args()
    total = 100_000 if args.quick else args.points
    updates = make_updates(total)
    n = sum(points(u) for u in updates)
    t_store, t_mon, mon = bench_incremental(updates)
    print(f"points: {n:,} in {len(updates):,} updates of ~{n // len(updates)} points")
    print(f"health monitor (incremental): {t_mon:.2f} s = {t_mon / n * 1e6:.2f} us/point "
          f"({n / t_mon:,.0f} points/s); findings: {len(mon.findings)}")
    print(f"store.apply (peer):           {t_store:.2f} s = {t_store / n * 1e6:.2f} us/point")
    print(f"  ratio monitor / store.apply: {t_mon / t_store:.2f}")
    prefix = updates[: max(10, len(updates) // (50 if not args.quick else 10))]
    m = sum(points(u) for u in prefix)
    t_scratch = bench_from_scratch(prefix)
    _, t_inc_prefix, _ = bench_incremental(prefix)
    print(f"from scratch each update (peer), first {m:,} points: {t_scratch:.2f} s = "
          f"{t_scratch / m * 1e6:.1f} us/point; incremental on the same: "
          f"{t_inc_prefix / m * 1e6:.2f} us/point")
    print(f"  ratio from-scratch / incremental: {t_scratch / t_inc_prefix:.0f}x "
          f"(grows with the run's length)")
    per = bench_live(updates=100 if args.quick else 300)
    print(f"live: 100 series x 1 new point per update: {per * 1e3:.2f} ms per update "
          f"({per * 1e4:.0f} us per series); at one update a second that is "
          f"{per * 100:.2f} % of a core")


if __name__ == "__main__":
    main()
