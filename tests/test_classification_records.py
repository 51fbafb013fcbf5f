"""Classification records along the data flow: the socket protocol refuses bad ones, the
client's spool and the JSONL reader keep them, the store keeps them per (run, split, step)
and drops them with their file; class collapse and F1/AUC overfitting in the health analysis;
the client without numpy."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlmon_tui.analysis import HealthMonitor
from mlmon_tui.analysis.classes import collapsed
from mlmon_tui.client import Monitor
from mlmon_tui.records.classification import ClassificationPoint, from_json
from mlmon_tui.records.metrics import ScalarBatch, Update
from mlmon_tui.sources.logs.jsonl import JsonlSource
from mlmon_tui.sources.socket import protocol as proto
from mlmon_tui.sources.socket.server import SocketServer
from mlmon_tui.store import Store
from test_socket_server import wait_for

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _spool_run(tmp_path, name="r", classes=3, evals=3, seed=0) -> Path:
    spool = tmp_path / "logs" / name / "mlmon-socket.jsonl"
    rng = np.random.default_rng(seed)
    with Monitor(run=name, address="unix:/nonexistent/x.sock", spool=str(spool)) as mon:
        for e in range(evals):
            y = rng.integers(0, classes, 120)
            p = rng.dirichlet(np.ones(classes), 120)
            p[np.arange(120), y] += e
            mon.log_predictions(10 * (e + 1), y, p / p.sum(1, keepdims=True))
        assert mon.flush(10.0)
    return spool


def test_spool_and_jsonl_reader_keep_classification(tmp_path):
    spool = _spool_run(tmp_path)
    src = JsonlSource(spool, tmp_path / "logs")
    up = src.poll()
    assert [p.step for p in up.classifications] == [10, 20, 30]
    tags = {b.tag for b in up.scalars}
    assert {"val/accuracy", "val/f1_macro", "val/roc_auc_macro", "val/f1/0"} <= tags
    assert not any(t.startswith("classification") for t in tags)  # curves are not scalars
    store = Store()
    store.apply(up, "jsonl")
    pts = store.classification.points("r", "val")
    assert [p.step for p in pts] == [10, 20, 30] and pts[-1].confusion
    # the file is rewritten: its records go, the new content comes back
    spool.write_text("\n".join(spool.read_text().splitlines()[:2]) + "\n")
    up2 = src.poll()
    assert up2.resets
    store.apply(up2, "jsonl")
    assert [p.step for p in store.classification.points("r", "val")] == [10]


def test_bad_classification_lines(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    f = run / "m.jsonl"
    good = {"split": "val", "kind": "binary", "roc": [[0, 1], [0, 1]],
            "confusion": [[3, 1], [0, 4]]}
    f.write_text("\n".join(json.dumps(x) for x in [
        {"step": 1, "classification": good},
        {"step": 2, "classification": {**good, "confusion": [[1, 2]]}},
        {"step": 3, "classification": {**good, "roc": [[0, 1], [0]]}},
        {"step": 4, "classification": {**good, "kind": "regression"}},
    ]) + "\n")
    up = JsonlSource(f, tmp_path).poll()
    assert [p.step for p in up.classifications] == [1]
    msgs = [p.message for p in up.problems]
    assert any("line 2: confusion must be a square matrix" in m for m in msgs), msgs
    assert any("line 3: a curve must be two lists" in m for m in msgs), msgs
    assert any("line 4: classification kind" in m for m in msgs), msgs


def test_socket_refuses_bad_classification_messages(tmp_path):
    with SocketServer(tmp_path / "logs") as srv:
        kind, path = proto.parse_address(srv.address)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(str(path))
        msgs = [
            {"type": "classification", "run": "a", "step": 1,
             "classification": {"split": "val", "kind": "binary",
                                "confusion": [[1, 2], [3, 4]]}},
            {"type": "classification", "run": "a", "step": 2, "classification": "nope"},
            {"type": "classification", "run": "a", "step": 3,
             "classification": {"confusion": [[1, -2], [3, 4]]}},
            {"type": "classification", "run": "../x", "step": 4, "classification": {}},
        ]
        s.sendall("".join(json.dumps(m) + "\n" for m in msgs).encode())
        s.close()
        assert wait_for(lambda: srv.stats["classifications"] + srv.stats["bad_messages"]
                        + srv.stats["bad_run_names"] >= 4)
        assert (srv.stats["classifications"], srv.stats["bad_messages"],
                srv.stats["bad_run_names"]) == (1, 2, 1)
    lines = (tmp_path / "logs" / "a" / proto.DATA_FILE).read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["step"] == 1


def test_client_without_numpy_uses_pure_python(tmp_path):
    spool = tmp_path / "r" / "mlmon-socket.jsonl"
    code = f"""
import sys
sys.modules["numpy"] = None  # as if numpy were not installed
from mlmon_tui.client import Monitor
with Monitor(run="r", address="unix:/nonexistent/x.sock", spool={str(spool)!r}) as m:
    m.log_predictions(7, [0, 1, 1, 0, 1], [0.1, 0.9, 0.3, 0.35, 0.8])
    assert m.flush(5.0)
    assert m.prediction_problems == [], m.prediction_problems
"""
    env = {**os.environ, "PYTHONPATH": SRC}
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    metrics = json.loads(spool.read_text().splitlines()[0])["metrics"]
    assert metrics["val/roc_auc"] == pytest.approx(5 / 6)
    assert metrics["val/accuracy"] == pytest.approx(0.8)


def _cm_point(step, cm, split="val", run="r"):
    return ClassificationPoint(run=run, split=split, step=step, wall=1e9 + step,
                               kind="multiclass", n=sum(map(sum, cm)),
                               labels=["a", "b", "c"], confusion=cm)


def test_class_collapse_is_flagged_only_with_balanced_labels():
    collapsed_cm = [[30, 0, 0], [29, 1, 0], [28, 0, 2]]
    healthy = [[25, 3, 2], [4, 24, 2], [3, 3, 24]]
    imbalanced = [[90, 0, 0], [4, 1, 0], [4, 0, 1]]  # predicting the majority: not collapse
    assert collapsed(collapsed_cm)[0] == 0 and collapsed(collapsed_cm)[1] > 0.9
    assert collapsed(healthy) is None and collapsed(imbalanced) is None
    assert collapsed([[5, 0], [4, 0]]) is None  # too few samples to say

    store = Store()
    mon = HealthMonitor()
    up = Update(classifications=[_cm_point(10, healthy), _cm_point(20, collapsed_cm),
                                 _cm_point(30, collapsed_cm),
                                 _cm_point(10, imbalanced, split="test")])
    store.apply(up)
    mon.update(store)
    found = [f for f in mon.findings if f.kind == "class_collapse"]
    assert len(found) == 1
    f = found[0]
    assert (f.run, f.tag, f.step, f.severity) == ("r", "val/predictions", 20, "warning")
    assert "'a'" in f.message and "balanced" in f.message
    store.apply(Update(classifications=[_cm_point(40, healthy)]))  # it recovered
    mon.update(store)
    assert not [f for f in mon.findings if f.kind == "class_collapse"]


def test_val_f1_falling_while_train_loss_falls_is_overfitting():
    steps = np.arange(0, 3000, 10)
    ev = np.arange(100, 3001, 100)
    rng = np.random.default_rng(1)

    def run(f1):
        store = Store()
        store.apply(Update(scalars=[
            ScalarBatch("r", "train/loss", steps, 1e9 + steps, 2 * np.exp(-steps / 800) + .05),
            ScalarBatch("r", "val/f1_macro", ev, 1e9 + ev, f1 + rng.normal(0, 0.004, len(ev)))]))
        mon = HealthMonitor()
        mon.update(store)
        mon.finish(store)
        return [f for f in mon.findings if f.kind == "overfitting"]

    falling = np.where(ev < 1200, 0.5 + 0.3 * ev / 1200, 0.8 - 0.2 * (ev - 1200) / 1800)
    found = run(falling)
    assert len(found) == 1 and found[0].tag == "val/f1_macro"
    assert "train/loss keeps falling" in found[0].message
    assert not run(np.minimum(0.5 + 0.3 * ev / 1200, 0.8))  # F1 levels off: healthy


def test_store_keeps_one_point_per_step_and_first():
    store = Store()
    pts = [_cm_point(s, [[1, 0, 0], [0, 1, 0], [0, 0, 1]]) for s in (5, 1, 3)]
    store.apply(Update(classifications=pts))
    assert [p.step for p in store.classification.points("r", "val")] == [1, 3, 5]
    again = _cm_point(3, [[2, 0, 0], [0, 2, 0], [0, 0, 2]])
    store.apply(Update(classifications=[again]))
    assert store.classification.points("r", "val")[1] is again
    assert store.classification.splits("r") == ["val"] and store.has_run("r")
    with pytest.raises(ValueError):
        from_json({"split": "val", "scalars": {}, "pr": [[0.5], [math.nan, 1]]}, "r", 1, 0.0)


def test_long_scoring_renews_the_connection(tmp_path, monkeypatch):
    import mlmon_tui.client as client

    monkeypatch.setattr(client, "RECONNECT_AFTER", 0.0)  # every scoring counts as long
    with SocketServer(tmp_path / "logs") as srv:
        with Monitor(run="r", address=srv.address) as mon:
            mon.log_predictions(1, [0, 1, 1, 0], [0.1, 0.8, 0.7, 0.2])
            assert mon.flush(5.0)
        assert wait_for(lambda: srv.stats["classifications"] == 1)
        assert srv.stats["connections"] >= 2 and mon.dropped == 0


def test_store_bounds_what_it_keeps(monkeypatch):
    from mlmon_tui.store import classification as sc

    monkeypatch.setattr(sc, "MAX_PER_SPLIT", 6)
    monkeypatch.setattr(sc, "KEEP_CONFUSION", 3)
    store = Store()
    cm = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]
    store.apply(Update(classifications=[_cm_point(s, [r[:] for r in cm]) for s in range(10)]))
    pts = store.classification.points("r", "val")
    assert [p.step for p in pts] == [0, 5, 6, 7, 8, 9]  # the first and the latest
    assert [p.confusion is not None for p in pts] == [True, False, False, True, True, True]
