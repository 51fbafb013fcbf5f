"""Writes the demo's simulated training as real log files, one format per run.

`python -m mlmon_tui.app.demo_write DIR` runs live (a few steps per second) until killed;
`--until STEP --t0 SECONDS` writes a fixed history and exits (screenshots, tests).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import shutil
import signal
import sys
import time
from pathlib import Path

from mlmon_tui.app import demo_sim as sim

TOTAL_STEPS = 3000
EVAL_EVERY = 50
EPOCH_STEPS = 100


def _num(v: float):
    return v if math.isfinite(v) else str(v)  # JSON has no NaN; readers accept "nan"


class TbRun:
    def __init__(self, root: Path, p: sim.Profile) -> None:
        from mlmon_tui.sources.logs.tfevents import EventWriter

        d = root / p.name
        d.mkdir(parents=True, exist_ok=True)
        self.p = p
        self.w = EventWriter(d / f"events.out.tfevents.{int(time.time())}.demo.{os.getpid()}.0")
        self.dead = False
        self.inside = p.name == "tb/resnet-baseline"  # one run shows the model's inside

    def step(self, s: int, wall: float) -> None:
        if self.dead:
            return
        if self.inside and s % INSIDE_EVERY == 0:
            _write_inside(self.w, s, wall)
        p = self.p
        loss = sim.train_loss_at(p, s)
        self.w.add_scalar("train/loss", loss, s, wall)
        self.w.add_scalar("train/grad_norm", sim.grad_norm_at(p, s), s, wall)
        self.w.add_scalar("train/lr", sim.lr_at(p, s, TOTAL_STEPS), s, wall)
        if s % EVAL_EVERY == 0:
            vl = sim.val_loss_at(p, s)
            self.w.add_scalar("val/loss", vl, s, wall)
            self.w.add_scalar("val/acc", sim.accuracy_from_loss(vl), s, wall)
        if not math.isfinite(loss):
            self.dead = True  # a run that hit NaN stops, as real ones crash

    def flush(self) -> None:
        self.w.flush()


INSIDE_EVERY = 25


def _write_inside(w, s: int, wall: float) -> None:
    """Weight and activation histograms (the scalar statistics `watch` also logs are left
    out: their charts would push the losses off the demo's first screen; the analysis
    derives the same from the activation histograms)."""
    import numpy as np

    rng = np.random.default_rng(s)  # the same history every time (screenshots)
    t = s / TOTAL_STEPS
    for layer, scale in (("conv1", 0.30), ("conv2", 0.12), ("fc", 0.05)):
        w.add_histogram(f"weights/{layer}", rng.normal(0, scale * (1 + 0.8 * t), 4000), s,
                        wall=wall)
    for layer, shift in (("relu1", 0.2), ("relu2", -0.3 - 0.5 * t)):
        a = np.maximum(rng.normal(shift, 1 + t, 4000), 0)
        w.add_histogram(f"activations/{layer}", a, s, wall=wall)


class LightningRun:
    """Lightning's CSVLogger: sparse rows; the file is rewritten when a new key appears."""

    def __init__(self, root: Path, p: sim.Profile) -> None:
        self.dir = root / p.name
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "hparams.yaml").write_text("lr: 0.1\nbatch_size: 64\noptimizer: adamw\n")
        self.p, self.rows, self.keys, self.pending, self.rewrite = p, [], [], [], False

    def step(self, s: int, wall: float) -> None:
        p = self.p
        epoch = s // EPOCH_STEPS
        self._add({"epoch": epoch, "step": s, "train_loss": sim.train_loss_at(p, s)})
        if s % 10 == 0:
            self._add({"lr-AdamW": sim.lr_at(p, s, TOTAL_STEPS), "step": s})
        if s % EPOCH_STEPS == EPOCH_STEPS - 1:
            vl = sim.val_loss_at(p, s)
            self._add({"epoch": epoch, "step": s, "val_loss": vl,
                       "val_acc": sim.accuracy_from_loss(vl)})

    def _add(self, row: dict) -> None:
        for k in row:
            if k not in self.keys:
                self.keys.append(k)
                self.rewrite = True
        self.rows.append(row)
        self.pending.append(row)

    def flush(self) -> None:
        path = self.dir / "metrics.csv"
        header = sorted(self.keys)
        if self.rewrite:
            with open(path, "w", newline="") as f:
                w = csv.DictWriter(f, fieldnames=header)
                w.writeheader()
                w.writerows(self.rows)
            self.rewrite = False
        elif self.pending:
            with open(path, "a", newline="") as f:
                csv.DictWriter(f, fieldnames=header).writerows(self.pending)
        self.pending = []


class KerasRun:
    def __init__(self, root: Path, p: sim.Profile) -> None:
        d = root / p.name
        d.mkdir(parents=True, exist_ok=True)
        self.path, self.p = d / "training.log", p
        with open(self.path, "w", newline="") as f:
            f.write("epoch,accuracy,loss,val_accuracy,val_loss\n")

    def step(self, s: int, wall: float) -> None:
        if s % EPOCH_STEPS != EPOCH_STEPS - 1:
            return
        e = s // EPOCH_STEPS
        loss, vl = sim.train_loss_at(self.p, e), sim.val_loss_at(self.p, e)
        with open(self.path, "a", newline="") as f:
            f.write(f"{e},{sim.accuracy_from_loss(loss):.6f},{loss:.6f},"
                    f"{sim.accuracy_from_loss(vl):.6f},{vl:.6f}\n")

    def flush(self) -> None:
        pass


class JsonlRun:
    def __init__(self, root: Path, p: sim.Profile) -> None:
        d = root / p.name
        d.mkdir(parents=True, exist_ok=True)
        self.f, self.p = open(d / "metrics.jsonl", "a"), p

    def step(self, s: int, wall: float) -> None:
        p = self.p
        rec = {"step": s, "time": round(wall, 3), "train": {
            "loss": _num(sim.train_loss_at(p, s)), "grad_norm": _num(sim.grad_norm_at(p, s))}}
        if s % EVAL_EVERY == 0:
            rec["val"] = {"loss": _num(sim.val_loss_at(p, s))}
        self.f.write(json.dumps(rec) + "\n")

    def flush(self) -> None:
        self.f.flush()


class HfRun:
    """trainer_state.json, rewritten whole at every checkpoint."""

    def __init__(self, root: Path, p: sim.Profile) -> None:
        self.dir = root / p.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.p, self.history, self.last_step = p, [], 0

    def step(self, s: int, wall: float) -> None:
        p, epoch = self.p, round(s / EPOCH_STEPS, 2)
        self.last_step = s
        if s % 10 == 0 and s:
            self.history.append({"epoch": epoch, "grad_norm": sim.grad_norm_at(p, s),
                                 "learning_rate": sim.lr_at(p, s, TOTAL_STEPS),
                                 "loss": round(sim.train_loss_at(p, s), 4), "step": s})
        if s % 100 == 0 and s:
            self.history.append({"epoch": epoch, "eval_loss": sim.val_loss_at(p, s),
                                 "eval_runtime": 3.2, "step": s})

    def flush(self) -> None:
        state = {"best_metric": None, "epoch": self.last_step / EPOCH_STEPS,
                 "global_step": self.last_step, "log_history": self.history,
                 "logging_steps": 10, "max_steps": TOTAL_STEPS,
                 "num_train_epochs": TOTAL_STEPS // EPOCH_STEPS, "train_batch_size": 16}
        tmp = self.dir / "trainer_state.json.tmp"
        tmp.write_text(json.dumps(state, indent=2))
        os.replace(tmp, self.dir / "trainer_state.json")


class MlflowRun:
    def __init__(self, root: Path, p: sim.Profile) -> None:
        exp = root / "mlruns" / "1"
        run = exp / "3f2a9c0d1e7b4a5c9d8e7f6a5b4c3d2e"
        (run / "metrics").mkdir(parents=True, exist_ok=True)
        (run / "params").mkdir(exist_ok=True)
        (run / "tags").mkdir(exist_ok=True)
        (exp / "meta.yaml").write_text(
            "artifact_location: mlruns/1\nexperiment_id: '1'\nlifecycle_stage: active\nname: demo\n")
        (run / "meta.yaml").write_text(
            "run_id: 3f2a9c0d1e7b4a5c9d8e7f6a5b4c3d2e\nrun_name: mlp-sweep-3\nexperiment_id: '1'\n"
            "status: 1\nlifecycle_stage: active\n")
        (run / "tags" / "mlflow.runName").write_text("mlp-sweep-3")
        (run / "params" / "lr").write_text("0.05")
        self.files = {k: open(run / "metrics" / k, "a") for k in ("loss", "val_loss")}
        self.p = p

    def step(self, s: int, wall: float) -> None:
        ms = int(wall * 1000)
        if s % 5 == 0:
            self.files["loss"].write(f"{ms} {sim.train_loss_at(self.p, s)} {s}\n")
        if s % EVAL_EVERY == 0:
            self.files["val_loss"].write(f"{ms} {sim.val_loss_at(self.p, s)} {s}\n")

    def flush(self) -> None:
        for f in self.files.values():
            f.flush()


class MlflowDbRun:
    """MLflow's default SQLite store (`mlflow.db`), written with sqlite3 in the subset of
    MLflow's schema its reader uses (experiments, runs, params, metrics), one commit per step
    as MLflow's log_metric does; NaN stored as MLflow stores it (0 with is_nan set)."""

    RUN = "9c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f"

    def __init__(self, root: Path, p: sim.Profile) -> None:
        import sqlite3

        d = root / "mlflow-db"
        d.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(d / "mlflow.db", isolation_level=None)
        self.db.execute("PRAGMA synchronous = OFF")  # a demo: no fsync per step
        self.db.executescript("""
            CREATE TABLE IF NOT EXISTS experiments (experiment_id INTEGER PRIMARY KEY,
                name VARCHAR(256) NOT NULL, lifecycle_stage VARCHAR(32));
            CREATE TABLE IF NOT EXISTS runs (run_uuid VARCHAR(32) PRIMARY KEY, name VARCHAR(250),
                status VARCHAR(20), start_time BIGINT, lifecycle_stage VARCHAR(20),
                experiment_id INTEGER);
            CREATE TABLE IF NOT EXISTS params (key VARCHAR(250), value VARCHAR(8000) NOT NULL,
                run_uuid VARCHAR(32), PRIMARY KEY (key, run_uuid));
            CREATE TABLE IF NOT EXISTS metrics (key VARCHAR(250), value FLOAT NOT NULL,
                timestamp BIGINT, step BIGINT NOT NULL, is_nan BOOLEAN NOT NULL,
                run_uuid VARCHAR(32), PRIMARY KEY (key, timestamp, step, run_uuid, value, is_nan));
            CREATE INDEX IF NOT EXISTS index_metrics_run_uuid ON metrics (run_uuid);
        """)
        self.db.execute("INSERT OR IGNORE INTO experiments VALUES (1, 'demo-sqlite', 'active')")
        self.db.execute("INSERT OR IGNORE INTO runs VALUES (?, 'cnn-sweep-1', 'RUNNING', ?, "
                        "'active', 1)", (self.RUN, int(time.time() * 1000)))
        self.db.executemany("INSERT OR IGNORE INTO params VALUES (?, ?, ?)",
                            [("lr", str(p.lr), self.RUN), ("batch_size", "128", self.RUN),
                             ("optimizer", "sgd", self.RUN)])
        self.p = p

    def step(self, s: int, wall: float) -> None:
        rows = []
        if s % 5 == 0:
            rows.append(("train_loss", sim.train_loss_at(self.p, s)))
        if s % EVAL_EVERY == 0:
            rows.append(("val_loss", sim.val_loss_at(self.p, s)))
        if rows:
            ms = int(wall * 1000)
            self.db.executemany(
                "INSERT OR IGNORE INTO metrics VALUES (?, ?, ?, ?, ?, ?)",
                [(k, 0.0 if math.isnan(v) else v, ms, s, math.isnan(v), self.RUN)
                 for k, v in rows])

    def flush(self) -> None:
        pass


class SocketRun:
    """Pushes its metrics to the monitor over the local socket with the client."""

    def __init__(self, root: Path, p: sim.Profile, address: str) -> None:
        from mlmon_tui.client import Monitor

        self.m = Monitor(run=p.name, address=address, hparams={"lr": p.lr, "model": "mlp"})
        self.p = p

    def step(self, s: int, wall: float) -> None:
        if wall < time.time() - 1.0:
            return  # the client stamps the time of the call: it joins when the demo goes live
        p = self.p
        metrics = {"loss": sim.train_loss_at(p, s), "grad_norm": sim.grad_norm_at(p, s)}
        if s % EVAL_EVERY == 0:
            metrics["val_loss"] = sim.val_loss_at(p, s)
            # the classification view (key c): curves and confusion matrix from predictions
            self.m.log_predictions(s, *sim.predictions_at(p, s), labels=sim.CLASSES)
        self.m.log(s, **metrics)

    def flush(self) -> None:
        pass


def make_runs(root: Path, address: str | None, t0: float | None = None) -> list:
    by_name = {p.name: p for p in sim.PROFILES}
    runs: list = []
    for name in ("tb/resnet-baseline", "tb/resnet-overfit", "tb/lr-too-high"):
        runs.append(TbRun(root, by_name[name]))
    for cls, name in ((LightningRun, "lightning/version_0"), (KerasRun, "keras"),
                      (JsonlRun, "jsonl/run-a"), (HfRun, "hf-trainer"), (MlflowRun, "mlflow"),
                      (MlflowDbRun, "mlflow-db")):
        runs.append(cls(root, by_name[name]))
    from mlmon_tui.app.demo_wandb import WandbRun

    runs.append(WandbRun(root, by_name["wandb/noble-sun-7"], TOTAL_STEPS, t0))
    if address:
        try:
            runs.append(SocketRun(root, by_name["socket/pushed"], address))
        except ImportError:
            pass
    return runs


def write(root: Path, *, rate: float = 4.0, prefill: int = 400, until: int | None = None,
          t0: float | None = None, address: str | None = None, owned: bool = False) -> None:
    """`owned`: the folder is the demo's own temporary one, removed if the monitor dies."""
    runs = make_runs(root, address, t0)
    start = time.time() if t0 is None else t0
    first_live = prefill if until is None else until + 1
    t_hist = start - first_live / rate if until is None else start
    for s in range(min(first_live, TOTAL_STEPS)):
        for r in runs:
            r.step(s, t_hist + s / rate)
        if s % 50 == 49:
            for r in runs:
                r.flush()
    for r in runs:
        r.flush()
    if until is not None:
        return
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    parent = os.getppid()
    next_t = time.monotonic()
    for s in range(first_live, TOTAL_STEPS):
        next_t += 1.0 / rate
        time.sleep(max(0.0, next_t - time.monotonic()))
        if stop:
            break
        if os.getppid() != parent:  # the monitor died without stopping us (SIGKILL, hang-up)
            if owned:
                shutil.rmtree(root, ignore_errors=True)
            break
        now = time.time()
        for r in runs:
            r.step(s, now)
            r.flush()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mlmon_tui.app.demo_write")
    ap.add_argument("dir")
    ap.add_argument("--rate", type=float, default=4.0, help="steps per second")
    ap.add_argument("--prefill", type=int, default=400)
    ap.add_argument("--until", type=int, default=None)
    ap.add_argument("--t0", type=float, default=None)
    ap.add_argument("--address", default=None)
    ap.add_argument("--owned", action="store_true",
                    help="remove DIR if the monitor that started this writer dies")
    a = ap.parse_args(argv)
    try:
        write(Path(a.dir), rate=a.rate, prefill=a.prefill, until=a.until, t0=a.t0,
              address=a.address, owned=a.owned)
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
