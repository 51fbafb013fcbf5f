"""The stdlib client against a real server: delivery, no server, spool, drops, exit."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlmon_tui.client import Monitor, default_address, safe_run_name
from mlmon_tui.sources.socket import protocol as proto
from mlmon_tui.sources.socket.server import SocketServer
from test_socket_server import read_jsonl, wait_for

SRC = str(Path(__file__).resolve().parents[1] / "src")


def test_client_module_imports_nothing_heavy():
    code = ("import sys; import mlmon_tui.client; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('textual','numpy','psutil','watchdog','google') or "
            "(m.startswith('mlmon_tui.') and m != 'mlmon_tui.client')]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": SRC},
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_log_kwargs_and_dict_reach_the_jsonl(tmp_path):
    with SocketServer(tmp_path) as srv:
        with Monitor(run="exp/a", address=srv.address, hparams={"lr": 0.01}) as mon:
            mon.log(1, loss=0.5)
            mon.log(2, {"loss": 0.25, "val/acc": 0.75})
            mon.log(3, {"loss": 0.125}, lr=1e-3, bad="text", nan=float("nan"))
            mon.log_hparams(batch_size=32)
            assert mon.flush()
        assert wait_for(lambda: srv.stats["messages"] == 3)
    recs = read_jsonl(tmp_path / "exp" / "a" / proto.DATA_FILE)
    assert [r["step"] for r in recs] == [1, 2, 3]
    assert recs[1]["metrics"] == {"loss": 0.25, "val/acc": 0.75}
    assert recs[2]["metrics"]["lr"] == 1e-3 and math.isnan(recs[2]["metrics"]["nan"])
    assert "bad" not in recs[2]["metrics"] and mon.bad_values == 1
    meta = json.loads((tmp_path / "exp" / "a" / proto.META_FILE).read_text())
    assert meta["hparams"] == {"lr": 0.01, "batch_size": 32}
    assert os.getpid() in meta["pids"]


def test_default_address_from_env_and_address_file(tmp_path, monkeypatch):
    monkeypatch.delenv("MLMON_ADDRESS", raising=False)
    monkeypatch.setenv("MLMON_LOGDIR", str(tmp_path))
    assert default_address() == f"unix:{tmp_path}/.mlmon/mlmon.sock"
    with SocketServer(tmp_path, address="tcp:127.0.0.1:0") as srv:
        assert default_address() == srv.address  # read from <logdir>/.mlmon/address
        with Monitor(run="r") as mon:
            mon.log(1, a=1)
            assert mon.flush()
        assert wait_for(lambda: srv.stats["messages"] == 1)
    monkeypatch.setenv("MLMON_ADDRESS", "tcp:127.0.0.1:9")
    assert default_address() == "tcp:127.0.0.1:9"


def test_no_server_never_blocks_and_counts_drops(tmp_path):
    mon = Monitor(run="r", address=f"unix:{tmp_path}/nobody.sock", buffer=1000)
    for i in range(10_000):
        mon.log(i, loss=1.0)
    assert mon.dropped == 9_000  # the bounded queue kept the newest 1000
    assert not mon.connected
    t0 = time.monotonic()
    mon.close(timeout=0.5)
    assert time.monotonic() - t0 < 2
    assert mon.dropped == 10_000  # nothing could be delivered; every message counted


def test_reconnects_when_the_monitor_appears_and_reports_drops(tmp_path):
    addr = f"unix:{tmp_path}/.mlmon/mlmon.sock"
    mon = Monitor(run="late", address=addr, buffer=100)
    for i in range(150):
        mon.log(i, loss=float(i))
    assert mon.dropped == 50
    with SocketServer(tmp_path) as srv:
        assert wait_for(lambda: srv.stats["messages"] == 100, 10)
        mon.close()
        assert wait_for(lambda: srv.stats["dropped_by_client"] == 50)
    steps = [r["step"] for r in read_jsonl(tmp_path / "late" / proto.DATA_FILE)]
    assert steps == list(range(50, 150))  # the newest were kept, in order


def test_spool_keeps_everything_without_a_monitor(tmp_path):
    spool = tmp_path / "run" / "spool.jsonl"
    mon = Monitor(run="r", address=f"unix:{tmp_path}/nobody.sock", spool=str(spool))
    for i in range(2000):
        mon.log(i, loss=i / 2)
        if i % 500 == 0:
            time.sleep(0.05)  # let the sender keep up: spooling is not a queue overflow
    mon.close(timeout=2)
    recs = read_jsonl(spool)
    assert [r["step"] for r in recs] == list(range(2000))
    assert recs[3] == {"step": 3, "wall_time": recs[3]["wall_time"], "metrics": {"loss": 1.5}}
    assert mon.spooled == 2000 and mon.dropped == 0


def test_server_restart_mid_run(tmp_path):
    mon = Monitor(run="r", address=f"unix:{tmp_path}/.mlmon/mlmon.sock")
    srv = SocketServer(tmp_path).start()
    assert wait_for(lambda: mon.connected)
    mon.log(1, a=1)
    assert mon.flush()
    srv.stop()
    for i in range(2, 20):
        mon.log(i, a=i)  # some may go into the dead socket and be counted as dropped
        time.sleep(0.01)
    srv = SocketServer(tmp_path).start()
    try:
        mon.log(100, a=100)
        assert wait_for(lambda: 100 in [r["step"] for r in
                                        read_jsonl(tmp_path / "r" / proto.DATA_FILE)], 10)
    finally:
        mon.close()
        srv.stop()
    got = [r["step"] for r in read_jsonl(tmp_path / "r" / proto.DATA_FILE)]
    assert got[0] == 1 and got[-1] == 100
    assert len(got) + mon.dropped == 20  # every message either delivered or counted


def test_process_exit_is_not_held_up_without_monitor(tmp_path):
    code = ("from mlmon_tui.client import Monitor\n"
            "m = Monitor(run='r', address='tcp:127.0.0.1:9')\n"
            "for i in range(100000): m.log(i, loss=1.0)\n")
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": SRC},
                   check=True, timeout=30)
    assert time.monotonic() - t0 < 10


def test_fork_child_gets_its_own_sender(tmp_path):
    if not hasattr(os, "fork"):
        pytest.skip("no fork")
    with SocketServer(tmp_path) as srv:
        mon = Monitor(run="r", address=srv.address)
        pid = os.fork()
        if pid == 0:  # child: log and leave through atexit-free _exit after a flush
            mon.log(2, child=1)
            ok = mon.flush(3)
            os._exit(0 if ok else 1)
        mon.log(1, parent=1)
        assert mon.flush()
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert wait_for(lambda: srv.stats["messages"] == 2)
        mon.close()
    assert len(srv.peers["r"]) == 2


@settings(max_examples=300, deadline=None)
@given(name=st.text(max_size=300))
def test_client_run_names_always_accepted_by_server(name):
    safe = safe_run_name(name)
    assert proto.check_run_name(safe) == safe


def test_safe_run_name_examples():
    assert safe_run_name("sweep/lr-0.1") == "sweep/lr-0.1"
    assert safe_run_name("../../etc/x") == "etc/x"
    assert safe_run_name("/abs/.hidden") == "abs/_hidden"
    assert safe_run_name("C:\\runs") == "C__runs"
    assert safe_run_name("..") == "run"


def test_log_after_close_is_counted_not_queued(tmp_path):
    with SocketServer(tmp_path) as srv:
        mon = Monitor(run="r", address=srv.address)
        mon.log(1, a=1)
        mon.close()
        mon.log(2, a=2)
        assert mon.dropped == 1
        assert wait_for(lambda: srv.stats["messages"] == 1)


def test_forked_child_that_does_not_log_opens_no_connection(tmp_path):
    with SocketServer(tmp_path) as srv:
        mon = Monitor(run="r", address=srv.address)
        assert wait_for(lambda: srv.stats["connections"] == 1)
        pid = os.fork()
        if pid == 0:
            time.sleep(0.3)  # what a data-loader worker does with the monitor: nothing
            os._exit(0 if "log" in mon.__dict__ else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        time.sleep(0.2)
        assert srv.stats["connections"] == 1
        mon.close()


def test_log_later_computes_on_the_sending_thread(tmp_path):
    """`log_later`'s function runs on the sending thread, once, in queue order with the other
    messages; one that raises is dropped and counted, and the others still arrive (over the
    socket and into the spool file alike)."""
    import threading

    ran = []

    def figures(step):
        def fn():
            ran.append((step, threading.current_thread().name))
            if step == 3:
                raise ValueError("bad samples")
            return {"m": step / 2}, {"h": ([0.0, 1.0], [step, 1])}
        return fn

    with SocketServer(tmp_path / "srv") as srv:
        with Monitor(run="r", address=srv.address) as mon:
            for step in range(1, 5):
                mon.log(step, loss=float(step))
                mon.log_later(step, figures(step))
            assert mon.flush()
        assert wait_for(lambda: srv.stats["messages"] == 7)
    assert [s for s, _ in ran] == [1, 2, 3, 4] and {t for _, t in ran} == {"mlmon-client"}
    assert mon.bad_values == 1
    recs = read_jsonl(tmp_path / "srv" / "r" / proto.DATA_FILE)
    later = [r for r in recs if "m" in r["metrics"]]
    assert [r["step"] for r in later] == [1, 2, 4] and later[2]["metrics"] == {"m": 2.0}
    assert later[0]["histograms"]["h"] == {"edges": [0.0, 0.5, 1.0], "counts": [1.0, 1.0]}
    assert [r["step"] for r in recs if "loss" in r["metrics"]] == [1, 2, 3, 4]

    ran.clear()
    spool = tmp_path / "spool" / "r.jsonl"
    with Monitor(run="r", address=f"unix:{tmp_path}/nobody.sock", spool=str(spool)) as mon:
        mon.log_later(7, figures(7))
    assert read_jsonl(spool)[0]["metrics"] == {"m": 3.5} and len(ran) == 1
