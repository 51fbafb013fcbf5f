"""Cost of one live poll of MLflow's SQLite store and of an MLflow server, as the history grows.

    PYTHONPATH=src python benchmarks/read_mlflow.py [--rows N] [--quick] [--no-server]

Two runs in one `mlflow.db` made by mlflow 3.17 (schema, experiment, runs, first points via
MlflowClient); the long histories are then inserted with sqlite3 straight into MLflow's
`metrics` / `latest_metrics` tables (MLflow itself would take minutes for 1M rows). Then, in
turns, 100 new points are logged with `MlflowClient.log_batch` to the 10k-row run or to the
N-row run, and the poll that picks them up is timed, and the poll after it that finds nothing.
Peers measured in the same run: `MlflowClient.get_metric_history` of the same series (what a
reader that re-reads a history pays), through the store and through the server.
The server part starts `mlflow server` on loopback on the same database.
"""

from __future__ import annotations

import argparse
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from mlmon_tui.sources.logs.mlflow_server import MlflowServerSource  # noqa: E402
from mlmon_tui.sources.logs.mlflow_sqlite import MlflowSqliteSource  # noqa: E402

SMALL = 10_000
NEW = 100


def make_db(path: Path, rows: int) -> dict[str, str]:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{path}")
    runs = {}
    for name in ("small", "large"):
        rid = client.create_run("0", run_name=name).info.run_id
        client.log_param(rid, "lr", 0.01)
        client.log_metric(rid, "loss", 1.0, step=0)
        runs[name] = rid
    con = sqlite3.connect(path)
    ts = int(time.time() * 1000)
    for name, n in (("small", SMALL), ("large", rows)):
        rid = runs[name]
        for lo in range(1, n, 200_000):
            hi = min(n, lo + 200_000)
            con.executemany(
                "INSERT INTO metrics (key, value, timestamp, step, is_nan, run_uuid) "
                "VALUES ('loss', ?, ?, ?, 0, ?)",
                ((1.0 / (s + 1), ts + s, s, rid) for s in range(lo, hi)))
        con.execute("UPDATE latest_metrics SET value = ?, timestamp = ?, step = ? "
                    "WHERE run_uuid = ? AND key = 'loss'", (1.0 / n, ts + n - 1, n - 1, rid))
        con.commit()
    con.close()
    return runs


def append(client, rid: str, start: int) -> None:
    from mlflow.entities import Metric

    ts = int(time.time() * 1000)
    client.log_batch(rid, metrics=[Metric("loss", 0.5, ts + i, start + i) for i in range(NEW)])


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def tail_costs(src, client, runs: dict, nxt: dict, rounds: int) -> dict[str, list[float]]:
    """Poll once to load everything, then time the polls that find 100 new points."""
    src.poll()
    while src.poll():  # the first read may take several polls
        pass
    out = {"small": [], "large": [], "idle": []}
    for _ in range(rounds):
        for name in ("small", "large"):
            append(client, runs[name], nxt[name])
            nxt[name] += NEW
            dt, up = timed(src.poll)
            got = sum(len(b) for b in up.scalars)
            assert got == NEW, (name, got)
            out[name].append(dt)
            out["idle"].append(timed(src.poll)[0])
    return out


def med_ms(xs) -> float:
    return statistics.median(xs) * 1000


PEER_MAX = 200_000  # longer histories are not re-read by the peer (minutes)


def peer(client, rid: str, rows: int) -> float | None:
    if rows > PEER_MAX:
        return None
    return timed(lambda: client.get_metric_history(rid, "loss"))[0]


def report(title: str, costs: dict, rows: int, peer_small: float, peer_large) -> None:
    s, big, idle = med_ms(costs["small"]), med_ms(costs["large"]), med_ms(costs["idle"])
    print(f"{title}: poll finding {NEW} new rows, median of {len(costs['small'])}")
    print(f"  on a {SMALL:,}-row history   {s:8.2f} ms")
    print(f"  on a {rows:,}-row history {big:8.2f} ms   ratio large/small {big / s:5.2f}")
    print(f"  a poll that finds nothing   {idle:8.2f} ms")
    print(f"  peer get_metric_history: {peer_small * 1000:8.1f} ms on {SMALL:,} rows "
          f"= {peer_small * 1000 / s:,.0f}x our tail there", end="")
    if peer_large is None:
        print(f"; not run on {rows:,} rows (over {PEER_MAX:,}: minutes)")
    else:
        print(f"; {peer_large * 1000:,.1f} ms on {rows:,} rows = {peer_large * 1000 / big:,.0f}x")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path, tmp: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    exe = Path(sys.executable).parent / "mlflow"
    proc = subprocess.Popen(
        [str(exe), "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{db}", "--default-artifact-root", str(tmp / "a")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env=dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"))  # no job workers
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return proc, url
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("mlflow server did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--quick", action="store_true", help="100k rows, 5 rounds")
    ap.add_argument("--no-server", action="store_true")
    a = ap.parse_args()
    if a.quick:
        a.rows, a.rounds = 100_000, 5
    from mlflow.tracking import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        db = tmp / "mlflow.db"
        t, runs = timed(lambda: make_db(db, a.rows))
        print(f"made {db.stat().st_size / 1e6:.0f} MB mlflow.db ({SMALL:,} + {a.rows:,} rows) "
              f"in {t:.1f} s")
        client = MlflowClient(tracking_uri=f"sqlite:///{db}")
        peer_s, peer_l = peer(client, runs["small"], SMALL), peer(client, runs["large"], a.rows)
        src = MlflowSqliteSource(db, tmp)
        t_load, _ = timed(lambda: [src.poll() for _ in range(1 + a.rows // 200_000)])
        print(f"SQLite first read of everything: {t_load:.2f} s "
              f"({(SMALL + a.rows) / t_load / 1e6:.2f} M rows/s)")
        nxt = {"small": SMALL, "large": a.rows}  # next step of each run (shared by both parts)
        report("SQLite store", tail_costs(src, client, runs, nxt, a.rounds), a.rows,
               peer_s, peer_l)
        src.close()
        if a.no_server:
            return
        proc, url = start_server(db, tmp)
        try:
            rc = MlflowClient(tracking_uri=url)
            done = nxt["large"]
            peer_s, peer_l = peer(rc, runs["small"], SMALL), peer(rc, runs["large"], done)
            srv = MlflowServerSource(url)
            t_load, _ = timed(srv.poll)
            print(f"server first read of everything: {t_load:.2f} s, {srv.requests} requests")
            costs = tail_costs(srv, rc, runs, nxt, a.rounds)
            report("MLflow server", costs, done, peer_s, peer_l)
        finally:
            os.killpg(proc.pid, 15)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()


if __name__ == "__main__":
    main()
