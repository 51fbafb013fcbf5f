"""What one `Monitor.log()` call costs the training loop, against peers measured in the same run.

Peers: a bare `deque.append` (the floor), a synchronous socket client (`json.dumps` +
`sendall` per call, what a naive client does), and a JSONL file write per call with a flush
(what a script logging to its own file does). Two figures for each:
  - the call: median and p99 of one call on the training thread, in µs (for `Monitor.log`
    that is only the enqueue);
  - the whole cost per message: CPU time of every thread of the training process that
    works on it (for `Monitor.log`: the training thread's calls plus the sender thread's
    encoding and sending until everything was sent), divided by the messages, in µs.
With the monitor listening and with nobody listening.

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


def thread_cpu(thread) -> float:
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


def whole(fn, n: int, finish=None, sender=None) -> float:
    """CPU µs per message: this thread's calls, plus the sender thread's share until
    `finish()` returns (everything sent)."""
    s0 = thread_cpu(sender) if sender else 0.0
    t0 = time.thread_time()
    for i in range(n):
        fn(i)
    if finish:
        finish()
    cpu = time.thread_time() - t0 + ((thread_cpu(sender) - s0) if sender else 0.0)
    return cpu / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    n = 20_000 if ap.parse_args().quick else 200_000
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        logdir = Path(tmp) / "logs"
        with SocketServer(logdir) as srv:
            q = collections.deque(maxlen=10_000)
            def floor(i):
                q.append((i, time.time(), None, {"loss": 0.5}))
            rows.append(("deque.append (floor)", per_call(floor, n), whole(floor, n)))
            with Monitor(run="bench", address=srv.address, buffer=n) as mon:
                def log(i):
                    mon.log(i, loss=0.5, lr=1e-3)
                call = per_call(log, n)
                mon.flush(30)
                rows.append(("Monitor.log, monitor listening", call,
                             whole(log, n, lambda: mon.flush(30), mon._thread)))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(srv.address[5:])

            def sync_send(i):
                s.sendall((json.dumps({"run": "sync", "step": i,
                                       "metrics": {"loss": 0.5, "lr": 1e-3}}) + "\n").encode())
            rows.append(("sync json+sendall per call", per_call(sync_send, n), whole(sync_send, n)))
            s.close()
        with open(Path(tmp) / "own.jsonl", "a") as f:
            def file_write(i):
                f.write(json.dumps({"step": i, "loss": 0.5, "lr": 1e-3}) + "\n")
                f.flush()
            rows.append(("JSONL write+flush per call", per_call(file_write, n), whole(file_write, n)))
        mon = Monitor(run="bench", address=f"unix:{tmp}/nobody.sock", buffer=10_000)
        def log_nobody(i):
            mon.log(i, loss=0.5, lr=1e-3)
        call = per_call(log_nobody, n)
        dropped = mon.dropped
        rows.append(("Monitor.log, nobody listening", call,
                     whole(log_nobody, n, lambda: time.sleep(0.5), mon._thread)))
        mon.close(0.2)
    ours, ours_all = rows[1][1][0], rows[1][2]
    print(f"{n} calls each. The call: median and p99 on the training thread (µs). Whole: CPU µs "
          f"per message, all threads (Monitor.log: enqueue + the sender thread's encoding and "
          f"send). Ratios: peer / Monitor.log, on each figure.")
    for name, (med, p99), cpu in rows:
        print(f"  {name:34s} call median {med:7.3f}  p99 {p99:8.3f}  ({med / ours:6.2f}x)   "
              f"whole {cpu:7.2f} ({cpu / ours_all:5.2f}x)")
    print(f"  nobody listening: {dropped} of {n} dropped (bounded queue of 10,000, counted)")


if __name__ == "__main__":
    main()
