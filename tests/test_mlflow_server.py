"""A real `mlflow server` (3.17, SQLite backend) on loopback, started here, read by the
monitor over its REST API and compared point by point with `MlflowClient.get_metric_history`.
Outages are made by a TCP relay in front of the server that stops and starts listening."""

import math
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from mlmon_tui.sources.logs import mlflow_server
from mlmon_tui.sources.logs.mlflow_server import MlflowServerSource
from mlmon_tui.sources.watch.remote import RemotePoller, resolve_target, split_targets
from mlmon_tui.store.store import Store

mlflow = pytest.importorskip("mlflow", reason="mlflow (test extra) is not installed")
from mlflow.entities import Metric  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402

from test_mlflow_sqlite import check_against_mlflow  # noqa: E402

START_TIMEOUT = 240  # seconds: a loaded 2-core CI machine takes ~50 s to start it


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    exe = Path(sys.executable).parent / "mlflow"
    if not exe.exists() and shutil.which("mlflow") is None:
        pytest.skip("the mlflow command is not installed")
    tmp = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = open(tmp / "server.log", "wb")
    proc = subprocess.Popen(
        [str(exe if exe.exists() else "mlflow"), "server", "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp}/mlflow.db",
         "--default-artifact-root", str(tmp / "artifacts")],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        env=dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"))  # no job workers
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.close()
                pytest.fail("mlflow server did not start:\n"
                            + (tmp / "server.log").read_text()[-2000:])
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()


class Relay:
    """A TCP relay to the server that can stop listening (server down) and start again."""

    def __init__(self, target: str) -> None:
        host, port = target.rsplit("//", 1)[1].split(":")
        self.target = (host, int(port))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._conns: list[socket.socket] = []
        self._listener = None
        self.up()

    def up(self) -> None:
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(16)
        self._listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def down(self) -> None:
        ls, self._listener = self._listener, None
        ls.close()
        for c in self._conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()
        self._conns.clear()

    def _accept(self, ls) -> None:
        while True:
            try:
                a, _ = ls.accept()
            except OSError:
                return
            b = socket.create_connection(self.target)
            self._conns += [a, b]
            for x, y in ((a, b), (b, a)):
                threading.Thread(target=self._pump, args=(x, y), daemon=True).start()

    @staticmethod
    def _pump(x, y) -> None:
        try:
            while data := x.recv(65536):
                y.sendall(data)
        except OSError:
            pass
        finally:
            for s in (x, y):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def test_points_params_nan_inf_and_a_deleted_run(server):
    client = MlflowClient(tracking_uri=server)
    exp = client.create_experiment("server sweep")
    run = client.create_run(exp, run_name="brave-owl").info.run_id
    client.log_param(run, "lr", 0.01)
    client.log_param(run, "optimizer", "adam")
    ts = int(time.time() * 1000)
    client.log_batch(run, metrics=[Metric("train/loss", 2.0 / (s + 1), ts + s, s)
                                   for s in range(300)])
    for s, v in enumerate([0.5, math.nan, math.inf, -math.inf, 0.25]):
        client.log_metric(run, "val/acc", v, step=s)
    gone = client.create_run(exp, run_name="deleted-one").info.run_id
    client.log_metric(gone, "loss", 3.0, step=0)
    client.delete_run(gone)
    src = MlflowServerSource(server)
    store = Store()
    update = src.poll()
    assert not update.problems, update.problems
    store.apply(update)
    name = "server sweep/brave-owl"
    assert update.meta[name]["hparams"] == {"lr": 0.01, "optimizer": "adam"}
    assert not any(r.startswith("server sweep/deleted") for r in store.runs())
    check_against_mlflow(client, store, run, name, ["train/loss", "val/acc"])
    v = store.series(name, "val/acc").value
    assert math.isnan(v[1]) and v[2] == math.inf and v[3] == -math.inf

    # a tail larger than one reply (sampled by the server if asked at once), and several
    # values at one step (what log_metric without a step writes)
    client.log_batch(run, metrics=[Metric("train/loss", 1.0 / (s + 1), ts + s, s)
                                   for s in range(300, 3300)][:1000])
    for chunk in range(3):
        client.log_batch(run, metrics=[Metric("train/loss", float(s), ts + s, s)
                                       for s in range(1300 + chunk * 1000, 2300 + chunk * 1000)])
    for i in range(4):
        client.log_metric(run, "same_step", float(i), step=0)
    store.apply(src.poll())
    check_against_mlflow(client, store, run, name, ["train/loss", "same_step"])
    client.log_metric(run, "same_step", 9.0, step=0)
    store.apply(src.poll())
    check_against_mlflow(client, store, run, name, ["same_step"])
    requests = src.requests
    assert not src.poll() and src.requests - requests <= 3  # nothing new: no history asked

    client.delete_run(run)
    update = src.poll()
    store.apply(update)
    assert f"{server}#{run}" in update.resets
    assert len(store.series(name, "train/loss")) == 0
    client.restore_run(run)
    store.apply(src.poll())
    check_against_mlflow(client, store, run, name, ["train/loss", "val/acc", "same_step"])


def test_many_rows_at_one_step_fall_back_to_pages(server, monkeypatch):
    monkeypatch.setattr(mlflow_server, "MAX_PER_CALL", 50)
    monkeypatch.setattr(mlflow_server, "PAGE", 40)
    client = MlflowClient(tracking_uri=server)
    run = client.create_run("0", run_name="no-steps").info.run_id
    ts = int(time.time() * 1000)
    client.log_batch(run, metrics=[Metric("loss", float(i), ts + i, 0) for i in range(120)])
    src, store = MlflowServerSource(server), Store()
    store.apply(src.poll())
    check_against_mlflow(client, store, run, "Default/no-steps", ["loss"])
    client.log_batch(run, metrics=[Metric("loss", -float(i), ts + 200 + i, 0) for i in range(70)])
    store.apply(src.poll())
    check_against_mlflow(client, store, run, "Default/no-steps", ["loss"])


def test_live_appends_and_an_outage(server):
    client = MlflowClient(tracking_uri=server)
    run = client.create_run("0", run_name="live").info.run_id
    client.log_metric(run, "loss", 1.0, step=0)
    relay = Relay(server)
    files, sources = split_targets([relay.url, "sqlite:////tmp/x/mlflow.db"])
    assert files == ["/tmp/x/mlflow.db"] and resolve_target("sqlite:///m.db") == "m.db"
    store = Store()
    seen = threading.Event()
    want = {"n": 1}

    def changed(keys):
        s = store.series("Default/live", "loss")
        if s is not None and len(s) >= want["n"]:
            seen.set()

    poller = RemotePoller(sources, store, on_change=changed)
    poller.load_once()
    assert store.series("Default/live", "loss").value.tolist() == [1.0]
    poller.start()
    try:
        delays = []
        for step in range(1, 4):
            seen.clear()
            want["n"] = step + 1
            t0 = time.monotonic()
            client.log_metric(run, "loss", 1.0 / (step + 1), step=step)
            assert seen.wait(10), f"step {step} not seen"
            delays.append(time.monotonic() - t0)
        print("server live delays", delays)

        relay.down()
        deadline = time.monotonic() + 10
        while not any("unreachable" in p.message for p in store.problems):
            assert time.monotonic() < deadline, "no message while the server is unreachable"
            time.sleep(0.1)
        client.log_metric(run, "loss", 0.1, step=10)  # logged while the monitor cannot see it
        time.sleep(1.5)
        down = [p for p in store.problems if "unreachable" in p.message]
        assert len(down) == 1 and down[0].path == relay.url  # said once, not every poll
        seen.clear()
        want["n"] = 5
        relay.up()
        assert seen.wait(10), "not read again after the server came back"
        assert any("reachable again" in p.message for p in store.problems)
    finally:
        poller.stop()
        relay.down()
    check_against_mlflow(client, store, run, "Default/live", ["loss"])
    assert max(delays) < 1.0, delays


async def test_the_monitor_takes_a_server_url(server):
    """`mlmon-tui http://...`: the app's services poll the server; diagnostics say how it is."""
    from mlmon_tui.app.app import MonitorApp

    client = MlflowClient(tracking_uri=server)
    run = client.create_run(client.create_experiment("app exp"), run_name="shown").info.run_id
    client.log_metric(run, "loss", 0.5, step=3)
    app = MonitorApp([server], watch=False, gpu=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.services.server is None  # no log dir: no metrics socket
        assert app.store.series("app exp/shown", "loss").step.tolist() == [3]
        assert f"{server}: ok:" in app.diagnostics_text().plain


def test_check_and_export_take_a_server_url(server, tmp_path, capsys):
    """`check` and `export` read an MLflow tracking server's URL once, as the monitor does."""
    from mlmon_tui.app.cli import main

    client = MlflowClient(tracking_uri=server)
    run = client.create_run(client.create_experiment("cli exp"), run_name="once").info.run_id
    for step, v in enumerate([2.0, 1.0, 0.5]):
        client.log_metric(run, "loss", v, step=step)
    assert main(["check", server, "--json"]) in (0, 1)  # other tests' runs have NaNs
    got = capsys.readouterr()
    assert isinstance(json.loads(got.out), list) and "no training logs" not in got.err
    assert main(["summary", server]) == 0
    assert "once" in capsys.readouterr().out
    out = tmp_path / "out.csv"
    assert main(["export", server, "-o", str(out)]) == 0
    rows = [r for r in out.read_text().splitlines() if r.startswith("cli exp/once,loss,")]
    assert [r.split(",")[2] for r in rows] == ["0", "1", "2"]
