"""A log tree's symbolic links are followed once, and the tools' own files are not metrics."""

from __future__ import annotations

import json
import os

from mlmon_tui.sources.logs import jsonl, registry
from mlmon_tui.sources.logs.tb_writer import EventWriter
from mlmon_tui.sources.watch.watcher import Watcher
from mlmon_tui.store import Store


def csv_run(d, n=3):
    d.mkdir(parents=True, exist_ok=True)
    (d / "metrics.csv").write_text("step,loss\n" + "".join(f"{i},{1 / (i + 1)}\n" for i in range(n)))


def load(root):
    store = Store()
    w = Watcher([root], store)
    w.load_once()
    return store, w


def test_link_to_the_parent_adds_no_runs(tmp_path):
    for r in "abc":
        csv_run(tmp_path / "runs" / r)
    os.symlink("..", tmp_path / "runs" / "a" / "up")
    os.symlink(tmp_path / "runs", tmp_path / "runs" / "c" / "loop")
    store, w = load(tmp_path / "runs")
    assert store.runs() == ["a", "b", "c"]
    assert all(len(files) == 1 for files in w.files().values())


def test_link_to_a_run_folder_reads_it_once_under_its_own_name(tmp_path):
    csv_run(tmp_path / "runs" / "run-1")
    csv_run(tmp_path / "runs" / "run-2")
    os.symlink("run-2", tmp_path / "runs" / "latest")  # like wandb/latest-run
    os.symlink(tmp_path / "runs" / "run-1" / "metrics.csv", tmp_path / "runs" / "a.csv")
    store, w = load(tmp_path / "runs")
    assert store.runs() == ["run-1", "run-2"]
    assert len(store.series("run-2", "loss")) == 3


def test_link_to_a_folder_outside_the_root_is_followed(tmp_path):
    csv_run(tmp_path / "elsewhere" / "r")
    (tmp_path / "root").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "root" / "more")
    store, _ = load(tmp_path / "root")
    assert store.runs() == ["more/r"]


def test_json_log_records_are_not_metrics(tmp_path):
    """W&B's debug-internal.log, Python JSON logging, structlog: level + message rows."""
    d = tmp_path / "run"
    d.mkdir()
    log = [{"time": "2026-01-01T00:00:00Z", "level": "INFO", "msg": "stream: started",
            "recordNumber": i, "totalOffloaded": 2 * i} for i in range(20)]
    (d / "service.log").write_text("".join(json.dumps(r) + "\n" for r in log))
    (d / "events.jsonl").write_text("".join(
        json.dumps({"levelname": "DEBUG", "message": "tick", "n": i}) + "\n" for i in range(5)))
    (d / "metrics.jsonl").write_text("".join(
        json.dumps({"step": i, "loss": 1.0 / (i + 1), "level": 3}) + "\n" for i in range(5)))
    assert registry.choose(d / "service.log") is None
    assert registry.choose(d / "events.jsonl") is None
    assert registry.choose(d / "metrics.jsonl") is jsonl  # `level` alone is a metric
    store, w = load(tmp_path)
    assert sorted(store.tags("run")) == ["level", "loss"]
    assert [os.path.basename(f) for f in w.files()["run"]] == ["metrics.jsonl"]


def test_log_rows_inside_a_metrics_file_are_dropped(tmp_path):
    f = tmp_path / "train.jsonl"
    rows = [{"step": 0, "loss": 1.0}, {"level": "warning", "msg": "slow", "step": 1, "x": 9},
            {"step": 2, "loss": 0.5}]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    store, _ = load(tmp_path)
    assert store.tags(".") == ["loss"]
    assert list(store.series(".", "loss").step) == [0, 2]


def test_tool_internal_folders_are_skipped(tmp_path):
    # W&B run folder internals and debug logs
    run = tmp_path / "wandb" / "offline-run-20260101_000000-abc"
    for sub in ("logs", "tmp", "files"):
        (run / sub).mkdir(parents=True)
    (run / "logs" / "debug-internal.log").write_text(
        json.dumps({"step": 1, "loss": 2.0}) + "\n" + json.dumps({"step": 2, "loss": 1.0}) + "\n")
    (run / "tmp" / "x.jsonl").write_text(json.dumps({"step": 1, "loss": 2.0}) + "\n")
    (tmp_path / "wandb" / "debug-internal.log").write_text(
        json.dumps({"step": 1, "v": 2.0}) + "\n" + json.dumps({"step": 2, "v": 1.0}) + "\n")
    # MLflow artifacts, TensorBoard profiler traces
    art = tmp_path / "mlruns" / "1" / "r1" / "artifacts"
    art.mkdir(parents=True)
    (tmp_path / "mlruns" / "1" / "r1" / "meta.yaml").write_text("run_id: r1\n")
    csv_run(art)
    prof = tmp_path / "tb" / "plugins" / "profile" / "2026_01_01"
    prof.mkdir(parents=True)
    (prof / "host.trace.json").write_text(json.dumps({"step": 1, "ms": 3.0}) + "\n")
    w = EventWriter(prof / "events.out.tfevents.1.host")
    w.add_scalar("x", 1.0, 1, 1.7e9)
    w.close()
    # a user's own `logs/` and `artifacts/` folders are read
    csv_run(tmp_path / "logs" / "mine")
    csv_run(tmp_path / "artifacts" / "other")
    store, w = load(tmp_path)
    assert sorted(store.runs()) == ["artifacts/other", "logs/mine"]
