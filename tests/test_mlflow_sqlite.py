"""MLflow's default SQLite store, written by mlflow itself (3.17), read by the monitor and
compared point by point with what `MlflowClient.get_metric_history` returns."""

import math
import sqlite3
import threading
import time

import numpy as np
import pytest

from mlmon_tui.sources.logs import mlflow_sqlite, registry
from mlmon_tui.sources.watch.watcher import Watcher
from mlmon_tui.store.store import Store

mlflow = pytest.importorskip("mlflow", reason="mlflow (test extra) is not installed")
from mlflow.entities import Metric  # noqa: E402
from mlflow.tracking import MlflowClient  # noqa: E402


def logged(v: float) -> float:
    """What the monitor shows for a value MLflow returns: +-DBL_MAX is how it stores +-Inf."""
    return math.copysign(math.inf, v) if abs(v) >= mlflow_sqlite.DBL_MAX else v


def same(a, b) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_against_mlflow(client, store, run_id, run_name, keys):
    for key in keys:
        want = client.get_metric_history(run_id, key)
        s = store.series(run_name, key)
        assert s is not None, (run_name, key)
        got = sorted(zip(s.step.tolist(), s.wall.tolist(), s.value.tolist()))
        exp = sorted((m.step, m.timestamp / 1000.0, logged(m.value)) for m in want)
        assert len(got) == len(exp) and len(exp) > 0
        for g, e in zip(got, exp):
            assert g[0] == e[0] and g[1] == e[1] and same(g[2], e[2]), (key, g, e)


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{path}")
    return path, client


def test_runs_params_nan_inf_and_deleted_runs(db, tmp_path):
    path, client = db
    exp = client.create_experiment("mnist sweep")
    run = client.create_run(exp, run_name="brave-owl-7").info.run_id
    client.log_param(run, "lr", 0.01)
    client.log_param(run, "batch_size", 32)
    client.log_param(run, "optimizer", "adam")
    for step in range(50):
        client.log_metric(run, "train/loss", 2.0 / (step + 1), step=step)
    for step, v in enumerate([0.5, math.nan, math.inf, -math.inf, 0.25]):
        client.log_metric(run, "val/acc", v, step=step)
    other = client.create_run("0", run_name="baseline").info.run_id
    client.log_metric(other, "loss", 1.0, step=0)
    gone = client.create_run(exp, run_name="deleted-one").info.run_id
    client.log_metric(gone, "loss", 3.0, step=0)
    client.delete_run(gone)

    assert mlflow_sqlite.probe(path, registry.read_head(path)) == 95
    assert registry.choose(path) is mlflow_sqlite
    src = mlflow_sqlite.open_source(path, tmp_path)
    store = Store()
    update = src.poll()
    store.apply(update)
    assert update.meta["mnist sweep/brave-owl-7"]["hparams"] == {
        "lr": 0.01, "batch_size": 32, "optimizer": "adam"}
    assert sorted(store.runs()) == ["Default/baseline", "mnist sweep/brave-owl-7"]
    check_against_mlflow(client, store, run, "mnist sweep/brave-owl-7", ["train/loss", "val/acc"])
    check_against_mlflow(client, store, other, "Default/baseline", ["loss"])
    v = store.series("mnist sweep/brave-owl-7", "val/acc").value
    assert math.isnan(v[1]) and v[2] == math.inf and v[3] == -math.inf

    # new rows and a new run appear; nothing is read twice
    client.log_metric(run, "train/loss", 0.01, step=50)
    late = client.create_run(exp, run_name="late").info.run_id
    client.log_param(late, "lr", "3e-4")
    client.log_metric(late, "loss", 2.0, step=1)
    update = src.poll()
    store.apply(update)
    assert update.meta["mnist sweep/late"]["hparams"] == {"lr": 3e-4}
    check_against_mlflow(client, store, run, "mnist sweep/brave-owl-7", ["train/loss"])
    check_against_mlflow(client, store, late, "mnist sweep/late", ["loss"])
    assert not src.poll()  # nothing committed since

    # a run deleted while shown loses its points; restored, it comes back whole
    mlflow_sqlite.LIFECYCLE_SECONDS, saved = 0.0, mlflow_sqlite.LIFECYCLE_SECONDS
    try:
        client.delete_run(late)
        store.apply(src.poll())
        assert store.series("mnist sweep/late", "loss") is None or \
            len(store.series("mnist sweep/late", "loss")) == 0
        client.restore_run(late)
        store.apply(src.poll())
        check_against_mlflow(client, store, late, "mnist sweep/late", ["loss"])
    finally:
        mlflow_sqlite.LIFECYCLE_SECONDS = saved
    src.close()


def test_duplicate_run_names_stay_apart_and_non_mlflow_sqlite_is_not_claimed(db, tmp_path):
    path, client = db
    a = client.create_run("0", run_name="same").info.run_id
    b = client.create_run("0", run_name="same").info.run_id
    client.log_metric(a, "loss", 1.0, step=0)
    client.log_metric(b, "loss", 2.0, step=0)
    store = Store()
    store.apply(mlflow_sqlite.open_source(path, tmp_path).poll())
    assert len(store.runs()) == 2
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    assert mlflow_sqlite.probe(other, registry.read_head(other)) == 0


def test_a_locked_database_is_retried_quietly(db, tmp_path):
    path, client = db
    run = client.create_run("0", run_name="r").info.run_id
    client.log_metric(run, "loss", 1.0, step=0)
    src = mlflow_sqlite.open_source(path, tmp_path)
    store = Store()
    store.apply(src.poll())
    client.log_metric(run, "loss", 0.5, step=1)
    writer = sqlite3.connect(path, isolation_level=None)
    writer.execute("BEGIN EXCLUSIVE")  # what a writer committing holds
    try:
        update = src.poll()
        assert not update.scalars and not update.problems
    finally:
        writer.execute("COMMIT")
        writer.close()
    store.apply(src.poll())
    assert store.series("Default/r", "loss").value.tolist() == [1.0, 0.5]


@pytest.mark.parametrize("wal", [False, True])
def test_live_appends_reach_the_store_within_a_second(db, tmp_path, wal):
    path, client = db
    run = client.create_run("0", run_name="live").info.run_id
    client.log_metric(run, "loss", 1.0, step=0)
    if wal:
        sqlite3.connect(path).execute("PRAGMA journal_mode=WAL").fetchall()
    store = Store()
    seen = threading.Event()
    target = {"n": 0}

    def changed(keys):
        s = store.series("Default/live", "loss")
        if s is not None and len(s) >= target["n"] > 0:
            seen.set()

    w = Watcher([tmp_path], store, on_change=changed)
    w.start()
    try:
        assert w.loaded.wait(30)
        assert store.series("Default/live", "loss").value.tolist() == [1.0]
        delays = []
        for step in range(1, 4):
            seen.clear()
            target["n"] = step + 1
            t0 = time.monotonic()
            client.log_batch(run, metrics=[Metric("loss", 1.0 / (step + 1),
                                                  int(time.time() * 1000), step)])
            assert seen.wait(5), f"step {step} not seen"
            delays.append(time.monotonic() - t0)
        assert max(delays) < 1.0, delays
    finally:
        w.stop()
    check_against_mlflow(client, store, run, "Default/live", ["loss"])
    assert np.all(np.diff(store.series("Default/live", "loss").step) == 1)


async def test_the_monitor_takes_a_sqlite_uri(db, tmp_path):
    """`mlmon-tui sqlite:///path/mlflow.db` (MLflow's tracking URI as it is written)."""
    from mlmon_tui.app.app import MonitorApp

    path, client = db
    run = client.create_run("0", run_name="via-uri").info.run_id
    client.log_metric(run, "loss", 0.5, step=3)
    app = MonitorApp([f"sqlite:///{path}"], watch=False, gpu=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        assert app.store.series("Default/via-uri", "loss").step.tolist() == [3]


def test_a_deletion_with_no_write_after_it_is_still_seen(db, tmp_path, monkeypatch):
    """Deletions are looked for at most every LIFECYCLE_SECONDS; one that falls between two
    looks must not wait for the next write to be noticed."""
    monkeypatch.setattr(mlflow_sqlite, "LIFECYCLE_SECONDS", 0.3)
    path, client = db
    run = client.create_run("0", run_name="soon-gone").info.run_id
    client.log_metric(run, "loss", 1.0, step=0)
    src = mlflow_sqlite.open_source(path, tmp_path)
    assert src.poll().scalars
    client.delete_run(run)
    src._last_lifecycle = time.monotonic()  # as if the last look had just been made
    assert not src.poll().resets  # not due yet
    time.sleep(0.4)
    assert src.poll().resets == [f"{path}#{run}"]
    assert not src.poll()


def test_check_summary_and_export_take_a_sqlite_uri(db, tmp_path, capsys):
    """`check`, `summary` and `export` read `sqlite:///path/mlflow.db` as the monitor does;
    a URI naming no file is a usage error with the path in the message."""
    from mlmon_tui.app.cli import main

    path, client = db
    run = client.create_run("0", run_name="via-uri").info.run_id
    for step, v in enumerate([0.9, 0.7, float("nan")]):
        client.log_metric(run, "loss", v, step=step)
    uri = f"sqlite:///{path}"
    assert main(["check", uri]) == 1  # the NaN is an error
    out = capsys.readouterr().out
    assert "Default/via-uri" in out and "NaN" in out
    assert main(["summary", uri]) == 0
    assert "via-uri" in capsys.readouterr().out
    csv_out = tmp_path / "out.csv"
    assert main(["export", uri, "-o", str(csv_out)]) == 0
    rows = csv_out.read_text().splitlines()
    assert rows[0].startswith("run,tag,step") and len(rows) == 4
    assert all(r.startswith("Default/via-uri,loss,") for r in rows[1:])
    with pytest.raises(SystemExit) as e:
        main(["export", f"sqlite:///{tmp_path}/nothing.db"])
    assert e.value.code == 2 and "nothing.db" in capsys.readouterr().err
