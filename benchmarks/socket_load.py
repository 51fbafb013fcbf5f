"""Load on the socket server: N client processes x M messages each, as fast as they can.

Each client process uses the real `Monitor` client (queue big enough to hold all its
messages, so any loss is the server's or the transport's). Afterwards every line of every
run's JSONL file is counted. Peer, measured in the same run: the same validation and JSONL
writing done in a plain loop with no sockets (the server's per-message ceiling).

    PYTHONPATH=src python benchmarks/socket_load.py [--quick] [--clients 50] [--messages 10000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mlmon_tui.sources.socket import protocol as proto  # noqa: E402
from mlmon_tui.sources.socket.server import SocketServer, raise_nofile_limit  # noqa: E402


def client(address: str, idx: int, n: int, ready, go) -> None:
    from mlmon_tui.client import Monitor

    mon = Monitor(run=f"load/c{idx:03d}", address=address, buffer=n + 10)
    ready.put(idx)
    go.wait()
    for step in range(n):
        mon.log(step, loss=1.0 / (step + 1), lr=3e-4, grad_norm=0.5)
    mon.flush(120)
    mon.close(5)


def ceiling(n: int, tmp: Path) -> float:
    """Messages/s of parse + validate + encode + buffered write, without sockets."""
    lines = [json.dumps({"run": "p", "step": i, "metrics": {"loss": 1.0 / (i + 1), "lr": 3e-4,
                                                            "grad_norm": 0.5},
                         "wall_time": 1.7e9}).encode() for i in range(n)]
    t0 = time.perf_counter()
    with open(tmp / "ceiling.jsonl", "a", buffering=1 << 16) as f:
        for raw in lines:
            obj = json.loads(raw.decode("utf-8"))
            run, step, wall, metrics, _ = proto.parse_metrics(obj, None, 0.0)
            f.write(proto.encode_record(step, wall, metrics))
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="10 clients x 2,000 messages")
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--messages", type=int, default=10_000)
    a = ap.parse_args()
    nc, nm = (10, 2000) if a.quick else (a.clients, a.messages)
    raise_nofile_limit()
    ctx = mp.get_context("spawn")  # no fork() of a process running the server thread
    with tempfile.TemporaryDirectory() as tmp:
        logdir = Path(tmp) / "logs"
        srv = SocketServer(logdir, idle_timeout=120).start()
        ready, go = ctx.Queue(), ctx.Event()
        procs = [ctx.Process(target=client, args=(srv.address, i, nm, ready, go))
                 for i in range(nc)]
        for p in procs:
            p.start()
        for _ in procs:
            ready.get(timeout=60)
        t0 = time.perf_counter()
        go.set()
        expected = nc * nm
        last, last_change = -1, time.monotonic()
        while srv.stats["messages"] < expected and time.monotonic() - last_change < 5:
            got = srv.stats["messages"]
            if got != last:
                last, last_change = got, time.monotonic()
            time.sleep(0.01)
        elapsed = time.perf_counter() - t0
        for p in procs:
            p.join(30)
        srv.stop()
        lines = sum(sum(1 for _ in open(f)) for f in logdir.rglob(proto.DATA_FILE))
        runs = sum(1 for _ in logdir.rglob(proto.DATA_FILE))
        stats = srv.stats
        peer = ceiling(min(expected, 200_000), Path(tmp))
    rate = stats["messages"] / elapsed
    print(f"{nc} client processes x {nm} messages = {expected} sent")
    print(f"  server: {rate:,.0f} messages/s over {elapsed:.2f} s; {runs} run files; "
          f"{lines} lines written; lost {expected - lines}; "
          f"client-reported drops {stats['dropped_by_client']}; "
          f"malformed {stats['malformed_json'] + stats['bad_messages']}")
    print(f"  peer, same work without sockets: {peer:,.0f} messages/s "
          f"(server reaches {rate / peer:.2f}x of it)")


if __name__ == "__main__":
    main()
