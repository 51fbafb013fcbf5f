"""The new health behaviours end to end through `mlmon-tui check --json`, on files written
the way the real tools write them: TF2 tensor scalars from a Keras fit, a JSON-lines log with
a pause inside it, a Hugging Face `trainer_state.json`, and one event on many tags."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tbwrite

SRC = str(Path(__file__).resolve().parents[1] / "src")
T0 = 1_700_000_000.0


def _check(*args):
    env = dict(os.environ, PYTHONPATH=SRC)
    out = subprocess.run([sys.executable, "-m", "mlmon_tui.app.check", "--json", *map(str, args)],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode in (0, 1), out.stderr
    return json.loads(out.stdout)


def test_tf2_tensor_scalars_divergence_against_the_best(tmp_path):
    """A Keras fit (TF2 `tf.summary.scalar` tensors, runs m/train and m/validation) whose
    training loss falls for 25 epochs, then climbs to 2.5x its minimum and stays there, still
    below its first value: divergence dated where the climb left the minimum."""
    pytest.importorskip("mlmon_tui.sources.logs.tfevents")
    rng = np.random.default_rng(1)
    n, onset = 45, 25
    e = np.arange(n, dtype=float)
    loss = 0.3 + 2.0 * np.exp(-e / 6.0)
    up = np.clip((e - onset) / 3.0, 0, 1)
    loss = loss * (1 - up) + up * 2.5 * loss[onset]
    loss *= np.exp(0.01 * rng.standard_normal(n))
    val = 0.4 + 2.0 * np.exp(-e / 6.0)
    for run, values in (("train", loss), ("validation", val)):
        d = tmp_path / "m" / run
        d.mkdir(parents=True)
        events = [tbwrite.version_event(T0)] + [
            tbwrite.tf2("epoch_loss", tbwrite.tensor(float(v)), i, "scalars" if i == 0 else None,
                        wall=T0 + 30 * i) for i, v in enumerate(values)]
        tbwrite.write(d / f"events.out.tfevents.{int(T0)}.host.1.v2", events)
    found = _check(tmp_path)
    div = [f for f in found if f["kind"] == "divergence"]
    assert [(f["run"], f["tag"]) for f in div] == [("m/train", "epoch_loss")], found
    assert abs(div[0]["step"] - onset) <= 1
    assert loss[-1] < loss[0]  # ended below where it started: judged against the best


def test_jsonl_stall_inside_a_finished_log(tmp_path):
    """JSON lines with `time`, several metrics per row, every ~5 s; one 40-minute pause; read
    long after the end (no `--now` needed): the pause is a stall at the step before it."""
    rng = np.random.default_rng(2)
    n, gap_after = 600, 347
    t = T0 + np.cumsum(rng.uniform(4, 6, n))
    t[gap_after + 1 :] += 2400
    with open(tmp_path / "metrics.jsonl", "w") as f:
        for i in range(n):
            f.write(json.dumps({"step": i, "time": t[i], "loss": 2.0 / (1 + i / 50),
                                "learning_rate": 1e-4, "grad_norm": 1.0}) + "\n")
    found = _check(tmp_path)
    stalls = [f for f in found if f["kind"] == "stall"]
    assert [f["step"] for f in stalls] == [gap_after], found
    assert stalls[0]["tag"] == "loss" and "40 min" in stalls[0]["message"]
    assert [f for f in found if f["kind"] != "stall"] == []


def test_hf_trainer_state_sparse_evaluation_overfits(tmp_path):
    """trainer_state.json: `loss` every 10 steps, `eval_loss` every 250 (10 evaluations),
    the last four rising from the best while the training loss keeps falling."""
    log = []
    for s in range(10, 2501, 10):
        log.append({"step": s, "epoch": s / 250, "loss": round(2.0 * np.exp(-s / 600) + 0.05, 4)})
    val = [1.8, 1.2, 0.9, 0.75, 0.7, 0.69, 0.72, 0.76, 0.8, 0.85]
    for k, v in enumerate(val):
        log.append({"step": 250 * (k + 1), "epoch": k + 1.0, "eval_loss": v})
    log.sort(key=lambda r: r["step"])
    (tmp_path / "trainer_state.json").write_text(json.dumps(
        {"global_step": 2500, "max_steps": 2500, "log_history": log}))
    found = _check(tmp_path)
    over = [f for f in found if f["kind"] == "overfitting"]
    assert [(f["tag"], f["step"]) for f in over] == [("eval_loss", 1500)], found
    extra = over[0]["extra"]
    assert extra["best_step"] == 1500 and extra["evals_since_best"] >= 3
    assert extra["gap"] > 0 and 0 < extra["ratio"] < 1


def test_one_event_on_many_tags_is_one_finding(tmp_path):
    """Every layer's gradient norm blows up at the same step (tensorboardX scalars): one
    exploding-gradients finding naming all the tags, in JSON (`tag` first, `tags` all) and
    in the text output."""
    tbx = pytest.importorskip("tensorboardX")
    pytest.importorskip("mlmon_tui.sources.logs.tfevents")
    rng = np.random.default_rng(3)
    w = tbx.SummaryWriter(str(tmp_path / "run"))
    tags = ["grad_norm"] + [f"grad_norm/layer{k}" for k in range(5)]
    for i in range(800):
        blow = 1.0 if i < 500 else 50.0 * np.exp((i - 500) / 80)
        for k, tag in enumerate(tags):
            w.add_scalar(tag, float((1 + 0.2 * k) * np.exp(0.1 * rng.standard_normal()) * blow),
                         i, walltime=T0 + i)
        w.add_scalar("train/loss", float(2.0 / (1 + i / 100)) * (1 if i < 500 else 1 + (i - 500) / 10),
                     i, walltime=T0 + i)
    w.close()
    found = _check(tmp_path)
    exp = [f for f in found if f["kind"] == "exploding_gradients"]
    assert len(exp) == 1, found
    assert exp[0]["tag"] == "grad_norm" and sorted(exp[0]["tags"]) == sorted(tags)
    assert exp[0]["step"] == 500 and "6 in all" in exp[0]["message"]
    env = dict(os.environ, PYTHONPATH=SRC)
    text = subprocess.run([sys.executable, "-m", "mlmon_tui.app.check", str(tmp_path)],
                          capture_output=True, text=True, env=env, timeout=120).stdout
    assert sum("exploding_gradients" in line for line in text.splitlines()) == 1
    assert "(+5 more tags)" in text
