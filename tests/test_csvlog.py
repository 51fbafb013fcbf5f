"""CSV readers against files written by the real writers, tailed while they grow."""

import csv
import importlib.util
import math
import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from mlmon_tui.sources.logs import csvlog
from mlmon_tui.sources.logs.registry import read_head
from mlmon_tui.store.store import Store

try:  # Lightning's own CSV writer (the one CSVLogger uses), if Lightning is installed
    from lightning.fabric.loggers.csv_logs import _ExperimentWriter
except ImportError:  # the tests that need it skip
    _ExperimentWriter = None


def lightning_writer(log_dir):
    if _ExperimentWriter is None:
        pytest.skip("Lightning not installed: its CSV writer writes these files")
    return _ExperimentWriter(str(log_dir))


def poll_into(store, src):
    update = src.poll()
    store.apply(update, src.kind)
    return update


def series(store, src, tag):
    s = store.series(src.run, tag)
    return (s.step.tolist(), s.value.tolist()) if s is not None else ([], [])


def test_lightning_sparse_rows_append_and_rewrite_with_new_header(tmp_path):
    run_dir = tmp_path / "lightning_logs" / "version_0"
    run_dir.mkdir(parents=True)
    writer = lightning_writer(run_dir)
    for step in range(3):
        writer.log_metrics({"train_loss": 1.0 - step / 10, "epoch": 0}, step=step)
    writer.save()
    path = run_dir / "metrics.csv"
    assert csvlog.probe(path, read_head(path)) == 60
    src = csvlog.open_source(path, tmp_path)
    assert src.run == "lightning_logs/version_0"
    store = Store()
    first = poll_into(store, src)
    assert not first.resets
    assert series(store, src, "train_loss") == ([0, 1, 2], [1.0, 0.9, 0.8])
    assert series(store, src, "epoch")[1] == [0, 0, 0]

    writer.log_metrics({"train_loss": 0.7, "epoch": 0}, step=3)
    writer.save()
    update = poll_into(store, src)
    assert not update.resets and [len(b) for b in update.scalars] == [1, 1]
    assert series(store, src, "train_loss")[0] == [0, 1, 2, 3]

    # a validation key appears: the writer rewrites the file with a wider header
    writer.log_metrics({"val_loss": 1.5, "epoch": 0}, step=3)
    writer.log_metrics({"lr-Adam": 0.01}, step=4)
    writer.save()
    update = poll_into(store, src)
    assert update.resets == [str(path)]
    assert series(store, src, "train_loss") == ([0, 1, 2, 3], [1.0, 0.9, 0.8, 0.7])
    assert series(store, src, "val_loss") == ([3], [1.5])
    assert series(store, src, "lr-Adam") == ([4], [0.01])
    assert series(store, src, "epoch")[0] == [0, 1, 2, 3, 3]  # the lr row has no epoch
    assert not poll_into(store, src)  # nothing new: nothing read


@pytest.mark.parametrize("with_pyyaml", [True, False])
def test_lightning_hparams_yaml_becomes_run_meta(tmp_path, monkeypatch, with_pyyaml):
    if not with_pyyaml:
        monkeypatch.setitem(sys.modules, "yaml", None)  # `import yaml` now fails
    elif importlib.util.find_spec("yaml") is None:
        pytest.skip("PyYAML not installed")
    (tmp_path / "hparams.yaml").write_text(
        "lr: 0.001\nlayers: 4\nname: resnet\nuse_amp: true\nnote: '12'\nseed: null\n")
    writer = lightning_writer(tmp_path)
    writer.log_metrics({"loss": 2.0}, step=0)
    writer.save()
    src = csvlog.open_source(tmp_path / "metrics.csv", tmp_path)
    update = src.poll()
    assert update.meta == {".": {"hparams": {"lr": 0.001, "layers": 4, "name": "resnet",
                                             "use_amp": True, "note": "12", "seed": None}}}
    assert not src.poll().meta  # said once, until the file changes


def keras_log(path, rows, sep=",", newline="\r\n"):
    """What keras.callbacks.CSVLogger writes: epoch first, sorted keys, csv lineterminator."""
    keys = sorted(rows[0][1])
    exists = path.exists()
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["epoch"] + keys, delimiter=sep, lineterminator=newline)
        if not exists:
            w.writeheader()
        for epoch, row in rows:
            w.writerow({"epoch": epoch, **row})


@pytest.mark.parametrize("sep,newline", [(",", "\r\n"), (";", "\n"), ("\t", "\r\n")])
def test_keras_csvlogger_separators_nan_inf(tmp_path, sep, newline):
    path = tmp_path / "training.log"
    rows = [(0, {"loss": 0.9, "val_loss": 1.1, "accuracy": 0.5}),
            (1, {"loss": float("nan"), "val_loss": float("inf"), "accuracy": 0.6})]
    keras_log(path, rows[:1], sep, newline)
    src = csvlog.open_source(path, tmp_path)
    assert [b.tag for b in src.poll().scalars] == ["accuracy", "loss", "val_loss"]
    keras_log(path, rows[1:], sep, newline)
    assert csvlog.probe(path, read_head(path)) > 0
    got = {b.tag: b for b in src.poll().scalars}
    assert sorted(got) == ["accuracy", "loss", "val_loss"]
    assert got["loss"].step.tolist() == [1] and math.isnan(got["loss"].value[0])
    assert got["val_loss"].value[0] == math.inf and got["accuracy"].value.tolist() == [0.6]


def test_half_written_line_waits_for_its_newline(tmp_path):
    path = tmp_path / "history.csv"
    path.write_text("epoch,loss\n0,1.5\n1,1.2")
    src = csvlog.open_source(path, tmp_path)
    got = src.poll().scalars
    assert [b.value.tolist() for b in got] == [[1.5]]
    assert not src.poll()
    with open(path, "a") as f:
        f.write("5\n2,1.")
    got = src.poll().scalars
    assert [(b.step.tolist(), b.value.tolist()) for b in got] == [([1], [1.25])]


def test_truncation_and_replacement_are_read_again_without_duplicates(tmp_path):
    path = tmp_path / "log.csv"
    path.write_text("step,loss\n" + "".join(f"{i},{i}.5\n" for i in range(5)))
    src = csvlog.open_source(path, tmp_path)
    store = Store()
    poll_into(store, src)
    assert series(store, src, "loss")[0] == [0, 1, 2, 3, 4]
    # truncated and restarted by a new training (shorter than what was read)
    path.write_text("step,loss\n0,9.0\n")
    update = poll_into(store, src)
    assert update.resets == [str(path)]
    assert series(store, src, "loss") == ([0], [9.0])
    # replaced by a new file (new inode), larger than the old one
    tmp = tmp_path / "log.csv.tmp"
    tmp.write_text("step,loss,acc\n" + "".join(f"{i},{i},0.{i}\n" for i in range(10)))
    os.replace(tmp, path)
    update = poll_into(store, src)
    assert update.resets == [str(path)]
    assert series(store, src, "loss")[0] == list(range(10))
    assert series(store, src, "acc")[1][3] == 0.3


def test_generic_csv_quotes_text_columns_time_and_row_numbers(tmp_path):
    path = tmp_path / "results.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["reward", "done", "hist", "timestamp", "host"])
        w.writerow([1.5, False, "[1.0, 2.0]", 1_700_000_000_000, "node-1"])
        w.writerow(["", True, "[]", 1_700_000_001_000, "node-1"])
        w.writerow([2.5, True, "[3.0]", 1_700_000_002_000, "node-2"])
    src = csvlog.open_source(path, tmp_path)
    got = {b.tag: b for b in src.poll().scalars}
    assert list(got) == ["reward"]  # booleans, lists, host names are no tags; time is wall
    assert got["reward"].step.tolist() == [0, 2]  # no step column: the row number
    assert got["reward"].wall.tolist() == [1_700_000_000.0, 1_700_000_002.0]


@pytest.mark.parametrize("name,text", [
    ("notes.txt", "Tried lr=0.1, it diverged.\nNext: lr 0.01\n"),
    ("hparams.yaml", "lr: 0.1\n"),
    ("debug.log", "2023-11-30 08:17:44,866 INFO MainThread:20872 [setup.py:_flush():76] x\n"),
    ("train.log", "epoch 1, loss 0.5\nepoch 2, loss 0.4\n"),
    ("data.csv", "1,2,3\n4,5,6\n"),
    ("train.csv", "id,text,label\n1,a fine film,1\n2,dull,0\n"),
    ("params.json", '{"lr": 0.1}\n'),
])
def test_probe_ignores_files_that_are_not_metric_tables(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    assert csvlog.probe(path, read_head(path)) == 0


def test_unreadable_inputs_give_one_problem_and_the_rest_goes_on(tmp_path):
    path = tmp_path / "metrics.csv"
    path.mkdir()  # something unreadable as a file stands where the log should be
    src = csvlog.open_source(path, tmp_path)
    problems = src.poll().problems
    assert len(problems) == 1 and "cannot read" in problems[0].message
    assert not src.poll().problems  # said once
    path.rmdir()
    path.write_text("step,loss\n0,1.0\n")
    assert [b.value.tolist() for b in src.poll().scalars] == [[1.0]]


def test_overlong_line_is_skipped_with_a_problem(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_bytes(b"step,loss\n0,1.0\n" + b"9" * 5000)
    src = csvlog.CsvSource(path, tmp_path)
    src._tail.max_line = 1 << 10
    update = src.poll()
    assert [b.value.tolist() for b in update.scalars] == [[1.0]]
    assert len(update.problems) == 1 and "longer than" in update.problems[0].message
    with open(path, "ab") as f:
        f.write(b"99999\n1,0.5\n")
    update = src.poll()
    assert [(b.step.tolist(), b.value.tolist()) for b in update.scalars] == [([1], [0.5])]


def test_sparse_block_matches_csv_module_reading(tmp_path):
    """The vectorised path gives exactly what csv.DictReader + float() give, cell by cell."""
    rng = np.random.default_rng(0)
    path = tmp_path / "metrics.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "step", "train_loss", "val_loss"])
        for i in range(2000):
            v = rng.random()
            w.writerow([i // 100, i, v if i % 3 else "", "" if i % 50 else ("nan" if i % 200 == 0 else v)])
    got = {b.tag: b for b in csvlog.open_source(path, tmp_path).poll().scalars}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for tag in ("epoch", "train_loss", "val_loss"):
        want = [(int(r["step"]), float(r[tag])) for r in rows if r[tag] != ""]
        have = list(zip(got[tag].step.tolist(), got[tag].value.tolist()))
        assert len(have) == len(want)
        assert all(a[0] == b[0] and (a[1] == b[1] or (math.isnan(a[1]) and math.isnan(b[1])))
                   for a, b in zip(have, want))


def test_binary_junk_is_reported_and_later_rows_still_read(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("step,loss\n0,1.0\n")
    src = csvlog.open_source(path, tmp_path)
    assert src.poll().scalars[0].value.tolist() == [1.0]
    with open(path, "ab") as f:
        f.write(bytes(range(256)) * 4 + b"\n")
        f.write(b'\x00\x01"unterminated\n')
        f.write(b"5,0.5\n")
    update = src.poll()
    assert any("binary data" in p.message for p in update.problems)
    loss = [b for b in update.scalars if b.tag == "loss"][0]
    assert loss.step[-1] == 5 and loss.value[-1] == 0.5


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=2000), max_size=12))
def test_writes_split_anywhere_give_the_same_points_as_one_read(tmp_path_factory, cuts):
    """However the writer's bytes are split between polls (mid-number, mid-CRLF, mid-header),
    the points are those of reading the finished file once."""
    rows = ["step,loss,val_loss"] + [f"{i},{i / 7:.6f},{'' if i % 4 else i / 3}" for i in range(60)]
    data = ("\r\n".join(rows) + "\r\n").encode()
    d = tmp_path_factory.mktemp("split")
    whole, live = d / "whole.csv", d / "live.csv"
    whole.write_bytes(data)
    want = {b.tag: (b.step.tolist(), b.value.tolist()) for b in csvlog.open_source(whole, d).poll().scalars}
    live.write_bytes(b"")
    src = csvlog.open_source(live, d)
    store = Store()
    at = 0
    for cut in sorted(c % (len(data) + 1) for c in cuts) + [len(data)]:
        with open(live, "ab") as f:
            f.write(data[at:cut])
        at = max(at, cut)
        store.apply(src.poll())
    got = {t: (store.series(".", t).step.tolist(), store.series(".", t).value.tolist())
           for t in store.tags(".")}
    assert got == want and len(want["loss"][0]) == 60 and len(want["val_loss"][0]) == 15


@pytest.mark.parametrize("bulk", [False, True])
def test_big_blocks_read_the_same_with_either_parser(tmp_path, monkeypatch, bulk):
    """Blocks past BULK_BYTES go to pandas when installed; both give csv.DictReader's points."""
    if bulk:
        pytest.importorskip("pandas")
        monkeypatch.setattr(csvlog, "BULK_BYTES", 1000)
    else:
        monkeypatch.setattr(csvlog, "_PANDAS", False)
    rng = np.random.default_rng(3)
    path = tmp_path / "metrics.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["epoch", "lr-Adam", "step", "train_loss", "val_loss"])
        for i in range(5000):
            w.writerow([i // 500, 1e-3 if i % 10 == 0 else "", i, rng.random(), "" if i % 100 else rng.random()])
    got = {b.tag: b for b in csvlog.open_source(path, tmp_path).poll().scalars}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for tag in ("epoch", "lr-Adam", "train_loss", "val_loss"):
        want = [(int(r["step"]), float(r[tag])) for r in rows if r[tag] != ""]
        assert got[tag].step.tolist() == [s for s, _ in want]
        np.testing.assert_allclose(got[tag].value, [v for _, v in want], rtol=1e-15)
