"""What one `Monitor.log()` call costs the training loop, against peers measured in the same run.

Peers: a bare `deque.append` (the floor), a synchronous socket client (`json.dumps` +
`sendall` per call, what a naive client does), and a JSONL file write per call with a flush
(what a script logging to its own file does). Reported: median and p99 per call, in µs,
with the monitor listening and with nobody listening.

    PYTHONPATH=src python benchmarks/client_cost.py [--quick]
"""

from __future__ import annotations

import argparse
import collections
import json
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mlmon_tui.client import Monitor  # noqa: E402
from mlmon_tui.sources.socket.server import SocketServer  # noqa: E402


def per_call(fn, n: int) -> tuple[float, float]:
    """Median and p99 of single calls, in µs (timer overhead subtracted)."""
    clock = time.perf_counter_ns
    overhead = statistics.median(-(clock() - clock()) for _ in range(10_000))
    times = []
    for i in range(n):
        t0 = clock()
        fn(i)
        times.append(clock() - t0 - overhead)
    times.sort()
    return times[len(times) // 2] / 1000, times[int(len(times) * 0.99)] / 1000


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    n = 20_000 if ap.parse_args().quick else 200_000
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        logdir = Path(tmp) / "logs"
        with SocketServer(logdir) as srv:
            q = collections.deque(maxlen=10_000)
            rows.append(("deque.append (floor)",
                         per_call(lambda i: q.append((i, time.time(), None, {"loss": 0.5})), n)))
            with Monitor(run="bench", address=srv.address, buffer=n) as mon:
                rows.append(("Monitor.log, monitor listening",
                             per_call(lambda i: mon.log(i, loss=0.5, lr=1e-3), n)))
                mon.flush(30)
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(srv.address[5:])

            def sync_send(i):
                s.sendall((json.dumps({"run": "sync", "step": i,
                                       "metrics": {"loss": 0.5, "lr": 1e-3}}) + "\n").encode())
            rows.append(("sync json+sendall per call", per_call(sync_send, n)))
            s.close()
        with open(Path(tmp) / "own.jsonl", "a") as f:
            def file_write(i):
                f.write(json.dumps({"step": i, "loss": 0.5, "lr": 1e-3}) + "\n")
                f.flush()
            rows.append(("JSONL write+flush per call", per_call(file_write, n)))
        mon = Monitor(run="bench", address=f"unix:{tmp}/nobody.sock", buffer=10_000)
        rows.append(("Monitor.log, nobody listening",
                     per_call(lambda i: mon.log(i, loss=0.5, lr=1e-3), n)))
        dropped = mon.dropped
        mon.close(0.2)
    ours = rows[1][1][0]
    print(f"{n} calls each; median and p99 per call (µs); ratio = peer median / Monitor.log median")
    for name, (med, p99) in rows:
        print(f"  {name:34s} median {med:7.3f}  p99 {p99:8.3f}  ratio {med / ours:6.2f}x")
    print(f"  nobody listening: {dropped} of {n} dropped (bounded queue of 10,000, counted)")


if __name__ == "__main__":
    main()
