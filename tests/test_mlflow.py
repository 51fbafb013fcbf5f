"""MLflow file store, written the way mlflow's FileStore writes it (mlflow itself is not a
dependency): meta.yaml files, one `timestamp value step` line appended per logged metric."""

import math

from mlmon_tui.sources.logs import csvlog
from mlmon_tui.sources.logs import jsonl
from mlmon_tui.sources.logs import mlflow
from mlmon_tui.sources.logs.registry import read_head
from mlmon_tui.store.store import Store


class FileStore:
    """The layout and line format of mlflow.store.tracking.file_store.FileStore."""

    def __init__(self, root):
        self.root = root / "mlruns"

    def experiment(self, exp_id, name):
        d = self.root / exp_id
        d.mkdir(parents=True)
        (d / "meta.yaml").write_text(
            f"artifact_location: file://{d}\nexperiment_id: '{exp_id}'\n"
            f"lifecycle_stage: active\nname: {name}\n")
        return d

    def run(self, exp_id, run_id, run_name=None, tag_name=None):
        d = self.root / exp_id / run_id
        for sub in ("metrics", "params", "tags", "artifacts"):
            (d / sub).mkdir(parents=True)
        meta = f"artifact_uri: file://{d}/artifacts\nexperiment_id: '{exp_id}'\n"
        meta += "lifecycle_stage: active\n" + (f"run_name: {run_name}\n" if run_name else "name: ''\n")
        meta += f"run_id: {run_id}\nstatus: 1\n"
        (d / "meta.yaml").write_text(meta)
        if tag_name:
            (d / "tags" / "mlflow.runName").write_text(tag_name)
        return d

    @staticmethod
    def log_metric(run_dir, key, value, timestamp_ms, step):
        p = run_dir / "metrics" / key
        p.parent.mkdir(parents=True, exist_ok=True)
        with open(p, "a") as f:
            f.write("%s %s %s\n" % (timestamp_ms, value, step))
        return p

    @staticmethod
    def log_param(run_dir, key, value):
        (run_dir / "params" / key).write_text(str(value))


def test_live_metric_names_params_and_nested_keys(tmp_path):
    fs = FileStore(tmp_path)
    fs.experiment("0", "Default")
    fs.experiment("42", "mnist sweep")
    run = fs.run("42", "a1b2c3", run_name="brave-owl-7")
    fs.log_param(run, "lr", 0.01)
    fs.log_param(run, "optimizer", "adam")
    path = fs.log_metric(run, "train/loss", 2.5, 1_700_000_000_000, 0)
    assert mlflow.probe(path, read_head(path)) == 80
    src = mlflow.open_source(path, tmp_path)
    assert src.run == "mnist sweep/brave-owl-7"
    store = Store()
    update = src.poll()
    assert update.meta == {src.run: {"hparams": {"lr": "0.01", "optimizer": "adam"}}}
    store.apply(update)
    for step in range(1, 4):
        fs.log_metric(run, "train/loss", 2.5 - step / 2, 1_700_000_000_000 + 1000 * step, step)
    with open(path, "a") as f:
        f.write("1700000009000 nan")  # half-written
    store.apply(src.poll())
    s = store.series(src.run, "train/loss")
    assert s.step.tolist() == [0, 1, 2, 3] and s.value.tolist() == [2.5, 2.0, 1.5, 1.0]
    assert s.wall.tolist()[:2] == [1_700_000_000.0, 1_700_000_001.0]
    with open(path, "a") as f:
        f.write(" 9\n")
    store.apply(src.poll())
    assert math.isnan(store.series(src.run, "train/loss").value[-1])


def test_run_name_falls_back_to_tag_file_then_ids(tmp_path):
    fs = FileStore(tmp_path)
    fs.experiment("1", "exp")
    tagged = fs.run("1", "r1", tag_name="from-tag")
    bare = fs.run("1", "r2")
    p1 = fs.log_metric(tagged, "acc", 0.5, 1, 0)
    p2 = fs.log_metric(bare, "acc", 0.5, 1, 0)
    assert mlflow.open_source(p1, tmp_path).run == "exp/from-tag"
    assert mlflow.open_source(p2, tmp_path).run == "exp/r2"
    # a root above the store keeps where the store lies, so two stores do not mix
    assert mlflow.open_source(p2, tmp_path.parent).run == f"{tmp_path.name}/exp/r2"


def test_only_metric_files_are_taken(tmp_path):
    fs = FileStore(tmp_path)
    fs.experiment("1", "exp")
    run = fs.run("1", "r1", run_name="x")
    fs.log_param(run, "epochs", 10)
    fs.log_metric(run, "loss", 1.0, 1, 0)
    others = [run / "meta.yaml", run / "params" / "epochs", tmp_path / "mlruns" / "1" / "meta.yaml"]
    for p in others:
        for mod in (mlflow, csvlog, jsonl):
            assert mod.probe(p, read_head(p)) == 0, (mod, p)
    loose = tmp_path / "metrics" / "loss"  # a `metrics` folder that is not in a store
    loose.parent.mkdir()
    loose.write_text("1 2.0 3\n")
    assert mlflow.probe(loose, read_head(loose)) == 0


def test_bad_line_reported_once_and_truncation_resets(tmp_path):
    fs = FileStore(tmp_path)
    fs.experiment("1", "exp")
    run = fs.run("1", "r1", run_name="x")
    path = fs.log_metric(run, "loss", 1.0, 1000, 0)
    with open(path, "a") as f:
        f.write("garbage here\n")
    fs.log_metric(run, "loss", 0.5, 2000, 1)
    src = mlflow.open_source(path, tmp_path)
    update = src.poll()
    assert [b.step.tolist() for b in update.scalars] == [[0, 1]]
    assert len(update.problems) == 1 and "line 2" in update.problems[0].message
    path.write_text("3000 7.0 0\n")
    update = src.poll()
    assert update.resets == [str(path)] and update.scalars[0].value.tolist() == [7.0]
