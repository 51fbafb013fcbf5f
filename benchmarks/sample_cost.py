"""What the gauges cost: one full sample, the sampling thread's CPU share, the writer scan.

    PYTHONPATH=src python benchmarks/sample_cost.py [--quick] [--procs 500]

1. One full sample: host (psutil) + 8 GPUs (the recorded eight-GPU answers replayed at the
   pynvml function boundary, so the NVML figure is Python overhead, not driver time) + 10
   tracked processes holding log files open. Peer: a naive sample that walks every process
   with psutil (`process_iter` with cpu and memory), as a top-like tool does.
2. CPU share of the sampling thread at 1 Hz over ~10 s (process CPU time / wall time).
3. The attribution scan (who holds a run's log open for writing) with N extra sleeping
   processes on the machine. Peer: the same question asked through psutil's
   `Process.open_files()` for every process.
4. The parent map used to find each run's workers, against psutil's ways of asking.
Spawned processes are bounded, in their own group, and always killed.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE.parent / "tests"))

import psutil  # noqa: E402
import pytest  # noqa: E402  (MonkeyPatch, to replay recorded NVML answers)
from nvml_fake import FakeNvml  # noqa: E402

from mlmon_tui.sources.system.procs import ProcessTracker, ppid_map, scan_writers  # noqa: E402
from mlmon_tui.sources.system.sampler import Sampler  # noqa: E402

MAX_SPAWN = 2000


def spawn_writers(root: Path, n: int) -> tuple[list[subprocess.Popen], dict[str, list[str]]]:
    procs, runs = [], {}
    for i in range(n):
        run = root / f"run{i}"
        run.mkdir(parents=True, exist_ok=True)
        log = run / "metrics.csv"
        # a process that holds its log open for appending, like a training script
        procs.append(subprocess.Popen(["sh", "-c", f'exec 3>>"{log}"; exec sleep 600']))
        runs[f"run{i}"] = [str(run)]
    return procs, runs


def spawn_sleepers(n: int) -> list[subprocess.Popen]:
    n = min(n, MAX_SPAWN)
    return [subprocess.Popen(["sleep", "600"], stdin=subprocess.DEVNULL) for _ in range(n)]


def kill_all(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        try:
            p.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
    for p in procs:
        p.wait()


def median_time(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def naive_top_sample() -> int:
    n = 0
    psutil.cpu_percent(percpu=True)
    psutil.virtual_memory()
    for p in psutil.process_iter(["cpu_percent", "memory_info", "name"]):
        n += 1
    return n


def psutil_open_files_scan(run_files: dict[str, list[str]]) -> dict[str, set[int]]:
    roots = {os.path.realpath(p[0]) + os.sep: run for run, p in run_files.items()}
    found: dict[str, set[int]] = {}
    for p in psutil.process_iter():
        try:
            files = p.open_files()
        except (psutil.Error, OSError):
            continue
        for f in files:
            if "w" in f.mode or "a" in f.mode or "+" in f.mode:
                for root, run in roots.items():
                    if f.path.startswith(root):
                        found.setdefault(run, set()).add(p.pid)
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description="cost of the gauges' sampling")
    ap.add_argument("--quick", action="store_true", help="shorter runs (about 15 s in all)")
    ap.add_argument("--procs", type=int, default=500, help="extra processes for the scan test")
    args = ap.parse_args()
    repeat = 20 if args.quick else 100
    cpu_window = 3.0 if args.quick else 10.0
    mp = pytest.MonkeyPatch()
    spawned: list[subprocess.Popen] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            FakeNvml("eight_gpu").install(mp)
            writers, runs = spawn_writers(Path(tmp), 10)
            spawned += writers
            time.sleep(0.3)
            tracker = ProcessTracker(lambda: runs)
            sampler = Sampler(gpu=True, tracker=tracker)
            sampler.sample_now()  # the first sample goes out before NVML starts
            snap = sampler.sample_now()
            assert len(snap.gpus) == 8, snap.gpu_status
            n_tracked = sum(len(v) for v in snap.runs.values())
            full = median_time(sampler.sample_now, repeat)
            n_all = naive_top_sample()
            naive = median_time(naive_top_sample, max(5, repeat // 5))
            print(f"machine: {psutil.cpu_count()} cores, {len(psutil.pids())} processes")
            print(f"1. one full sample (host + 8 GPUs + {n_tracked} tracked processes): "
                  f"{full * 1e3:.2f} ms median of {repeat}")
            print(f"   peer, naive top-like sample of all {n_all} processes: {naive * 1e3:.2f} ms"
                  f"  -> ours is {naive / full:.1f}x cheaper")
            print(f"   writer scan inside it, every {tracker.rescan_interval:.0f} s: "
                  f"{tracker.scan_seconds * 1e3:.1f} ms")

            s = Sampler(interval=1.0, gpu=True, tracker=ProcessTracker(lambda: runs))
            c0 = time.process_time()
            s.start()
            while s.version < 1:  # start-up: NVML init, the first writer scan, the first tick
                time.sleep(0.01)
            c1, w1 = time.process_time(), time.perf_counter()
            time.sleep(cpu_window)
            n = s.version
            s.stop()
            cpu, wall = time.process_time() - c1, time.perf_counter() - w1
            print(f"2. sampling thread at 1 Hz, steady, over {wall:.1f} s: {n - 1} samples, "
                  f"{cpu / wall * 100:.3f} % of one core (budget for the whole app: 2 %); "
                  f"start-up {(c1 - c0) * 1e3:.0f} ms CPU")

            spawned += spawn_sleepers(args.procs)
            time.sleep(0.5)
            total = len(psutil.pids())
            ours = median_time(lambda: scan_writers(runs, exclude=[os.getpid()]), 5)
            peer = median_time(lambda: psutil_open_files_scan(runs), 3)
            got, want = scan_writers(runs, exclude=[os.getpid()]), psutil_open_files_scan(runs)
            assert got == want, (got, want)
            print(f"3. writer scan with {total} processes on the machine: {ours * 1e3:.1f} ms; "
                  f"peer psutil open_files() over all: {peer * 1e3:.1f} ms "
                  f"-> {peer / ours:.1f}x; same answer: {got == want}")
            print(f"   at one scan per {tracker.rescan_interval:.0f} s: "
                  f"{ours / tracker.rescan_interval * 100:.3f} % of one core")
            own = median_time(ppid_map, 5)
            lib = median_time(lambda: {p.pid: p.info["ppid"] for p in psutil.process_iter(["ppid"])}, 5)
            per_root = median_time(lambda: psutil.Process(writers[0].pid).children(recursive=True), 5)
            print(f"4. parent map for the process tree ({total} processes): one /proc pass "
                  f"{own * 1e3:.1f} ms; peers: psutil process_iter(['ppid']) {lib * 1e3:.1f} ms "
                  f"({lib / own:.1f}x), psutil children(recursive=True) {per_root * 1e3:.1f} ms "
                  f"per run's process ({per_root * 10 / own:.0f}x for 10 runs)")
    finally:
        kill_all(spawned)
        mp.undo()
    return 0


if __name__ == "__main__":
    sys.exit(main())
