"""The headless check on real TensorBoard event files written by tensorboardX."""

import json
import os
import subprocess
import sys
from pathlib import Path

from reallogs import REAL_LOGS, REASON

import numpy as np
import pytest

from mlmon_tui.app.check import parse_time, run_check

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _check(*args):
    env = dict(os.environ, PYTHONPATH=SRC)
    return subprocess.run([sys.executable, "-m", "mlmon_tui.app.check", *map(str, args)],
                          capture_output=True, text=True, env=env, timeout=120)


def _write_runs(root: Path, t0: float = 1_700_000_000.0):
    tbx = pytest.importorskip("tensorboardX")
    rng = np.random.default_rng(0)
    n = 400
    loss = 0.3 + 2.0 * (1 + np.arange(n) / 20.0) ** -0.7 * np.exp(0.03 * rng.standard_normal(n))
    for run, bad_at in (("healthy", None), ("broken", 300)):
        w = tbx.SummaryWriter(str(root / run))
        for i in range(n):
            v = float("nan") if bad_at is not None and i >= bad_at else float(loss[i])
            w.add_scalar("train/loss", v, i, walltime=t0 + i)
            w.add_scalar("lr", 1e-3, i, walltime=t0 + i)
        w.close()
    return t0 + n


@pytest.fixture
def runs(tmp_path):
    pytest.importorskip("mlmon_tui.sources.logs.tfevents")
    end = _write_runs(tmp_path)
    return tmp_path, end


def test_json_findings_and_exit_code(runs):
    root, end = runs
    out = _check(root, "--json", "--now", end + 5)
    assert out.returncode == 1, out.stderr
    found = json.loads(out.stdout)
    assert [(f["run"], f["kind"], f["tag"], f["step"], f["severity"]) for f in found] == [
        ("broken", "nan", "train/loss", 300, "error")]
    assert set(found[0]) == {"run", "kind", "tag", "tags", "step", "severity", "wall_time",
                             "value", "message"}
    assert found[0]["tags"] == ["train/loss"]
    assert found[0]["wall_time"] == pytest.approx(1_700_000_300.0)


def test_text_output_and_fail_on(runs):
    root, end = runs
    healthy = _check(root / "healthy", "--now", end + 5)
    assert healthy.returncode == 0, healthy.stderr
    assert "no findings in 1 run" in healthy.stdout
    # a stall (warning) judged against a later time, with ISO 8601 --now
    later = "2023-11-14T23:00:00Z"  # about 1.5 h after the last point
    warn = _check(root / "healthy", "--now", later, "--fail-on", "warning")
    assert warn.returncode == 1
    assert "stall" in warn.stdout and "no new data for" in warn.stdout
    assert _check(root / "healthy", "--now", later).returncode == 0  # default: errors only


def test_config_file_changes_thresholds(runs, tmp_path):
    root, end = runs
    cfg = tmp_path / "h.toml"
    cfg.write_text("[health]\nstall_min_s = 100000\n")
    out = _check(root / "healthy", "--now", "2023-11-14T23:00:00Z", "--fail-on", "warning",
                 "--config", cfg)
    assert out.returncode == 0, out.stdout


def test_usage_errors_exit_2(tmp_path, capsys):
    assert run_check([str(tmp_path / "missing")], json_out=False, fail_on="error", now=None,
                     config=None) == 2
    assert "no such file or directory" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[health]\nnot_a_key = 1\n")
    assert run_check([str(tmp_path)], json_out=False, fail_on="error", now=None,
                     config=bad) == 2
    assert "unknown [health] key" in capsys.readouterr().err
    out = _check(tmp_path, "--now", "next tuesday")
    assert out.returncode == 2 and "not a time" in out.stderr
    (tmp_path / "notes.txt").write_text("not a log\n")
    out = _check(tmp_path)
    assert out.returncode == 0 and "no training logs found" in out.stderr


def test_parse_time():
    assert parse_time("1700000000") == 1_700_000_000.0
    assert parse_time("2023-11-14T22:13:20Z") == 1_700_000_000.0
    assert parse_time("2023-11-15T00:13:20+02:00") == 1_700_000_000.0
    assert parse_time("2023-11-14 22:13:20") == 1_700_000_000.0
    with pytest.raises(ValueError):
        parse_time("soon")


REAL = REAL_LOGS
REAL_DIRS = ["pedramfekri__OCTTextureDetector", "CursedSeraphim__process-tensorboard-logs",
             "0Xero7__slm_training", "Dheena731__tinyLlama-finetune"]


def test_real_logs_one_true_overfit_and_no_false_alarm():
    """Real runs: a Keras fit whose validation loss climbs from epoch 3 while training keeps
    falling (0.46 -> 1.3 vs 0.86 -> 0.07), and single-epoch validation jumps in two Keras
    fits (3.1 between 0.98 and 1.01; 0.62 between 0.011 and 0.004), next to healthy Keras,
    RL (DQN/PPO with rising losses and NaN-prefixed rewards), Lightning and Hugging Face runs
    that must stay quiet."""
    pytest.importorskip("mlmon_tui.sources.logs.tfevents")
    if not REAL.exists():
        pytest.skip(REASON)
    out = _check(*[REAL / d for d in REAL_DIRS], "--json", "--fail-on", "warning")
    assert out.returncode == 1, out.stderr
    found = json.loads(out.stdout)
    fit = "pedramfekri__OCTTextureDetector/Train/logs/fit/"
    assert sorted((f["run"], f["kind"], f["tag"], f["step"]) for f in found) == sorted([
        (fit + "20220104-193303/validation", "overfitting", "epoch_loss", 3),
        (fit + "20220104-193303/validation", "spike", "epoch_loss", 31),
        (fit + "20220104-193303/validation", "spike", "evaluation_loss_vs_iterations", 10240),
        (fit + "20220106-123415/validation", "spike", "epoch_loss", 10),
        (fit + "20220106-123415/validation", "spike", "evaluation_loss_vs_iterations", 2310)])
    over = next(f for f in found if f["kind"] == "overfitting")
    assert "train/epoch_loss keeps falling" in over["message"]
    assert {"best_step", "gap", "ratio"} <= set(over["extra"])


def test_real_keras_csv_single_epoch_validation_spike():
    """A 17-epoch Keras `training.log` whose val_loss jumps 5x for epoch 1 and comes back."""
    d = REAL / "Aditya24jar__Emotion-Detection-Resnet50"
    if not d.exists():
        pytest.skip("real logs not present")
    found = json.loads(_check(d, "--json").stdout)
    assert [(f["kind"], f["tag"], f["step"]) for f in found] == [("spike", "val_loss", 1)]


def test_gradient_histograms_first_layer_collapse(tmp_path):
    """Per-layer gradient histograms (as `add_histogram` of each parameter's grad writes them):
    the first layer's norm collapses while the last one's stays; found at its onset."""
    pytest.importorskip("mlmon_tui.sources.logs.tfevents")
    tbx = pytest.importorskip("tensorboardX")
    rng = np.random.default_rng(0)
    w = tbx.SummaryWriter(str(tmp_path / "run"))
    onset = 100  # where the first layer's gradients start to shrink (x e every 20 steps)
    for step in range(300):
        scale0 = 1.0 if step < onset else max(np.exp(-(step - onset) * 0.05), 1e-5)
        for k, scale in ((0, scale0), (1, 1.0), (2, 1.0)):
            g = rng.standard_normal(64) * scale
            w.add_histogram(f"gradients/layer{k}.weight", g, step, walltime=1.7e9 + step)
        w.add_scalar("train/loss", float(2.0 / (1 + step / 50)), step, walltime=1.7e9 + step)
    w.close()
    out = _check(tmp_path, "--json", "--now", 1.7e9 + 301, "--fail-on", "warning")
    found = json.loads(out.stdout)
    hits = [f for f in found if f["kind"] == "vanishing_gradients"]
    assert [f["tag"] for f in hits] == ["gradients/layer0.weight"], out.stdout + out.stderr
    assert abs(hits[0]["step"] - onset) <= 10
    assert out.returncode == 1
