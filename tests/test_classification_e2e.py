"""End to end: a real torch training loop on generated data logs its validation predictions
over a real socket to a running monitor's server; `export` of the log dir then gives the
scalars at every evaluation, a restarted monitor replays the curves and confusion matrices,
and `check` flags a run whose classifier collapsed to one class."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

torch = pytest.importorskip("torch", reason="PyTorch is not installed (test extra)")
skm = pytest.importorskip("sklearn.metrics", reason="scikit-learn is not installed (test extra)")
import numpy as np  # noqa: E402

from mlmon_tui.client import Monitor  # noqa: E402
from mlmon_tui.sources.socket.server import SocketServer  # noqa: E402
from test_socket_server import wait_for  # noqa: E402

LABELS = ["red", "green", "blue"]


def blobs(n: int, seed: int, weights=(1 / 3, 1 / 3, 1 / 3), signal: float = 1.0):
    g = torch.Generator().manual_seed(seed)
    y = torch.multinomial(torch.tensor(weights), n, replacement=True, generator=g)
    centres = torch.tensor([[0.0, 2.0], [2.0, -1.0], [-2.0, -1.0]])
    x = signal * centres[y] + torch.randn(n, 2, generator=g)
    return x, y


def train_and_log(mon: Monitor, xt, yt, xv, yv, epochs: int, split: str = "val"):
    """A small MLP trained with SGD; after each epoch its validation predictions are logged.
    Returns {step: (y_true, probabilities)} as the loop saw them."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    seen, step = {}, 0
    for _ in range(epochs):
        for i in range(0, len(xt), 32):
            loss = torch.nn.functional.cross_entropy(model(xt[i:i + 32]), yt[i:i + 32])
            opt.zero_grad()
            loss.backward()
            opt.step()
            step += 1
            mon.log(step, {"train/loss": loss.item()})
        with torch.no_grad():
            logits = model(xv)
        # logits straight from the model (the client applies the softmax), tensors as they are
        mon.log_predictions(step, yv, logits, split=split, labels=LABELS, logits=True)
        seen[step] = (yv.numpy().copy(), torch.softmax(logits, 1).numpy().astype(np.float64))
    return seen


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "mlmon_tui", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_torch_loop_to_socket_then_export_replay_and_check(tmp_path):
    logs = tmp_path / "logs"
    xt, yt = blobs(480, 1)
    xv, yv = blobs(240, 2)
    # a model trained on 95 % "red" with features that say nothing, judged on balanced labels
    xc, yc = blobs(480, 3, weights=(0.95, 0.025, 0.025), signal=0.0)
    xcv, ycv = blobs(240, 4, signal=0.0)
    with SocketServer(logs) as srv:
        with Monitor(run="blobs", address=srv.address) as mon:
            seen = train_and_log(mon, xt, yt, xv, yv, epochs=4)
            mon.flush(10.0)
        with Monitor(run="collapsed", address=srv.address) as mon2:
            train_and_log(mon2, xc, yc, xcv, ycv, epochs=3)
            mon2.flush(10.0)
        assert wait_for(lambda: srv.stats["classifications"] >= 7, timeout=10)
    assert mon.prediction_problems == [] and mon.dropped == 0

    r = run_cli("export", logs, "--format", "jsonl")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    got = {(x["tag"], x["step"]): x["value"] for x in rows if x["run"] == "blobs"}
    for step, (y, p) in seen.items():
        pred = p.argmax(1)
        want = {"val/accuracy": skm.accuracy_score(y, pred),
                "val/precision_macro": skm.precision_score(y, pred, average="macro",
                                                           zero_division=0),
                "val/recall_macro": skm.recall_score(y, pred, average="macro", zero_division=0),
                "val/f1_macro": skm.f1_score(y, pred, average="macro", zero_division=0),
                "val/roc_auc_macro": skm.roc_auc_score(y, p, multi_class="ovr")}
        for j, f in enumerate(skm.f1_score(y, pred, average=None, zero_division=0)):
            want[f"val/f1/{LABELS[j]}"] = f
        for tag, v in want.items():
            assert got[(tag, step)] == pytest.approx(v, abs=1e-5), (tag, step)
    assert got[("val/accuracy", max(seen))] > 0.8  # it did learn

    # a restarted monitor replays the curves and confusion matrices from the log dir
    from mlmon_tui.app.export import load

    store = load([str(logs)])
    points = store.classification.points("blobs", "val")
    assert [p.step for p in points] == sorted(seen)
    last = points[-1]
    y, p = seen[last.step]
    assert last.confusion == skm.confusion_matrix(y, p.argmax(1)).tolist()
    assert last.labels == LABELS and len(last.roc[0]) <= 201 and len(last.pr[0]) <= 201

    r = run_cli("check", logs, "--json")
    found = json.loads(r.stdout)
    found = found["findings"] if isinstance(found, dict) else found
    collapse = [f for f in found if f["kind"] == "class_collapse"]
    assert [f["run"] for f in collapse] == ["collapsed"], found
    assert "'red'" in collapse[0]["message"] and "balanced" in collapse[0]["message"]


def test_bad_predictions_log_nothing_and_say_why(tmp_path, capsys):
    logs = tmp_path / "logs"
    with SocketServer(logs) as srv:
        with Monitor(run="r", address=srv.address) as mon:
            mon.log_predictions(1, [0, 1, 1], [0.2, float("nan"), 0.9])
            mon.log_predictions(2, [], [])
            mon.log_predictions(3, [0, 1, 1], [0.2, 0.4])
            mon.log_predictions(4, [0, 1, 1, 0], torch.tensor([0.1, 0.8, 0.6, 0.3]))
            assert mon.flush(10.0)
        assert wait_for(lambda: srv.stats["classifications"] >= 1)
    lines = [json.loads(x) for x in (logs / "r" / "mlmon-socket.jsonl").read_text().splitlines()]
    assert sorted({x["step"] for x in lines}) == [4]
    assert len(mon.prediction_problems) == 3
    assert "step=1" in mon.prediction_problems[0] and "1 NaN" in mon.prediction_problems[0]
    assert "no predictions" in mon.prediction_problems[1]
    assert "3 entries but y_score 2" in mon.prediction_problems[2]
    err = capsys.readouterr().err
    assert "nothing logged for this step" in err


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_tensors_are_copied_without_blocking(tmp_path):
    dev = torch.device("cuda")
    y = torch.randint(0, 3, (10_000,), device=dev)
    z = torch.randn(10_000, 3, device=dev)
    z[torch.arange(10_000, device=dev), y] += 1.0
    spool = tmp_path / "r" / "mlmon-socket.jsonl"
    with Monitor(run="r", address="unix:/nonexistent/x.sock", spool=str(spool)) as mon:
        mon.log_predictions(5, y, z, logits=True)
        z.zero_()  # changed in place right after the call: the snapshot must not see it
        assert mon.flush(10.0)
    rec = [json.loads(x) for x in spool.read_text().splitlines()]
    acc = rec[0]["metrics"]["val/accuracy"]
    assert acc > 0.5 and mon.prediction_problems == []
