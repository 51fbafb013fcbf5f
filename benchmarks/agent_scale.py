"""The Prometheus agent at scale: 200 runs x 50 tags (100 points each) on disk.

Measures, for `mlmon-tui agent` (a subprocess, watching the tree, gauges on, no GPU):
  - time to first full /metrics, its RSS and CPU share while Prometheus-like scrapes arrive
    every second;
  - /metrics scrape time (median and worst of N), target < 100 ms;
  - the same while 20 runs get one new step a second (all 50 tags);
  - behaviour at the series cap: the default cap (10,000) is exceeded by this tree (10,000
    scalars plus per-run series), and a run with --max-series 1000: series served, dropped
    count, scrape time, RSS.
Peer, measured in the same run: prometheus_client's own `Gauge` with (run, tag) labels holding
the same 10,000 values, served by the same prometheus_client HTTP server (what an exporter
written the obvious way serves). The ratio is our scrape time / the peer's.

    PYTHONPATH=src python benchmarks/agent_scale.py [--runs 200 --tags 50 --scrapes 20]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

from mlmon_tui.sources.logs.tb_writer import EventWriter


def write_tree(root: Path, runs: int, tags: int, points: int) -> None:
    now = time.time()
    for r in range(runs):
        d = root / f"run-{r:03d}"
        d.mkdir(parents=True)
        with EventWriter(d / "events.out.tfevents.bench") as w:
            for s in range(points):
                for t in range(tags):
                    w.add_scalar(f"group{t % 5}/metric{t:02d}", 1.0 / (s + 1 + t), s,
                                 now - points + s)


class LiveWriter:
    """Appends one step a second to every tag of the first `runs` runs (a thread here)."""

    def __init__(self, root: Path, runs: int, tags: int, first_step: int) -> None:
        import threading

        self.root, self.runs, self.tags, self.step = root, runs, tags, first_step
        self.stop_ev = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        ws = [EventWriter(self.root / f"run-{r:03d}" / "events.out.tfevents.bench")
              for r in range(self.runs)]
        while not self.stop_ev.wait(1.0):
            for w in ws:
                for t in range(self.tags):
                    w.add_scalar(f"group{t % 5}/metric{t:02d}", 1.0 / (self.step + 1 + t),
                                 self.step)
                w.flush()
            self.step += 1
        for w in ws:
            w.close()

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_ev.set()
        self.thread.join()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(url: str) -> tuple[float, bytes]:
    t0 = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as r:
        body = r.read()
    return time.perf_counter() - t0, body


def series_count(body: bytes) -> int:
    return sum(1 for line in body.splitlines() if line and not line.startswith(b"#"))


def dropped(body: bytes) -> float:
    for line in body.splitlines():
        if line.startswith(b"mlmon_dropped_series_total "):
            return float(line.split()[1])
    return float("nan")


def max_step(body: bytes) -> float:
    return max((float(line.split()[-1]) for line in body.splitlines()
                if line.startswith(b"mlmon_step{")), default=float("nan"))


def measure_agent(tree: Path, runs: int, want: int, scrapes: int, extra: list[str],
                  live: tuple[int, int, int] | None = None) -> dict:
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1] / "src"))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "mlmon_tui", "agent", str(tree),
                             "--metrics-port", str(port), "--no-gpu", "--interval", "1", *extra],
                            env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        body, last = b"", -1
        while time.perf_counter() - t0 < 300:  # loaded: every run there, the count steady
            try:
                _, body = scrape(url)
                n = series_count(body)
                if n >= want and body.count(b"mlmon_run_state{") == runs and n == last:
                    break
                last = n
            except OSError:
                pass
            time.sleep(0.5)
        ready = time.perf_counter() - t0
        p = psutil.Process(proc.pid)
        writer = LiveWriter(tree, *live) if live else None
        if writer:
            writer.__enter__()
        p.cpu_percent(None)
        times = []
        w0 = time.perf_counter()
        try:
            for _ in range(scrapes):  # one scrape a second, as Prometheus at 1s
                dt, body = scrape(url)
                times.append(dt)
                time.sleep(max(0.0, 1.0 - dt))
        finally:
            if writer:
                writer.__exit__()
        cpu = p.cpu_percent(None)
        wall = time.perf_counter() - w0
        return dict(ready=ready, rss=p.memory_info().rss, cpu=cpu, wall=wall,
                    median=statistics.median(times), worst=max(times),
                    series=series_count(body), dropped=dropped(body), size=len(body),
                    last_step=max_step(body))
    finally:
        proc.terminate()
        proc.wait(10)


def measure_peer(runs: int, tags: int, scrapes: int) -> dict:
    from prometheus_client import CollectorRegistry, Gauge, start_http_server

    reg = CollectorRegistry()
    g = Gauge("peer_scalar", "last value", ["run", "tag"], registry=reg)
    for r in range(runs):
        for t in range(tags):
            g.labels(f"run-{r:03d}", f"group{t % 5}/metric{t:02d}").set(1.0 / (100 + t))
    port = free_port()
    server, _ = start_http_server(port, "127.0.0.1", registry=reg)
    try:
        times = [scrape(f"http://127.0.0.1:{port}/metrics")[0] for _ in range(scrapes)]
    finally:
        server.shutdown()
        server.server_close()
    return dict(median=statistics.median(times), worst=max(times))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--tags", type=int, default=50)
    ap.add_argument("--points", type=int, default=100)
    ap.add_argument("--scrapes", type=int, default=20)
    ap.add_argument("--live-runs", type=int, default=20,
                    help="runs that get one new step a second in the live phase")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "runs"
        t0 = time.perf_counter()
        write_tree(tree, a.runs, a.tags, a.points)
        n = a.runs * a.tags
        print(f"tree: {a.runs} runs x {a.tags} tags x {a.points} points "
              f"({n * a.points:,} points) written in {time.perf_counter() - t0:.1f}s")
        peer = measure_peer(a.runs, a.tags, a.scrapes)
        print(f"peer prometheus_client Gauge, {n:,} labelled children: scrape median "
              f"{peer['median'] * 1e3:.1f} ms, worst {peer['worst'] * 1e3:.1f} ms")
        live = (a.live_runs, a.tags, a.points)
        for label, cap, extra, lv in (
                ("default cap 10,000, idle", 10_000, [], None),
                (f"default cap 10,000, {a.live_runs} runs live", 10_000, [], live),
                ("--max-series 1000, idle", 1000, ["--max-series", "1000"], None)):
            m = measure_agent(tree, a.runs, min(cap, n), a.scrapes, extra, lv)
            print(f"agent, {label}: ready in {m['ready']:.1f}s; {m['series']:,} series served "
                  f"({m['size'] / 1e6:.2f} MB), dropped {m['dropped']:,.0f}; RSS "
                  f"{m['rss'] / 2**20:.0f} MiB; CPU {m['cpu']:.1f}% of one core with 1 "
                  f"scrape/s over {m['wall']:.0f}s; newest step served {m['last_step']:.0f}")
            print(f"  /metrics scrape: median {m['median'] * 1e3:.1f} ms, worst "
                  f"{m['worst'] * 1e3:.1f} ms (target < 100 ms); vs peer "
                  f"{m['median'] / peer['median']:.2f}x")


if __name__ == "__main__":
    main()
